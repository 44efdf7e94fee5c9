import {
  formatKey,
  parseKey,
  requireAdmin,
  toJsonValue,
} from "../../lib/server/admin.ts";
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
    await requireAdmin(ctx);
    const key = keyOf(ctx);
    const entry = await ctx.kv.get(key);
    if (entry.versionstamp === null) throw new HttpError(404, "No such key");
    return json({ [formatKey(key)]: toJsonValue(entry.value) });
  },

  async DELETE(ctx: Ctx) {
    await requireAdmin(ctx);
    const key = keyOf(ctx);
    const entry = await ctx.kv.get(key);
    if (entry.versionstamp === null) throw new HttpError(404, "No such key");
    await ctx.kv.atomic().check(entry).delete(key).commit();
    ctx.store.forget?.();
    ctx.log(`admin: deleted ${formatKey(key)}`);
    return json({ [formatKey(key)]: toJsonValue(entry.value) });
  },
};
