import { requireUser } from "../lib/server/auth_guard.ts";
import type { Ctx } from "../lib/server/context.ts";
import { setFlash } from "../lib/server/flash.ts";
import { readCheckedForm } from "../lib/server/forms.ts";
import { redirect } from "../lib/server/http.ts";
import {
  endOtherSessions,
  endUserSession,
} from "../lib/sessions/user_sessions.ts";

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
