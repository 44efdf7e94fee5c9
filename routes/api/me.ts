import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { scoreOf } from "../../lib/quiz/scoring.ts";
import { ownerData } from "../../lib/accounts/users.ts";

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
