import type { Ctx } from "../lib/server/context.ts";
import { setFlash } from "../lib/server/flash.ts";
import { readCheckedForm } from "../lib/server/forms.ts";
import { redirect } from "../lib/server/http.ts";

export const handler = {
  async POST(ctx: Ctx) {
    await readCheckedForm(ctx);
    await ctx.session.destroy();
    return redirect("/", 303, [setFlash(ctx, "logged-out")]);
  },
};
