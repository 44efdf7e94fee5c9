import { type Ctx, owner } from "../lib/server/context.ts";
import { findQuiz, progressOf } from "../lib/quiz/progress.ts";
import { page } from "../lib/server/render.tsx";
import { scoreOf } from "../lib/quiz/scoring.ts";
import { LikeButton } from "./_components.tsx";

export const handler = {
  async GET(ctx: Ctx) {
    const quiz = findQuiz(ctx.services.bank, ctx.params.quizId);
    const data = await owner(ctx).data();
    const answers = progressOf(data, quiz)?.answers ?? {};
    const s = scoreOf(quiz, { answers });
    return page(
      ctx,
      `${quiz.title}: results`,
      <>
        <h1>{quiz.title}: results</h1>
        <p class="result-score">
          You scored <strong data-testid="result-score">{s.score}</strong>{" "}
          out of {s.total}
          {s.answered < s.total && (
            <>{" "}({s.total - s.answered} not answered yet)</>
          )}.
        </p>
        <ol class="review">
          {quiz.questions.map((q) => {
            const chosen = Object.hasOwn(answers, q.id)
              ? answers[q.id]
              : undefined;
            const state = chosen === undefined
              ? "unanswered"
              : chosen === q.correct
              ? "right"
              : "wrong";
            return (
              <li class={`card review-item ${state}`} key={q.id}>
                <p class="question-text">{q.text}</p>
                {chosen === undefined ? <p>Not answered yet.</p> : (
                  <>
                    <p>
                      Your answer: “{q.choices[chosen]}”{" "}
                      {state === "right" ? "✔ correct" : "✘ wrong"}
                    </p>
                    {state === "wrong" && (
                      <p>Correct answer: “{q.choices[q.correct]}”</p>
                    )}
                    <p class="explanation">{q.explanation}</p>
                  </>
                )}
                <LikeButton
                  ctx={ctx}
                  quiz={quiz}
                  question={q}
                  likes={data.likes}
                />
              </li>
            );
          })}
        </ol>
        <p>
          <a class="button" href={`/quiz/${quiz.id}`}>Back to the quiz</a>{" "}
          <a href="/">All quizzes</a>
        </p>
      </>,
    );
  },
};
