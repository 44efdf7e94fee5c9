import { type Ctx, owner } from "../lib/server/context.ts";
import { readCheckedForm } from "../lib/server/forms.ts";
import { redirect } from "../lib/server/http.ts";
import { findQuiz, restartQuiz } from "../lib/quiz/progress.ts";

export const handler = {
  async POST(ctx: Ctx) {
    const quiz = findQuiz(ctx.services.bank, ctx.params.quizId);
    await readCheckedForm(ctx);
    await restartQuiz(owner(ctx), quiz);
    return redirect(`/quiz/${quiz.id}`);
  },
};
