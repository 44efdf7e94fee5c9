import { type Ctx, owner } from "../lib/server/context.ts";
import { page } from "../lib/server/render.tsx";
import { scoreOf } from "../lib/quiz/scoring.ts";

export const handler = {
  async GET(ctx: Ctx) {
    const progress = (await owner(ctx).data()).quizzes ?? {};
    // The page differs only by each quiz's score (and the visitor, which page() adds);
    // a quiz not started (the common case) costs no scoring.
    const cacheKey = ctx.services.bank.map((q) => {
      const quizProgress = progress[q.id];
      if (!quizProgress) return "";
      const { answered, score } = scoreOf(q, quizProgress);
      return `${answered}/${score}`;
    }).join(",");
    return page(
      ctx,
      "Quizzes",
      (ctx) => <Home ctx={ctx} progress={progress} />,
      { cacheKey },
    );
  },
};

function Home(
  { ctx, progress }: {
    ctx: Ctx;
    progress: NonNullable<Ctx["session"]["record"]["data"]["quizzes"]>;
  },
) {
  const user = ctx.session.record.user;
  return (
    <>
      <section class="hero">
        <h1>Multiple-choice quizzes on HTTP, cookies and sessions</h1>
        <p>
          {user
            ? (
              <>
                Logged in as <strong data-testid="user">{user}</strong>.
              </>
            )
            : (
              <>
                You are browsing anonymously; your progress lives in this
                session. <a href="/register">Register</a> to keep it.
              </>
            )}
        </p>
      </section>
      <ul class="quiz-list">
        {ctx.services.bank.map((quiz) => {
          const s = scoreOf(quiz, progress[quiz.id]);
          const done = s.answered === s.total;
          return (
            <li class="card" key={quiz.id}>
              <h2>
                <a href={`/quiz/${quiz.id}`}>{quiz.title}</a>
              </h2>
              <p>{quiz.description}</p>
              <p class="progress-line">
                <progress
                  max={s.total}
                  value={s.answered}
                  aria-label={`${quiz.title} progress`}
                />{" "}
                {s.answered === 0
                  ? `${s.total} questions`
                  : `${s.answered}/${s.total} answered, score ${s.score}`}
              </p>
              <a
                class="button"
                href={done ? `/quiz/${quiz.id}/result` : `/quiz/${quiz.id}`}
              >
                {done ? "See results" : s.answered ? "Continue" : "Start"}
              </a>
            </li>
          );
        })}
      </ul>
    </>
  );
}
