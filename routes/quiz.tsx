import {
  type PublicQuiz,
  publicQuiz,
  type Question,
  type Quiz,
} from "../lib/quiz/bank.ts";
import { type Ctx, owner } from "../lib/server/context.ts";
import { Island } from "../lib/server/island.tsx";
import {
  findQuestion,
  findQuiz,
  likeId,
  progressOf,
} from "../lib/quiz/progress.ts";
import { page } from "../lib/server/render.tsx";
import {
  answerOf,
  currentQuestion,
  type Score,
  scoreOf,
  type StoredAnswer,
} from "../lib/quiz/scoring.ts";
import QuestionCard from "../islands/QuestionCard.tsx";
import { LikeButton } from "./_components.tsx";

export const handler = {
  async GET(ctx: Ctx) {
    const quiz = findQuiz(ctx.services.bank, ctx.params.quizId);
    const data = await owner(ctx).data();
    const progress = progressOf(data, quiz);
    const answers = progress?.answers ?? {};
    const last = lastAnswered(ctx, quiz, answers);
    const lastAnswer = last && answerOf(progress, last);
    const visitor = owner(ctx).visitor;
    // In the order this visitor sees them (shuffled per visitor when the quiz asks).
    const shown = publicQuiz(quiz, visitor).questions;
    const current = currentQuestion(quiz, progress);
    const s = scoreOf(quiz, progress);
    const likedIds = likedIdsOf(quiz, data.likes);
    return page(
      ctx,
      quiz.title,
      (ctx) => (
        <>
          <h1>{quiz.title}</h1>
          {last && lastAnswer && (
            <LastAnswer
              ctx={ctx}
              quiz={quiz}
              question={last}
              answer={lastAnswer}
              likes={data.likes}
            />
          )}
          {current
            ? (
              <QuestionIsland
                ctx={ctx}
                quiz={quiz}
                shown={shown}
                answeredIds={Object.keys(answers)}
                current={current}
                score={s.score}
                likedIds={likedIds}
              />
            )
            : <AllAnswered quiz={quiz} score={s} />}
          <p class="restart-form">
            <a href={`/quiz/${quiz.id}/restart`}>Start this quiz over</a>
          </p>
        </>
      ),
      {
        islands: current !== null,
        // Everything the page shows besides the visitor's counts and form token.
        cacheKey: JSON.stringify([
          answers,
          last?.id ?? null,
          likedIds,
          quiz.shuffle ? visitor : null,
        ]),
      },
    );
  },
};

/** After a form answer (303 here with ?answered=<id>), the question to show how it went. */
function lastAnswered(
  ctx: Ctx,
  quiz: Quiz,
  answers: Record<string, unknown>,
): Question | undefined {
  const lastId = ctx.url.searchParams.get("answered");
  return lastId && Object.hasOwn(answers, lastId)
    ? findQuestion(quiz, lastId)
    : undefined;
}

function likedIdsOf(quiz: Quiz, likes: string[] | undefined): string[] {
  return quiz.questions.filter((q) => (likes ?? []).includes(likeId(quiz, q)))
    .map((q) => q.id);
}

// The island draws the progress bar, score and like button, so they follow the question shown.
function QuestionIsland(
  { ctx, quiz, shown, answeredIds, current, score, likedIds }: {
    ctx: Ctx;
    quiz: Quiz;
    shown: PublicQuiz["questions"];
    answeredIds: string[];
    current: Question;
    score: number;
    likedIds: string[];
  },
) {
  return (
    <Island
      name="QuestionCard"
      component={QuestionCard}
      props={{
        quizId: quiz.id,
        csrf: ctx.session.record.csrf,
        questions: shown.map(({ id, text, choices }) => ({
          id,
          text,
          choices,
        })),
        answeredIds,
        currentId: current.id,
        score,
        likedIds,
      }}
    />
  );
}

function AllAnswered({ quiz, score: s }: { quiz: Quiz; score: Score }) {
  return (
    <section class="card">
      <div class="progress-line">
        <progress
          max={s.total}
          value={s.answered}
          aria-label="Questions answered"
        />
        <p class="question-meta">
          {s.answered}/{s.total} answered · score{" "}
          <strong data-testid="page-score">{s.score}</strong>
        </p>
      </div>
      <p>You have answered every question.</p>
      <p>
        <a class="button" href={`/quiz/${quiz.id}/result`}>
          See your results
        </a>
      </p>
    </section>
  );
}

function LastAnswer(
  { ctx, quiz, question, answer, likes }: {
    ctx: Ctx;
    quiz: Quiz;
    question: Question;
    answer: StoredAnswer;
    likes: string[] | undefined;
  },
) {
  const right = answer.correct;
  const at = question.choiceIds.indexOf(answer.choice);
  const feedback = at >= 0 ? question.choiceFeedback?.[at] : null;
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
          : `You answered “${answer.text}”; the answer is`}{" "}
        “{question.choices[question.correct]}”.
      </p>
      {feedback && <p class="choice-feedback">{feedback}</p>}
      <p>{question.explanation}</p>
      {/* Its own like form: the one under the card is for the next question. */}
      <LikeButton
        ctx={ctx}
        quiz={quiz}
        question={question}
        likes={likes}
        back={`/quiz/${quiz.id}?answered=${encodeURIComponent(question.id)}`}
      />
    </section>
  );
}
