import { readJson } from "../../lib/server/body.ts";
import { type Ctx, owner } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { HttpError } from "../../lib/base/http_error.ts";
import { findQuiz, recordAnswer } from "../../lib/quiz/progress.ts";
import { parseChoice } from "../../lib/quiz/scoring.ts";

export const handler = {
  async POST(ctx: Ctx) {
    const quiz = findQuiz(ctx.services.bank, ctx.params.quizId);
    const body = await readJson(ctx.req, ctx.services.config.maxBodyBytes);
    if (typeof body.questionId !== "string") {
      throw new HttpError(400, '"questionId" must be a string');
    }
    const result = await recordAnswer(
      owner(ctx),
      quiz,
      body.questionId,
      parseChoice(body.choice),
      ctx.services.now(),
    );
    const { correct, correctChoice, correctChoiceId, feedback, explanation } =
      result;
    const { score, answered, total } = result;
    return json({
      correct,
      correctChoice,
      correctChoiceId,
      feedback,
      explanation,
      score,
      answered,
      total,
    });
  },
};
