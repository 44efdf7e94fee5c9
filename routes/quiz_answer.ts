import { type Ctx, owner } from "../lib/server/context.ts";
import { readCheckedForm } from "../lib/server/forms.ts";
import { redirect } from "../lib/server/http.ts";
import { HttpError } from "../lib/base/http_error.ts";
import { findQuiz, recordAnswer } from "../lib/quiz/progress.ts";
import { parseChoice } from "../lib/quiz/scoring.ts";

export const handler = {
  async POST(ctx: Ctx) {
    const quiz = findQuiz(ctx.services.bank, ctx.params.quizId);
    const form = await readCheckedForm(ctx);
    if (!form.questionId) {
      throw new HttpError(400, "The form is missing the question");
    }
    if (form.choice === undefined) {
      throw new HttpError(400, "Choose an answer, then submit");
    }
    try {
      await recordAnswer(
        owner(ctx),
        quiz,
        form.questionId,
        parseChoice(form.choice),
        ctx.services.now(),
      );
    } catch (error) {
      // A double click or a resubmitted form: the first answer stands, show it again.
      if (
        !(error instanceof HttpError && error.status === 409 &&
          "score" in error.extra)
      ) throw error;
    }
    return redirect(
      `/quiz/${quiz.id}?answered=${encodeURIComponent(form.questionId)}`,
    );
  },
};
