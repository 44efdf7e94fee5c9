/**
 * Instructor statistics, kept as answers land. Every change of a participant's answers
 * (an answer, a restart, a login that carries anonymous answers over, an account deletion)
 * becomes KV `sum`s and one row `set` or `delete`, staged in the request's one commit, so
 * the counts are exact under any concurrency: the commit that stores the answer stores its
 * counts, and a request that runs again stages them afresh.
 *
 * Keys:
 * - `["stats", quizId, questionId, "answered" | "correct"]`, and
 *   `["stats", quizId, questionId, "choice", choiceId]`: counters per question;
 * - `["quiz_stats", quizId, "participants" | "points"]`: rows, and the sum of their scores;
 * - `["results", quizId, participantKey]`: one {@link ResultRow} per participant.
 *
 * Counters are KV u64s; a decrement is a sum of 2^64 - n (KV sums wrap around).
 *
 * @module
 */
import type { Session } from "../sessions/mod.ts";
import type { OwnerData } from "../accounts/records.ts";
import type { Quiz } from "./bank.ts";
import { answerOf, type QuizProgress, scoreOf } from "./scoring.ts";

/** One write staged in a request's commit (`Session.stage`). */
export type BlindWrite = Parameters<Session["stage"]>[0][number];

export type QuestionCounter = "answered" | "correct";
export type QuizCounter = "participants" | "points";

export const questionStatsKey = (
  quizId: string,
  questionId: string,
  what: QuestionCounter,
) => ["stats", quizId, questionId, what] as const;

export const choiceStatsKey = (
  quizId: string,
  questionId: string,
  choiceId: string,
) => ["stats", quizId, questionId, "choice", choiceId] as const;

export const quizStatsKey = (quizId: string, what: QuizCounter) =>
  ["quiz_stats", quizId, what] as const;

export const resultKey = (quizId: string, participantKey: string) =>
  ["results", quizId, participantKey] as const;

/** One participant's answers to one quiz, as the CSV and the discrimination index read them. */
export interface ResultRow {
  /** The username, or `anonymous-<first 8 hex of the session handle>`. */
  participant: string;
  /** Question id -> the chosen choice's text. */
  answers: Record<string, string>;
  /** Ids of the questions answered correctly. */
  correct: string[];
  score: number;
  answered: number;
}

/** Who answers: `key` names the row, `shown` is what instructors see. */
export interface Participant {
  key: string;
  shown: string;
}

/**
 * The participant a session acts as. Anonymous rows are keyed by the whole handle (74
 * characters, longer than any username, so the two never meet) and shown by its first 8.
 */
export function participantOf(
  user: string | null,
  handle: string,
): Participant {
  if (user) return { key: user, shown: user };
  return {
    key: `anonymous-${handle}`,
    shown: `anonymous-${handle.slice(0, 8)}`,
  };
}

/** A participant's answers to one quiz before and after a change. */
export interface Change {
  participant: Participant;
  before: QuizProgress | undefined;
  after: QuizProgress | undefined;
}

const U64 = 2n ** 64n;

/** Adds `d` to the delta kept for `key`. */
function bump(deltas: Map<string, number>, key: readonly string[], d: number) {
  const id = JSON.stringify(key);
  deltas.set(id, (deltas.get(id) ?? 0) + d);
}

function answerDeltas(
  deltas: Map<string, number>,
  quiz: Quiz,
  { before, after }: Change,
): void {
  for (const question of quiz.questions) {
    const was = answerOf(before, question);
    const is = answerOf(after, question);
    if (was?.choice === is?.choice && was?.correct === is?.correct) continue;
    for (const [answer, d] of [[was, -1], [is, 1]] as const) {
      if (!answer) continue;
      bump(deltas, questionStatsKey(quiz.id, question.id, "answered"), d);
      if (answer.correct) {
        bump(deltas, questionStatsKey(quiz.id, question.id, "correct"), d);
      }
      bump(deltas, choiceStatsKey(quiz.id, question.id, answer.choice), d);
    }
  }
}

