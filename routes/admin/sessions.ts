import { listOptions, listPage, requireAdmin } from "../../lib/server/admin.ts";
import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { type SessionRecord } from "../../lib/sessions/session.ts";
import { describeSession } from "../../lib/sessions/list.ts";

export const handler = {
  async GET(ctx: Ctx) {
    await requireAdmin(ctx);
    const { entries, cursor } = await listPage<SessionRecord>(ctx.kv, {
      prefix: ["sessions"],
    }, listOptions(ctx.url));
    const sessions = entries.map((e) =>
      describeSession(e, ctx.config, ctx.now())
    ).filter((s) => s !== null);
    return json({ sessions, cursor });
  },
};
