import type { Ctx } from "../../lib/server/context.ts";
import { setFlash } from "../../lib/server/flash.ts";
import { readCheckedForm } from "../../lib/server/forms.ts";
import { redirect } from "../../lib/server/http.ts";
import { HttpError } from "../../lib/base/http_error.ts";
import { isAdminSession } from "../../lib/server/admin.ts";

export const handler = {
  async POST(ctx: Ctx) {
    const form = await readCheckedForm(ctx);
    if (!isAdminSession(ctx.session, ctx.services.now())) {
      throw new HttpError(403, "Enter the admin token first");
    }
    const handle = form.handle ?? "";
    if (!/^[0-9a-f]{64}$/.test(handle)) {
      throw new HttpError(400, "A handle is 64 lowercase hex digits");
    }
    if (!await ctx.services.sessions.end(handle)) {
      throw new HttpError(404, "No such session");
    }
    ctx.services.log(`admin: ended session ${handle} (dashboard)`);
    return redirect("/admin", 303, [setFlash(ctx, "revoked")]);
  },
};
