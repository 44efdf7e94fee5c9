/**
 * Scoring, by stable ids. An answer is kept with what the visitor saw and earned: the chosen
 * choice's id and text, and whether it was right. So editing a quiz file
 * (reordering choices, adding or removing questions, changing other questions) never changes a
 * past answer or score:
 * - a removed question drops out of the score and shows as "removed" in the review;
 * - a question whose correct choice changed keeps the outcome recorded when it was answered.
 * Answers stored before ids existed (a chosen position) are read as the choice now at that
 * position, and written back by id with the next answer.
 */
import type { Question, Quiz } from "./bank.ts";
import { choiceOrder } from "./bank.ts";
import { HttpError } from "../base/http_error.ts";

/** One answer as kept. */
export interface StoredAnswer {
  /** The chosen choice's id. */
  choice: string;
  /** The chosen choice's text, as shown ("" for a removed question's). */
  text: string;
  /** The outcome when it was answered. */
  correct: boolean;
}

/**
 * How an answer is written: `[choiceId, 1 (right) or 0]`, compact because in cookie mode the
 * whole progress travels in a cookie of at most 4 KB. The text shown is the choice's with
 * that id (an id is derived from its text, so the same id is the same text).
 */
export type KeptAnswer = [string, 0 | 1];

function kept(a: StoredAnswer): KeptAnswer {
  return [a.choice, a.correct ? 1 : 0];
}

/** An answer as read back: the kept tuple, or an object of an earlier form. */
function fromKept(raw: unknown): StoredAnswer | undefined {
  if (Array.isArray(raw)) {
    const [choice, right, text] = raw;
    return typeof choice === "string"
      ? {
        choice,
        text: typeof text === "string" ? text : "",
        correct: right === 1,
      }
      : undefined;
  }
  if (typeof raw === "object" && raw !== null) {
    const a = raw as StoredAnswer;
    return typeof a.choice === "string" && typeof a.text === "string"
      ? { choice: a.choice, text: a.text, correct: a.correct === true }
      : undefined;
  }
  return undefined;
}

/**
 * A visitor's progress on one quiz, stored by the caller as JSON: question id -> answer
 * (a number: a position, as stored before ids). Questions may be answered in any order.
 */
export interface QuizProgress {
  answers: Record<string, unknown>;
}

export interface Score {
  /** Correct answers among the questions answered. */
  score: number;
  answered: number;
  /** Questions in the quiz. */
  total: number;
}

export interface AnswerResult extends Score {
  /** The new progress to store; the input progress is left untouched. */
  progress: QuizProgress;
  correct: boolean;
  /** The correct choice's position in the order this visitor sees, and its id. */
  correctChoice: number;
  correctChoiceId: string;
  /** The chosen choice's own feedback, if the quiz file gives one. */
  feedback: string | null;
  explanation: string;
}

/** `question`'s answer as a stored answer, reading a position stored before ids. */
function asStored(
  question: Question,
  answer: unknown,
): StoredAnswer | undefined {
  if (typeof answer !== "number") {
    const a = fromKept(answer);
    if (!a || a.text) return a;
    // The text of the choice with that id; an edited choice has another id.
    const at = question.choiceIds.indexOf(a.choice);
    return {
      ...a,
      text: at >= 0 ? question.choices[at] : "(a choice since changed)",
    };
  }
  if (!Number.isInteger(answer) || answer < 0) return undefined;
  if (answer >= question.choices.length) return undefined;
  return {
    choice: question.choiceIds[answer],
    text: question.choices[answer],
    correct: answer === question.correct,
  };
}

// Own properties only: a question id such as "constructor" must not match Object.prototype.
function rawAnswer(progress: QuizProgress | undefined, questionId: string) {
  const answers = progress?.answers;
  return answers && Object.hasOwn(answers, questionId)
    ? answers[questionId]
    : undefined;
}

/** The answer kept for `question`, if any. */
export function answerOf(
  progress: QuizProgress | undefined,
  question: Question,
): StoredAnswer | undefined {
  const raw = rawAnswer(progress, question.id);
  return raw === undefined ? undefined : asStored(question, raw);
}

/** The score so far. Answers to questions no longer in the quiz are not counted. */
export function scoreOf(quiz: Quiz, progress: QuizProgress | undefined): Score {
  let score = 0;
  let answered = 0;
  for (const question of quiz.questions) {
    const answer = answerOf(progress, question);
    if (answer === undefined) continue;
    answered++;
    if (answer.correct) score++;
  }
  return { score, answered, total: quiz.questions.length };
}

