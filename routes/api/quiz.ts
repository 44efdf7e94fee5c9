import { publicQuiz } from "../../lib/quiz/bank.ts";
import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { findQuiz } from "../../lib/quiz/progress.ts";

export const handler = {
  GET(ctx: Ctx) {
    return json(publicQuiz(findQuiz(ctx.services.bank, ctx.params.quizId)));
  },
};
