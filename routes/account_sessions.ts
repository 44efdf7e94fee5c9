import { requireUser } from "../lib/auth_guard.ts";
import type { Ctx } from "../lib/context.ts";
import { setFlash } from "../lib/flash.ts";
import { readCheckedForm } from "../lib/forms.ts";
import { redirect } from "../lib/http.ts";
import { endOtherSessions, endUserSession } from "../lib/user_sessions.ts";

export const handler = {
  async POST(ctx: Ctx) {
    const user = await requireUser(ctx);
    const form = await readCheckedForm(ctx);
    if (form.end === "others") {
      await endOtherSessions(ctx, user.username);
      return redirect("/account", 303, [setFlash(ctx, "sessions-ended")]);
    }
    await endUserSession(ctx, user.username, form.end ?? "");
    return redirect("/account", 303, [setFlash(ctx, "session-ended")]);
  },
};
