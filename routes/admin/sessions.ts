import { listOptions } from "../../lib/base/list.ts";
import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";

export const handler = {
  async GET(ctx: Ctx) {
    const { items, cursor } = await ctx.services.sessions.list(
      listOptions(ctx.url),
    );
    return json({ sessions: items, cursor });
  },
};
