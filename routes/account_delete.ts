import type { Ctx } from "../lib/server/context.ts";
import { deleteAccount } from "../lib/server/account_actions.ts";
import { setFlash } from "../lib/server/flash.ts";
import { readCheckedForm } from "../lib/server/forms.ts";
import { redirect } from "../lib/server/http.ts";
import { requireUser } from "../lib/server/auth_guard.ts";

export const handler = {
  async POST(ctx: Ctx) {
    await requireUser(ctx);
    const form = await readCheckedForm(ctx);
    await deleteAccount(ctx, form.password);
    return redirect("/", 303, [setFlash(ctx, "account-deleted")]);
  },
};
