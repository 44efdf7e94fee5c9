import type { Ctx } from "../../lib/context.ts";
import { json } from "../../lib/http.ts";
import { scoreOf } from "../../lib/scoring.ts";
import { ownerData } from "../../lib/users.ts";

export const handler = {
  async GET(ctx: Ctx) {
    const { record, visits } = ctx.session;
    const progress = (await ownerData(ctx)).quizzes ?? {};
    const scores = Object.fromEntries(
      ctx.bank.filter((q) => progress[q.id]).map((
        q,
      ) => [q.id, scoreOf(q, progress[q.id])]),
    );
    return json({
      user: record.user ? { username: record.user } : null,
      visits,
      hits: ctx.hits,
      scores,
    });
  },
};
