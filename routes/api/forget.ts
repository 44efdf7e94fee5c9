import { readJson } from "../../lib/server/body.ts";
import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";

/** Also serves POST /api/logout: ending the session is the same act. */
export const handler = {
  async POST(ctx: Ctx) {
    await readJson(ctx.req, ctx.services.config.maxBodyBytes, true);
    await ctx.session.destroy();
    return json({ ok: true });
  },
};
