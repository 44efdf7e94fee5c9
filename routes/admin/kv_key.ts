import { formatKey, parseKey, toJsonValue } from "../../lib/server/admin.ts";
import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { HttpError } from "../../lib/base/http_error.ts";

/** The key as written in the URL path, still percent-encoded part by part. */
function keyOf(ctx: Ctx): string[] {
  const key = parseKey(ctx.url.pathname.slice("/admin/kv/".length));
  if (key.length === 0) throw new HttpError(400, "The key may not be empty");
  return key;
}

export const handler = {
  async GET(ctx: Ctx) {
    const key = keyOf(ctx);
    const entry = await ctx.services.adminKv.get(key);
    return json({ [formatKey(key)]: toJsonValue(entry.value) });
  },

  async DELETE(ctx: Ctx) {
    const key = keyOf(ctx);
    const entry = await ctx.services.adminKv.delete(key);
    return json({ [formatKey(key)]: toJsonValue(entry.value) });
  },
};