/** Answers kept for questions the quiz no longer has, with their question ids. */
export function removedAnswers(
  quiz: Quiz,
  progress: QuizProgress | undefined,
): [string, StoredAnswer][] {
  const ids = new Set(quiz.questions.map((q) => q.id));
  return Object.entries(progress?.answers ?? {}).flatMap(([id, raw]) => {
    const a = ids.has(id) ? undefined : fromKept(raw);
    return a ? [[id, a] as [string, StoredAnswer]] : [];
  });
}

/** The first unanswered question in quiz order, or null when the quiz is done. */
export function currentQuestion(
  quiz: Quiz,
  progress: QuizProgress | undefined,
): Question | null {
  return quiz.questions.find((q) => answerOf(progress, q) === undefined) ??
    null;
}

/** Every answer of `progress`, as kept (positions stored before ids converted). */
function byIds(quiz: Quiz, progress: QuizProgress | undefined) {
  const answers: Record<string, KeptAnswer> = {};
  for (const [id, raw] of Object.entries(progress?.answers ?? {})) {
    const question = quiz.questions.find((q) => q.id === id);
    const answer = question ? asStored(question, raw) : fromKept(raw);
    if (answer) answers[id] = kept(answer);
  }
  return answers;
}

/**
 * The position in `question.choices` that `choice` names: a choice id, or a 0-based index
 * in the order `visitor` sees the choices. 400 when it names none.
 */
export function resolveChoice(
  quiz: Quiz,
  question: Question,
  choice: number | string,
  visitor: string,
): number {
  if (typeof choice === "string") {
    const at = question.choiceIds.indexOf(choice);
    if (at < 0) throw new HttpError(400, "No such choice in this question");
    return at;
  }
  if (
    !Number.isInteger(choice) || choice < 0 || choice >= question.choices.length
  ) {
    throw new HttpError(
      400,
      `Choice must be a whole number from 0 to ${
        question.choices.length - 1
      }, or a choice id`,
    );
  }
  return choiceOrder(quiz, question, visitor)[choice];
}

/**
 * Records an answer and returns the new progress with the verdict and the new score.
 * Throws HttpError 404 for an unknown question, 400 for a choice that names none, and 409
 * (with the unchanged score) when the question was answered before.
 */
export function applyAnswer(
  quiz: Quiz,
  progress: QuizProgress | undefined,
  questionId: string,
  choice: number | string,
  visitor: string,
): AnswerResult {
  const question = quiz.questions.find((q) => q.id === questionId);
  if (!question) throw new HttpError(404, "Unknown question");
  const at = resolveChoice(quiz, question, choice, visitor);
  if (answerOf(progress, question) !== undefined) {
    throw new HttpError(409, "Question already answered", {
      ...scoreOf(quiz, progress),
    });
  }
  const answer: StoredAnswer = {
    choice: question.choiceIds[at],
    text: question.choices[at],
    correct: at === question.correct,
  };
  const next: QuizProgress = {
    answers: { ...byIds(quiz, progress), [questionId]: kept(answer) },
  };
  return {
    progress: next,
    correct: answer.correct,
    correctChoice: choiceOrder(quiz, question, visitor).indexOf(
      question.correct,
    ),
    correctChoiceId: question.choiceIds[question.correct],
    feedback: question.choiceFeedback?.[at] ?? null,
    explanation: question.explanation,
    ...scoreOf(quiz, next),
  };
}

/**
 * Reads a choice: a JSON number or a string of one to three digits is an index in the order
 * the visitor sees; a choice id (8 hex digits, perhaps `-N`) names the choice itself. Range
 * is checked later against the question (applyAnswer).
 */
export function parseChoice(raw: unknown): number | string {
  if (typeof raw === "number" && Number.isSafeInteger(raw) && raw >= 0) {
    return raw;
  }
  // No question has a thousand choices; a choice id is 8 characters, so the two never meet.
  if (typeof raw === "string" && /^[0-9]{1,3}$/.test(raw)) return Number(raw);
  if (typeof raw === "string" && /^[0-9a-f]{8}(-[0-9]{1,3})?$/.test(raw)) {
    return raw;
  }
  throw new HttpError(
    400,
    "Choice must be a whole number, the 0-based index of a choice, or a choice id",
  );
}
