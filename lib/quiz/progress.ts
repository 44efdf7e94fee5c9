import type { Question, Quiz } from "./bank.ts";
import { HttpError } from "../base/http_error.ts";
import {
  type AnswerResult,
  applyAnswer,
  type QuizProgress,
} from "./scoring.ts";
import type { Owner } from "../accounts/owner.ts";
import {
  type HistoryEntry,
  MAX_HISTORY,
  MAX_LIKES,
  type OwnerData,
} from "../accounts/records.ts";
import { scoreOf } from "./scoring.ts";
import { participantOf, statsWrites } from "./stats.ts";

/** The quiz `id`, or a 404. */
export function findQuiz(bank: Quiz[], id: string | undefined): Quiz {
  const quiz = bank.find((q) => q.id === id);
  if (!quiz) throw new HttpError(404, "No such quiz");
  return quiz;
}

export function findQuestion(
  quiz: Quiz,
  questionId: string,
): Question | undefined {
  return quiz.questions.find((q) => q.id === questionId);
}

export function progressOf(
  data: OwnerData,
  quiz: Quiz,
): QuizProgress | undefined {
  const all = data.quizzes;
  // Stored as JSON; its shape is checked where values come in (lib/accounts/shapes.ts).
  return all && Object.hasOwn(all, quiz.id)
    ? all[quiz.id] as QuizProgress
    : undefined;
}

function withProgress(
  data: OwnerData,
  quizId: string,
  progress: QuizProgress | null,
): OwnerData {
  const quizzes = { ...data.quizzes };
  if (progress) quizzes[quizId] = progress;
  else delete quizzes[quizId];
  return { ...data, quizzes };
}

/** Stages what a change of `owner`'s progress on `quiz` does to the quiz's statistics. */
function stageStats(
  owner: Owner,
  quiz: Quiz,
  before: QuizProgress | undefined,
  after: QuizProgress | undefined,
): void {
  const { session } = owner;
  const participant = participantOf(session.record.user, session.handle);
  session.stage(statsWrites(quiz, [{ participant, before, after }]));
}

/**
 * Scores one answer, once: the check happens inside an atomic update (of the session, or
 * of the user record when logged in), so of concurrent submissions for one question
 * exactly one is scored and the rest get a 409. A finished quiz joins the user's history.
 * The quiz's statistics (lib/quiz/stats.ts) are staged in the same commit.
 */
export async function recordAnswer(
  owner: Owner,
  quiz: Quiz,
  questionId: string,
  choice: number | string,
  now: number,
): Promise<AnswerResult> {
  let result: AnswerResult | undefined;
  let before: QuizProgress | undefined;
  await owner.update(
    (data) => {
      before = progressOf(data, quiz);
      result = applyAnswer(
        quiz,
        before,
        questionId,
        choice,
        owner.visitor,
      );
      return withProgress(data, quiz.id, result.progress);
    },
    (user) => {
      if (result!.answered < result!.total) return user;
      const entry = {
        quizId: quiz.id,
        score: result!.score,
        total: result!.total,
        at: now,
      };
      return { ...user, history: [...user.history, entry].slice(-MAX_HISTORY) };
    },
  );
  stageStats(owner, quiz, before, result!.progress);
  return result!;
}

/** Forgets the owner's answers to `quiz`; they stop counting in its statistics. */
export async function restartQuiz(owner: Owner, quiz: Quiz): Promise<void> {
  if (!progressOf(await owner.data(), quiz)) return;
  let before: QuizProgress | undefined;
  await owner.update((data) => {
    before = progressOf(data, quiz);
    return withProgress(data, quiz.id, null);
  });
  stageStats(owner, quiz, before, undefined);
}

/** A liked question's id as kept in the session: "quizId/questionId". */
export function likeId(quiz: Quiz, question: Question): string {
  return `${quiz.id}/${question.id}`;
}

export { MAX_LIKES };

/** Resolves "quizId/questionId" against the bank, or a 404. */
export function findLiked(
  bank: Quiz[],
  item: string,
): { quiz: Quiz; question: Question } {
  const [quizId, questionId, extra] = item.split("/");
  const quiz = bank.find((q) => q.id === quizId);
  const question = quiz && extra === undefined
    ? findQuestion(quiz, questionId ?? "")
    : undefined;
  if (!quiz || !question) throw new HttpError(404, "No such question");
  return { quiz, question };
}

/** Likes or unlikes a question; returns whether it is liked afterwards. */
export async function toggleLike(
  owner: Owner,
  bank: Quiz[],
  item: string,
): Promise<boolean> {
  const { quiz, question } = findLiked(bank, item);
  const id = likeId(quiz, question);
  let liked = false;
  await owner.update((data) => {
    const likes = data.likes ?? [];
    liked = !likes.includes(id);
    if (liked && likes.length >= MAX_LIKES) {
      throw new HttpError(400, `At most ${MAX_LIKES} likes`);
    }
    const next = liked ? [...likes, id] : likes.filter((l) => l !== id);
    return { ...data, likes: next };
  });
  return liked;
}

/** History entries for the quizzes that `after` completes and `before` did not (finished anonymously). */
export function finishedBetween(
  bank: Quiz[],
  before: OwnerData,
  after: OwnerData,
  now: number,
): HistoryEntry[] {
  return bank.flatMap((quiz) => {
    const was = scoreOf(quiz, before.quizzes?.[quiz.id]);
    const then = scoreOf(quiz, after.quizzes?.[quiz.id]);
    if (was.answered === was.total || then.answered < then.total) return [];
    return [{ quizId: quiz.id, score: then.score, total: then.total, at: now }];
  });
}
