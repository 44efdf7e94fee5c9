import { requireUser } from "../lib/server/auth_guard.ts";
import type { Ctx } from "../lib/server/context.ts";
import { setFlash } from "../lib/server/flash.ts";
import { readCheckedForm } from "../lib/server/forms.ts";
import { redirect } from "../lib/server/http.ts";

export const handler = {
  async POST(ctx: Ctx) {
    const user = await requireUser(ctx);
    const form = await readCheckedForm(ctx);
    if (form.end === "others") {
      await ctx.services.sessions.endOthers(ctx.session);
      return redirect("/account", 303, [setFlash(ctx, "sessions-ended")]);
    }
    await ctx.services.sessions.endOfUser(user.username, form.end ?? "");
    return redirect("/account", 303, [setFlash(ctx, "session-ended")]);
  },
};
