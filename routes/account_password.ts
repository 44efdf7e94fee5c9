import type { Ctx } from "../lib/server/context.ts";
import { changePassword } from "../lib/server/account_actions.ts";
import { setFlash } from "../lib/server/flash.ts";
import { readCheckedForm } from "../lib/server/forms.ts";
import { redirect } from "../lib/server/http.ts";
import { HttpError } from "../lib/base/http_error.ts";
import { requireUser } from "../lib/server/auth_guard.ts";

export const handler = {
  async POST(ctx: Ctx) {
    await requireUser(ctx);
    const form = await readCheckedForm(ctx);
    if (form.newPassword !== form.confirm) {
      throw new HttpError(400, "The new password and its confirmation differ");
    }
    await changePassword(ctx, form.password, form.newPassword);
    return redirect("/account", 303, [setFlash(ctx, "password-changed")]);
  },
};
