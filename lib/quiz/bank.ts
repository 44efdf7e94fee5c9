/**
 * The question bank's types. Quizzes come from GIFT and Aiken files (lib/quiz/files.ts),
 * whose parsers check them and give every question and choice a stable id.
 */
import { createHash } from "node:crypto";

export interface Question {
  /** Stable: the GIFT `::title::` when given, else derived from the text (lib/quiz/quiz_file.ts). */
  id: string;
  text: string;
  choices: string[];
  /** Stable ids of `choices`, same order: derived from each choice's text. */
  choiceIds: string[];
  /** 0-based index into `choices`. */
  correct: number;
  /** Shown after the question is answered. */
  explanation: string;
  /** Feedback for each choice, same order; null where there is none. */
  choiceFeedback?: (string | null)[];
  /** GIFT general feedback (`####`); `explanation` holds the same text. */
  generalFeedback?: string;
  /** The markup the texts are written in (a GIFT `[format]`); absent means plain text. */
  format?: TextFormat;
}

/** GIFT's text formats. Whatever the format, the app shows texts escaped, never as raw HTML. */
export type TextFormat = "moodle" | "html" | "markdown" | "plain";

export interface Quiz {
  id: string;
  title: string;
  description: string;
  questions: Question[];
  /** Show the choices in a random order per visitor (a GIFT file's `// mcq-edge: shuffle`). */
  shuffle?: boolean;
}

/** What a client may see of a quiz: never the answers or their explanations. */
export interface PublicQuiz {
  id: string;
  title: string;
  questions: {
    id: string;
    text: string;
    /** In the order this visitor sees them. */
    choices: string[];
    /** The choices' stable ids, same order: an answer may name one instead of an index. */
    choiceIds: string[];
  }[];
}

/**
 * The order in which `visitor` sees `question`'s choices: as written, or for a quiz that
 * shuffles, a permutation fixed by the visitor and the question (a reload does not reorder).
 * Returns positions into `question.choices`.
 */
export function choiceOrder(
  quiz: Quiz,
  question: Question,
  visitor: string,
): number[] {
  const order = question.choices.map((_, i) => i);
  if (!quiz.shuffle) return order;
  const rank = (i: number) =>
    createHash("sha256").update(`${visitor}\n${question.id}\n${i}`).digest(
      "hex",
    );
  const ranks = order.map(rank);
  return order.sort((a, b) => ranks[a] < ranks[b] ? -1 : 1);
}

/** A quiz as `visitor` may see it: questions and choices, never `correct` or `explanation`. */
export function publicQuiz(quiz: Quiz, visitor: string): PublicQuiz {
  return {
    id: quiz.id,
    title: quiz.title,
    questions: quiz.questions.map((q) => {
      const order = choiceOrder(quiz, q, visitor);
      return {
        id: q.id,
        text: q.text,
        choices: order.map((i) => q.choices[i]),
        choiceIds: order.map((i) => q.choiceIds[i]),
      };
    }),
  };
}