/** The row `progress` makes, or null when it answers none of the quiz's questions. */
export function rowOf(
  quiz: Quiz,
  participant: Participant,
  progress: QuizProgress | undefined,
): ResultRow | null {
  const { score, answered } = scoreOf(quiz, progress);
  if (answered === 0) return null;
  const answers: Record<string, string> = {};
  const correct: string[] = [];
  for (const question of quiz.questions) {
    const answer = answerOf(progress, question);
    if (!answer) continue;
    answers[question.id] = answer.text;
    if (answer.correct) correct.push(question.id);
  }
  return { participant: participant.shown, answers, correct, score, answered };
}

function rowWrites(
  deltas: Map<string, number>,
  quiz: Quiz,
  { participant, before, after }: Change,
): BlindWrite[] {
  const was = rowOf(quiz, participant, before);
  const is = rowOf(quiz, participant, after);
  bump(
    deltas,
    quizStatsKey(quiz.id, "participants"),
    (is ? 1 : 0) - (was ? 1 : 0),
  );
  bump(
    deltas,
    quizStatsKey(quiz.id, "points"),
    (is?.score ?? 0) - (was?.score ?? 0),
  );
  const key = resultKey(quiz.id, participant.key);
  if (is) return [{ kind: "set", key, value: is }];
  return was ? [{ kind: "delete", key }] : [];
}

/**
 * The writes that carry `changes` into the statistics of `quiz`: rows set or deleted and the
 * counters' net changes (a change that cancels out writes nothing). With `keepTally` the
 * per-question counts stay as they are (an account deletion: its answers still count).
 */
export function statsWrites(
  quiz: Quiz,
  changes: Change[],
  keepTally = false,
): BlindWrite[] {
  const deltas = new Map<string, number>();
  const writes: BlindWrite[] = [];
  for (const change of changes) {
    if (!keepTally) answerDeltas(deltas, quiz, change);
    writes.push(...rowWrites(deltas, quiz, change));
  }
  for (const [id, d] of deltas) {
    if (d === 0) continue;
    const key = JSON.parse(id) as string[];
    writes.push({ kind: "sum", key, n: ((BigInt(d) % U64) + U64) % U64 });
  }
  return writes;
}

const progressIn = (data: OwnerData, quizId: string) =>
  data.quizzes && Object.hasOwn(data.quizzes, quizId)
    ? data.quizzes[quizId] as QuizProgress
    : undefined;

/**
 * At login, the anonymous participant's rows move into the user's: the anonymous row goes,
 * the user's row is what the merged progress holds, and the anonymous answers that the
 * merge drops (the user had answered the question already) stop counting.
 */
export function loginStatsWrites(
  bank: Quiz[],
  handle: string,
  username: string,
  user: OwnerData,
  anonymous: OwnerData,
  merged: OwnerData,
): BlindWrite[] {
  const anon = participantOf(null, handle);
  const named = participantOf(username, handle);
  return bank.flatMap((quiz) => {
    const theirs = progressIn(anonymous, quiz.id);
    if (!theirs) return [];
    return statsWrites(quiz, [
      { participant: anon, before: theirs, after: undefined },
      {
        participant: named,
        before: progressIn(user, quiz.id),
        after: progressIn(merged, quiz.id),
      },
    ]);
  });
}

/**
 * At account deletion, the user's rows go (and with them their part of the participants
 * and the mean score); the per-question counts keep their answers, as an anonymous tally.
 */
export function deletionStatsWrites(
  bank: Quiz[],
  username: string,
  data: OwnerData,
): BlindWrite[] {
  const participant = participantOf(username, "");
  return bank.flatMap((quiz) =>
    statsWrites(quiz, [{
      participant,
      before: progressIn(data, quiz.id),
      after: undefined,
    }], true)
  );
}
