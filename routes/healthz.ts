import type { Ctx } from "../lib/server/context.ts";
import { json } from "../lib/server/http.ts";
import { withTimeout } from "../lib/base/kv_util.ts";

export const handler = {
  async GET(ctx: Ctx) {
    try {
      await withTimeout(ctx.kv.get(["hits"]), 1000);
      return json({ ok: true }, 200, { "cache-control": "no-store" });
    } catch {
      return json({ ok: false, error: "store unavailable" }, 503, {
        "cache-control": "no-store",
        "retry-after": "2",
      });
    }
  },
};
