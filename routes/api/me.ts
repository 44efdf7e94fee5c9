import { type Ctx, owner } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { scoreOf } from "../../lib/quiz/scoring.ts";

export const handler = {
  async GET(ctx: Ctx) {
    const { record, visits } = ctx.session;
    const progress = (await owner(ctx).data()).quizzes ?? {};
    const scores = Object.fromEntries(
      ctx.services.bank.filter((q) => progress[q.id]).map((
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
