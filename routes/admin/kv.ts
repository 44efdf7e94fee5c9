import {
  formatKey,
  fromJsonValue,
  parseKey,
  toJsonValue,
} from "../../lib/server/admin.ts";
import { listOptions } from "../../lib/base/list.ts";
import { readJson } from "../../lib/server/body.ts";
import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { HttpError } from "../../lib/base/http_error.ts";

export const handler = {
  async GET(ctx: Ctx) {
    const prefix = parseKey(ctx.url.searchParams.get("prefix") ?? "");
    const { items, cursor } = await ctx.services.adminKv.keys(
      prefix,
      listOptions(ctx.url),
    );
    return json({ keys: items.map(formatKey), cursor });
  },

  async POST(ctx: Ctx) {
    const body = await readJson(ctx.req, ctx.services.config.maxBodyBytes);
    const names = Object.keys(body);
    if (names.length !== 1) {
      throw new HttpError(400, 'Send exactly one {"<key>": value}');
    }
    const key = parseKey(names[0]);
    if (key.length === 0) throw new HttpError(400, "The key may not be empty");
    const value = fromJsonValue(body[names[0]]);
    await ctx.services.adminKv.set(key, value);
    return json({ [formatKey(key)]: toJsonValue(value) });
  },
};
