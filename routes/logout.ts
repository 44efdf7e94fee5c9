import type { Ctx } from "../lib/context.ts";
import { setFlash } from "../lib/flash.ts";
import { readCheckedForm } from "../lib/forms.ts";
import { redirect } from "../lib/http.ts";

export const handler = {
  async POST(ctx: Ctx) {
    await readCheckedForm(ctx);
    await ctx.session.destroy();
    return redirect("/", 303, [setFlash(ctx, "logged-out")]);
  },
};
