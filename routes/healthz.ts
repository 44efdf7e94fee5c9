import type { Ctx } from "../lib/server/context.ts";
import { json } from "../lib/server/http.ts";

export const handler = {
  async GET(ctx: Ctx) {
    if (await ctx.services.sessions.probe()) {
      return json({ ok: true }, 200, { "cache-control": "no-store" });
    }
    return json({ ok: false, error: "store unavailable" }, 503, {
      "cache-control": "no-store",
      "retry-after": "2",
    });
  },
};
