import type { Ctx } from "../../lib/server/context.ts";
import type { QuestionStats } from "../../lib/quiz/results.ts";
import { page } from "../../lib/server/render.tsx";
import { decimal, instructorQuiz } from "./_instructor.tsx";

/** A bar's width class: whole steps of 5 % (the CSP allows no inline styles). */
function widthClass(count: number, of: number): string {
  if (count === 0 || of === 0) return "w-0";
  return `w-${Math.max(1, Math.round((count / of) * 20)) * 5}`;
}

function Choices({ q }: { q: QuestionStats }) {
  return (
    <ul class="choice-bars">
      {q.choices.map((c) => (
        <li key={c.id} class={c.correct ? "right" : ""}>
          <span class="choice-text">
            {c.text}
            {c.correct && <strong class="key">(correct)</strong>}
          </span>
          <span class="bar" aria-hidden="true">
            <span class={`fill ${widthClass(c.count, q.answered)}`} />
          </span>
          <span class="choice-count">
            {c.count}
            {q.answered > 0 && ` (${Math.round(c.count / q.answered * 100)} %)`}
          </span>
        </li>
      ))}
    </ul>
  );
}

function Question({ q, n }: { q: QuestionStats; n: number }) {
  return (
    <section class="card question-stats" data-question={q.id}>
      <h2>
        {n}. {q.text}
      </h2>
      <dl class="indexes">
        <div>
          <dt>Answered</dt>
          <dd>{q.answered}</dd>
        </div>
        <div>
          <dt>Correct</dt>
          <dd>{q.correct}</dd>
        </div>
        <div>
          <dt>Facility</dt>
          <dd data-testid="facility">{decimal(q.facility)}</dd>
        </div>
        <div>
          <dt>Discrimination</dt>
          <dd data-testid="discrimination">{decimal(q.discrimination)}</dd>
        </div>
      </dl>
      <Choices q={q} />
    </section>
  );
}

export const handler = {
  async GET(ctx: Ctx) {
    const quiz = instructorQuiz(ctx);
    const stats = await ctx.services.results.stats(quiz);
    const base = `/admin/quizzes/${quiz.id}`;
    return page(
      ctx,
      `${quiz.title}: statistics`,
      <>
        <h1>{quiz.title}: statistics</h1>
        <p>
          Participants:{" "}
          <strong data-testid="participants">
            {stats.participants}
          </strong>{" "}
          · mean score:{" "}
          <strong>
            {decimal(stats.meanScore)} / {quiz.questions.length}
          </strong>
        </p>
        <p class="exports">
          <a href="/admin/quizzes">All quizzes</a> ·{" "}
          <a href={`${base}/results.csv`} download>results.csv</a> ·{" "}
          <a href={`${base}/stats.json`}>stats.json</a>
        </p>
        <p class="muted">
          Facility: the share of answers that were right. Discrimination: the
          point-biserial correlation between getting the question right and the
          participant's score (from −1 to 1; above 0.3 separates strong from
          weak participants well).
        </p>
        {stats.questions.map((q, i) => <Question key={q.id} q={q} n={i + 1} />)}
      </>,
    );
  },
};
