import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { HttpError } from "../../lib/base/http_error.ts";

export const handler = {
  async DELETE(ctx: Ctx) {
    const { handle } = ctx.params;
    if (!/^[0-9a-f]{64}$/.test(handle)) {
      throw new HttpError(400, "A handle is 64 lowercase hex digits");
    }
    if (!await ctx.services.sessions.end(handle)) {
      throw new HttpError(404, "No such session");
    }
    ctx.services.log(`admin: ended session ${handle}`);
    return json({ ended: handle });
  },
};
