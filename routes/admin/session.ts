import { requireAdmin } from "../../lib/admin.ts";
import type { Ctx } from "../../lib/context.ts";
import { json } from "../../lib/http.ts";
import { HttpError } from "../../lib/http_error.ts";
import { endSessionByHandle } from "../../lib/user_sessions.ts";

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
