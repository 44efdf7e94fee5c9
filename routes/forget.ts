import type { Ctx } from "../lib/server/context.ts";
import { readCheckedForm } from "../lib/server/forms.ts";
import { redirect } from "../lib/server/http.ts";
import { setFlash } from "../lib/server/flash.ts";

export const handler = {
  async POST(ctx: Ctx) {
    await readCheckedForm(ctx);
    // Forgetting the session would not forget the account: never claim a deletion not done.
    if (ctx.session.record.user) {
      return redirect("/account#delete", 303, [
        setFlash(ctx, "forget-logged-in"),
      ]);
    }
    await ctx.session.destroy();
    return redirect("/", 303, [setFlash(ctx, "forgotten")]);
  },
};
