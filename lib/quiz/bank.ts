import * as v from "valibot";

export interface Question {
  id: string;
  text: string;
  choices: string[];
  /** 0-based index into `choices`. */
  correct: number;
  /** Shown after the question is answered. */
  explanation: string;
  // The optional fields below come from quiz files (lib/quiz/files.ts); the app may ignore them.
  /** Stable ids of `choices`, same order (rules in lib/quiz/quiz_file.ts). */
  choiceIds?: string[];
  /** Feedback for each choice, same order; null where there is none. */
  choiceFeedback?: (string | null)[];
  /** GIFT general feedback (`####`); `explanation` holds the same text. */
  generalFeedback?: string;
  /** The markup the texts are written in (a GIFT `[format]`); absent means plain text. */
  format?: TextFormat;
}

/** GIFT's text formats. Whatever the format, the app must show texts escaped, never as raw HTML. */
export type TextFormat = "moodle" | "html" | "markdown" | "plain";

export interface Quiz {
  id: string;
  title: string;
  description: string;
  questions: Question[];
  /** Show the choices in a random order (asked by a GIFT file's `// mcq-edge: shuffle`). */
  shuffle?: boolean;
}

/** What a client may see of a quiz: never the answers or their explanations. */
export interface PublicQuiz {
  id: string;
  title: string;
  questions: { id: string; text: string; choices: string[] }[];
}

/** A broken question bank; the one-line message names the file, quiz, question and problem. */
export class BankError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BankError";
  }
}

const ID_PATTERN = /^[a-z0-9-]{1,40}$/;
const MIN_CHOICES = 3;
const MAX_CHOICES = 5;

// Messages are predicates; describeIssue() puts the field name (from the issue's path) before them.
const text = () =>
  v.pipe(
    v.string("must be a string"),
    v.check((s) => s.trim() !== "", "is empty"),
  );

const id = () =>
  v.pipe(
    v.string("must be a string"),
    v.regex(
      ID_PATTERN,
      (issue) =>
        `must be 1-40 lowercase letters, digits or dashes (got ${
          JSON.stringify(issue.input)
        })`,
    ),
  );

/** Strict objects turn a typo such as `explaination` into an error instead of a silent default. */
const strictObjectMessage = (what: string) => (issue: v.BaseIssue<unknown>) => {
  if (issue.expected === "never") {
    return `unknown field ${JSON.stringify(issue.input)}`;
  }
  if (issue.expected?.startsWith('"')) {
    return `${issue.expected.slice(1, -1)} is missing`;
  }
  return `${what} must be an object (got ${issue.received})`;
};

const QuestionSchema = v.pipe(
  v.strictObject({
    id: id(),
    text: text(),
    choices: v.pipe(
      v.array(text(), "must be a list"),
      v.check(
        (list) => list.length >= MIN_CHOICES && list.length <= MAX_CHOICES,
        (issue) =>
          `must have ${MIN_CHOICES} to ${MAX_CHOICES} entries (got ${issue.input.length})`,
      ),
    ),
    correct: v.pipe(
      v.number("must be a number"),
      v.integer((issue) => `must be a whole number (got ${issue.received})`),
      v.minValue(0, (issue) => `must not be negative (got ${issue.received})`),
    ),
    explanation: text(),
  }, strictObjectMessage("question")),
  v.check(
    (q) => q.correct < q.choices.length,
    (issue) =>
      `correct choice ${issue.input.correct} is out of range (${issue.input.choices.length} choices)`,
  ),
  v.check(
    (q) => duplicateChoices(q.choices) === null,
    (issue) => {
      const [first, second] = duplicateChoices(issue.input.choices)!;
      const choice = JSON.stringify(issue.input.choices[second]);
      return `choices ${first} and ${second} are the same (${choice})`;
    },
  ),
);

