import {
  formatKey,
  fromJsonValue,
  listOptions,
  listPage,
  parseKey,
  requireAdmin,
  toJsonValue,
} from "../../lib/server/admin.ts";
import { readJson } from "../../lib/server/body.ts";
import type { Ctx } from "../../lib/server/context.ts";
import { checkStoredShape } from "../../lib/server/kv_shapes.ts";
import { json } from "../../lib/server/http.ts";
import { HttpError } from "../../lib/base/http_error.ts";

export const handler = {
  async GET(ctx: Ctx) {
    await requireAdmin(ctx);
    const prefix = parseKey(ctx.url.searchParams.get("prefix") ?? "");
    const { entries, cursor } = await listPage(
      ctx.kv,
      { prefix },
      listOptions(ctx.url),
    );
    return json({ keys: entries.map((e) => formatKey(e.key)), cursor });
  },

  async POST(ctx: Ctx) {
    await requireAdmin(ctx);
    const body = await readJson(ctx.req, ctx.config.maxBodyBytes);
    const names = Object.keys(body);
    if (names.length !== 1) {
      throw new HttpError(400, 'Send exactly one {"<key>": value}');
    }
    const key = parseKey(names[0]);
    if (key.length === 0) throw new HttpError(400, "The key may not be empty");
    const value = fromJsonValue(body[names[0]]);
    checkStoredShape(key, value, formatKey(key));
    try {
      await ctx.kv.set(key, value);
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError(
        400,
        `The store refused this key or value: ${(error as Error).message}`,
      );
    }
    ctx.store.forget?.();
    ctx.log(`admin: set ${formatKey(key)}`);
    return json({
      [formatKey(key)]: toJsonValue(value),
    });
  },
};
