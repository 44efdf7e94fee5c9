import { requireAdmin } from "../../lib/server/admin.ts";
import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { HttpError } from "../../lib/base/http_error.ts";
import { endSessionByHandle } from "../../lib/sessions/user_sessions.ts";

export const handler = {
  async DELETE(ctx: Ctx) {
    await requireAdmin(ctx);
    const { handle } = ctx.params;
    if (!/^[0-9a-f]{64}$/.test(handle)) {
      throw new HttpError(400, "A handle is 64 lowercase hex digits");
    }
    if (!await endSessionByHandle(ctx, handle)) {
      throw new HttpError(404, "No such session");
    }
    ctx.log(`admin: ended session ${handle}`);
    return json({ ended: handle });
  },
};