const QuizSchema = v.strictObject({
  id: id(),
  title: text(),
  description: text(),
  questions: v.pipe(
    v.array(QuestionSchema, "must be a list"),
    v.minLength(1, "must not be empty"),
  ),
}, strictObjectMessage("quiz"));

/** The indexes of the first two choices with the same text (ignoring case and spaces), or null. */
function duplicateChoices(choices: string[]): [number, number] | null {
  const seen = new Map<string, number>();
  for (const [index, choice] of choices.entries()) {
    const key = choice.trim().toLowerCase();
    const earlier = seen.get(key);
    if (earlier !== undefined) return [earlier, index];
    seen.set(key, index);
  }
  return null;
}

/** `"some-id"` when `value` has a non-empty string id, else null. */
function quotedId(value: unknown): string | null {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === "string" && id !== "" ? JSON.stringify(id) : null;
}

/** One line: `file: quiz "q", question "x": field problem`. */
function describeIssue(
  file: string,
  input: unknown,
  issue: v.BaseIssue<unknown>,
) {
  const where: string[] = [];
  const quiz = quotedId(input);
  if (quiz) where.push(`quiz ${quiz}`);
  // Missing and unknown keys are in the path but their message names them already.
  const path = (issue.path ?? [])
    .filter((item) => item.origin !== "key")
    .map((item) => item.key);
  let rest = path;
  if (path[0] === "questions" && typeof path[1] === "number") {
    const questions = (input as { questions: unknown[] }).questions;
    const question = quotedId(questions[path[1]]);
    where.push(question ? `question ${question}` : `questions[${path[1]}]`);
    rest = path.slice(2);
  }
  let field = "";
  if (rest[0] === "choices" && typeof rest[1] === "number") {
    field = `choice ${rest[1]} `;
  } else if (rest.length > 0) field = `${String(rest[0])} `;
  const line = where.length ? `${file}: ${where.join(", ")}` : file;
  return `${line}: ${field}${issue.message}`.replace(/\s*[\r\n]+\s*/g, " ");
}

/** Throws a BankError when a quiz repeats a question id. */
function checkQuestionIds(file: string, quiz: Quiz): void {
  const seen = new Map<string, number>();
  for (const [index, question] of quiz.questions.entries()) {
    const earlier = seen.get(question.id);
    if (earlier !== undefined) {
      throw new BankError(
        `${file}: quiz ${JSON.stringify(quiz.id)}, question ${
          JSON.stringify(question.id)
        }: ` +
          `duplicate question id (questions ${earlier} and ${index})`,
      );
    }
    seen.set(question.id, index);
  }
}

/**
 * Validates every quiz file (keyed by its path, for error messages) and returns the quizzes in
 * the same order. Throws a BankError for the first problem found; the bank is fixed at deploy
 * time, so one clear line is more useful than a list.
 */
export function validateBank(files: Record<string, unknown>): Quiz[] {
  const quizzes: Quiz[] = [];
  const fileOfQuiz = new Map<string, string>();
  for (const [file, input] of Object.entries(files)) {
    const result = v.safeParse(QuizSchema, input);
    if (!result.success) {
      throw new BankError(describeIssue(file, input, result.issues[0]));
    }
    const quiz: Quiz = result.output; // also checks that the schema fits the interfaces
    checkQuestionIds(file, quiz);
    const other = fileOfQuiz.get(quiz.id);
    if (other !== undefined) {
      throw new BankError(
        `${file}: quiz ${
          JSON.stringify(quiz.id)
        }: duplicate quiz id, already used in ${other}`,
      );
    }
    fileOfQuiz.set(quiz.id, file);
    quizzes.push(quiz);
  }
  return quizzes;
}

/** A quiz as a client may see it: questions and choices, never `correct` or `explanation`. */
export function publicQuiz(quiz: Quiz): PublicQuiz {
  return {
    id: quiz.id,
    title: quiz.title,
    questions: quiz.questions.map((q) => ({
      id: q.id,
      text: q.text,
      choices: [...q.choices],
    })),
  };
}
