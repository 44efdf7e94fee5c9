import type { Ctx } from "../../lib/context.ts";
import { json } from "../../lib/http.ts";
import { scoreOf } from "../../lib/scoring.ts";

export const handler = {
  GET(ctx: Ctx) {
    const { record, visits } = ctx.session;
    const progress = record.data.quizzes ?? {};
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
