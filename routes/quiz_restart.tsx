import { type Ctx, owner } from "../lib/server/context.ts";
import { readCheckedForm } from "../lib/server/forms.ts";
import { redirect } from "../lib/server/http.ts";
import { CsrfField } from "../lib/server/layout.tsx";
import { page } from "../lib/server/render.tsx";
import { findQuiz, restartQuiz } from "../lib/quiz/progress.ts";

export const handler = {
  /** Asks first: starting over forgets every answer of the quiz. */
  GET(ctx: Ctx) {
    const quiz = findQuiz(ctx.services.bank, ctx.params.quizId);
    return page(
      ctx,
      `Start ${quiz.title} over?`,
      <section class="card">
        <h1>Start {quiz.title} over?</h1>
        <p>Your answers to this quiz will be forgotten.</p>
        <form method="post" action={`/quiz/${quiz.id}/restart`}>
          <CsrfField token={ctx.session.record.csrf} />
          <button type="submit" class="button danger">
            Yes, start over
          </button>{" "}
          <a href={`/quiz/${quiz.id}`}>No, go back</a>
        </form>
      </section>,
    );
  },

  async POST(ctx: Ctx) {
    const quiz = findQuiz(ctx.services.bank, ctx.params.quizId);
    await readCheckedForm(ctx);
    await restartQuiz(owner(ctx), quiz);
    return redirect(`/quiz/${quiz.id}`);
  },
};
