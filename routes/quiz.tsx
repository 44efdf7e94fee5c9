import type { Question, Quiz } from "../lib/bank.ts";
import type { Ctx } from "../lib/context.ts";
import { Island } from "../lib/island.tsx";
import { CsrfField } from "../lib/layout.tsx";
import { findQuestion, findQuiz, likeId, progressOf } from "../lib/quiz.ts";
import { page } from "../lib/render.tsx";
import { currentQuestion, scoreOf } from "../lib/scoring.ts";
import QuestionCard from "../islands/QuestionCard.tsx";

export const handler = {
  GET(ctx: Ctx) {
    const quiz = findQuiz(ctx);
    const progress = progressOf(ctx.session.record, quiz);
    const answers = progress?.answers ?? {};
    // After a form answer (303 here with ?answered=<id>), show how it went.
    const lastId = ctx.url.searchParams.get("answered");
    const last = lastId && Object.hasOwn(answers, lastId)
      ? findQuestion(quiz, lastId)
      : undefined;
    const current = currentQuestion(quiz, progress);
    const s = scoreOf(quiz, progress);
    return page(
      ctx,
      quiz.title,
      <>
        <h1>{quiz.title}</h1>
        <p class="progress-line">
          <progress max={s.total} value={s.answered} aria-label="Progress" />
          {" "}
          {s.answered}/{s.total} answered · score{" "}
          <strong data-testid="page-score">{s.score}</strong>
        </p>
        {last && <LastAnswer question={last} chosen={answers[last.id]} />}
        {current
          ? (
            <>
              <Island
                name="QuestionCard"
                component={QuestionCard}
                props={{
                  quizId: quiz.id,
                  csrf: ctx.session.record.csrf,
                  questions: quiz.questions.map(({ id, text, choices }) => ({
                    id,
                    text,
                    choices,
                  })),
                  answeredIds: Object.keys(answers),
                  currentId: current.id,
                  score: s.score,
                }}
              />
              <LikeButton ctx={ctx} quiz={quiz} question={current} />
            </>
          )
          : (
            <p class="card">
              You have answered every question.{" "}
              <a href={`/quiz/${quiz.id}/result`}>See your results</a>.
            </p>
          )}
        <form method="post" action={`/quiz/${quiz.id}/restart`} class="inline">
          <CsrfField token={ctx.session.record.csrf} />
          <button type="submit" class="link">Start this quiz over</button>
        </form>
      </>,
      { islands: current !== null },
    );
  },
};

function LastAnswer(
  { question, chosen }: { question: Question; chosen: number },
) {
  const right = chosen === question.correct;
  return (
    <section
      class={`feedback card ${right ? "right" : "wrong"}`}
      role="status"
      data-testid="last-answer"
    >
      <p>
        <strong>{right ? "Correct!" : "Not quite."}</strong> {question.text}
      </p>
      <p>
        {right
          ? "You answered"
          : `You answered “${question.choices[chosen]}”; the answer is`}{" "}
        “{question.choices[question.correct]}”.
      </p>
      <p>{question.explanation}</p>
    </section>
  );
}

/** Like/unlike for a question: a plain form, so it works without JavaScript. */
export function LikeButton(
  { ctx, quiz, question }: { ctx: Ctx; quiz: Quiz; question: Question },
) {
  const id = likeId(quiz, question);
  const liked = (ctx.session.record.data.likes ?? []).includes(id);
  return (
    <form method="post" action="/likes" class="inline like-form">
      <CsrfField token={ctx.session.record.csrf} />
      <input type="hidden" name="item" value={id} />
      <input type="hidden" name="back" value={ctx.url.pathname} />
      <button
        type="submit"
        class="link"
        aria-pressed={liked ? "true" : "false"}
      >
        {liked ? "♥ Liked (unlike)" : "♡ Like this question"}
      </button>
    </form>
  );
}
