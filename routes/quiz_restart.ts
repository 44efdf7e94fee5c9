import type { Ctx } from "../lib/context.ts";
import { readCheckedForm } from "../lib/forms.ts";
import { redirect } from "../lib/http.ts";
import { findQuiz, restartQuiz } from "../lib/quiz.ts";

export const handler = {
  async POST(ctx: Ctx) {
    const quiz = findQuiz(ctx);
    await readCheckedForm(ctx);
    await restartQuiz(ctx, quiz);
    return redirect(`/quiz/${quiz.id}`);
  },
};
