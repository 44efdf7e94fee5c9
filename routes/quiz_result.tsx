import { type Ctx, owner } from "../lib/server/context.ts";
import { findQuiz, progressOf } from "../lib/quiz/progress.ts";
import { page } from "../lib/server/render.tsx";
import {
  answerOf,
  removedAnswers,
  scoreOf,
  type StoredAnswer,
} from "../lib/quiz/scoring.ts";
import type { Question } from "../lib/quiz/bank.ts";
import { LikeButton } from "./_components.tsx";

export const handler = {
  async GET(ctx: Ctx) {
    const quiz = findQuiz(ctx.services.bank, ctx.params.quizId);
    const data = await owner(ctx).data();
    const progress = progressOf(data, quiz);
    const s = scoreOf(quiz, progress);
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
          {quiz.questions.map((q) => (
            <li
              class={`card review-item ${stateOf(answerOf(progress, q))}`}
              key={q.id}
            >
              <Review question={q} answer={answerOf(progress, q)} />
              <LikeButton
                ctx={ctx}
                quiz={quiz}
                question={q}
                likes={data.likes}
              />
            </li>
          ))}
          {removedAnswers(quiz, progress).map(([id, a]) => (
            <li class="card review-item removed" key={id}>
              <p class="question-text">
                A question since removed from the quiz
              </p>
              <p>
                Your answer {a.correct ? "was right" : "was wrong"}{" "}
                — this question has been removed from the quiz, so it no longer
                counts.
              </p>
            </li>
          ))}
        </ol>
        <p>
          <a class="button" href={`/quiz/${quiz.id}`}>Back to the quiz</a>{" "}
          <a href="/">All quizzes</a>
        </p>
      </>,
    );
  },
};

const stateOf = (answer: StoredAnswer | undefined) =>
  answer === undefined ? "unanswered" : answer.correct ? "right" : "wrong";

/** One question of the review: what was chosen and earned, as recorded. */
function Review(
  { question, answer }: { question: Question; answer?: StoredAnswer },
) {
  if (!answer) {
    return (
      <>
        <p class="question-text">{question.text}</p>
        <p>Not answered yet.</p>
      </>
    );
  }
  const at = question.choiceIds.indexOf(answer.choice);
  const feedback = at >= 0 ? question.choiceFeedback?.[at] : null;
  const correctNow = question.choiceIds[question.correct];
  return (
    <>
      <p class="question-text">{question.text}</p>
      <p>
        Your answer: “{answer.text}” {answer.correct ? "✔ correct" : "✘ wrong"}
      </p>
      {feedback && <p class="choice-feedback">{feedback}</p>}
      {answer.choice !== correctNow && (
        <p>Correct answer: “{question.choices[question.correct]}”</p>
      )}
      <p class="explanation">{question.explanation}</p>
    </>
  );
}
