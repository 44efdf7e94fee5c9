import type { Ctx } from "../../lib/server/context.ts";
import { setFlash } from "../../lib/server/flash.ts";
import { readCheckedForm } from "../../lib/server/forms.ts";
import { redirect } from "../../lib/server/http.ts";
import { HttpError } from "../../lib/base/http_error.ts";
import { endSessionByHandle } from "../../lib/sessions/user_sessions.ts";
import { adminEnabled, isAdminSession } from "./dashboard.tsx";

export const handler = {
  async POST(ctx: Ctx) {
    adminEnabled(ctx);
    const form = await readCheckedForm(ctx);
    if (!isAdminSession(ctx)) {
      throw new HttpError(403, "Enter the admin token first");
    }
    const handle = form.handle ?? "";
    if (!/^[0-9a-f]{64}$/.test(handle)) {
      throw new HttpError(400, "A handle is 64 lowercase hex digits");
    }
    if (!await endSessionByHandle(ctx, handle)) {
      throw new HttpError(404, "No such session");
    }
    ctx.log(`admin: ended session ${handle} (dashboard)`);
    return redirect("/admin", 303, [setFlash(ctx, "revoked")]);
  },
};
