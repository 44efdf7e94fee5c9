import type { Question, Quiz } from "./bank.ts";
import { HttpError } from "../base/http_error.ts";

/**
 * A session's progress on one quiz, stored by the caller as JSON: question id -> chosen index.
 * Questions may be answered in any order.
 */
export interface QuizProgress {
  answers: Record<string, number>;
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
  correctChoice: number;
  explanation: string;
}

// Own properties only: a question id such as "constructor" must not match Object.prototype.
function answerOf(
  progress: QuizProgress | undefined,
  questionId: string,
): number | undefined {
  const answers = progress?.answers;
  return answers && Object.hasOwn(answers, questionId)
    ? answers[questionId]
    : undefined;
}

/** The score so far. Answers to questions no longer in the bank are ignored. */
export function scoreOf(quiz: Quiz, progress: QuizProgress | undefined): Score {
  let score = 0;
  let answered = 0;
  for (const question of quiz.questions) {
    const answer = answerOf(progress, question.id);
    if (answer === undefined) continue;
    answered++;
    if (answer === question.correct) score++;
  }
  return { score, answered, total: quiz.questions.length };
}

/** The first unanswered question in bank order, or null when the quiz is done. */
export function currentQuestion(
  quiz: Quiz,
  progress: QuizProgress | undefined,
): Question | null {
  return quiz.questions.find((q) => answerOf(progress, q.id) === undefined) ??
    null;
}

/**
 * Records an answer and returns the new progress with the verdict and the new score.
 * Throws HttpError 404 for an unknown question, 400 for a choice that is not a valid index,
 * and 409 (with the unchanged score) when the question was answered before.
 */
export function applyAnswer(
  quiz: Quiz,
  progress: QuizProgress | undefined,
  questionId: string,
  choice: number,
): AnswerResult {
  const question = quiz.questions.find((q) => q.id === questionId);
  if (!question) throw new HttpError(404, "Unknown question");
  if (
    !Number.isInteger(choice) || choice < 0 || choice >= question.choices.length
  ) {
    throw new HttpError(
      400,
      `Choice must be a whole number from 0 to ${question.choices.length - 1}`,
    );
  }
  if (answerOf(progress, questionId) !== undefined) {
    throw new HttpError(409, "Question already answered", {
      ...scoreOf(quiz, progress),
    });
  }
  const next: QuizProgress = {
    answers: { ...progress?.answers, [questionId]: choice },
  };
  return {
    progress: next,
    correct: choice === question.correct,
    correctChoice: question.correct,
    explanation: question.explanation,
    ...scoreOf(quiz, next),
  };
}

/**
 * Reads a choice index from a JSON number or a form field's string of decimal digits.
 * Range is checked later against the question (applyAnswer).
 */
export function parseChoice(raw: unknown): number {
  if (typeof raw === "number" && Number.isSafeInteger(raw) && raw >= 0) {
    return raw;
  }
  // Length cap keeps the number exact; no question has that many choices anyway.
  if (typeof raw === "string" && /^[0-9]{1,9}$/.test(raw)) return Number(raw);
  throw new HttpError(
    400,
    "Choice must be a whole number, the 0-based index of a choice",
  );
}
