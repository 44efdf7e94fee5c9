import { publicQuiz } from "../../lib/quiz/bank.ts";
import { type Ctx, owner } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { findQuiz } from "../../lib/quiz/progress.ts";

export const handler = {
  GET(ctx: Ctx) {
    const quiz = findQuiz(ctx.services.bank, ctx.params.quizId);
    return json(publicQuiz(quiz, owner(ctx).visitor));
  },
};
