/**
 * What the GIFT and Aiken parsers share: the error type, the quiz id of a file, and the
 * identity rules that keep stored answers attached to the right question and choice.
 *
 * Identity rules (stable across runs and machines: they depend on the text only):
 * - "Normalised text": Unicode NFC, every run of whitespace made one space, trimmed, lowercased.
 * - A question's id is its GIFT `::title::` slugified (NFKD without accents, lowercase, each run
 *   of other characters one `-`, at most 40 characters); a title with no letter or digit
 *   gives `q-` and the first 8 hex digits of the SHA-256 of the normalised title.
 * - A question without a title (and every Aiken question) gets the slug of its text's first
 *   words (at most 24 characters, cut at a word) + `-` + the first 8 hex digits of the SHA-256
 *   of its normalised text, e.g. `which-method-is-a1b2c3d4`. Editing the text changes the id;
 *   give the question a `::title::` to pin it.
 * - A choice's id is the first 8 hex digits of the SHA-256 of its normalised text. Two choices
 *   with the same normalised text are an error, so ids only repeat on a hash collision: then
 *   the later choice gets `-2` (then `-3`, ...) appended, in file order.
 */
import { sha256Hex } from "../base/crypto.ts";
import type { Question, TextFormat } from "./bank.ts";

/** A broken quiz file. `message` is the first problem, `problems` all of them, each `file:line: reason`. */
export class QuizFileError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems[0]);
    this.name = "QuizFileError";
    this.problems = problems;
  }
}

/** A problem found at one line; the parsers turn it into `file:line: reason`. */
export class LineProblem extends Error {
  constructor(readonly line: number, readonly reason: string) {
    super(reason);
  }
}

const QUIZ_ID = /^[a-z0-9-]{1,40}$/;

/** The quiz id of a file: its name without directory or extension; throws if it is not a valid id. */
export function quizIdOf(file: string): string {
  const name = file.slice(file.lastIndexOf("/") + 1);
  const id = name.replace(/\.[^.]*$/, "");
  if (!QUIZ_ID.test(id)) {
    throw new QuizFileError([
      `${file}: the file name must be a quiz id: 1-40 lowercase letters, digits or dashes, then .gift or .aiken`,
    ]);
  }
  return id;
}

/** The text as the identity rules compare it. */
export function normaliseText(text: string): string {
  return text.normalize("NFC").replace(/\s+/g, " ").trim().toLowerCase();
}

function hash8(text: string): string {
  return sha256Hex(normaliseText(text)).slice(0, 8);
}

function slug(text: string): string {
  return text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** The id of a question with a `::title::`. */
export function titleId(title: string): string {
  const id = slug(title).slice(0, 40).replace(/-$/, "");
  return id === "" ? `q-${hash8(title)}` : id;
}

/** The id of a question without a title. */
export function textId(text: string): string {
  let words = slug(text);
  if (words.length > 24) {
    const cut = words.lastIndexOf("-", 24);
    words = words.slice(0, cut > 0 ? cut : 24);
  }
  return `${words === "" ? "q" : words}-${hash8(text)}`;
}

/** The ids of a question's choices, in order (see the module comment for collisions). */
export function choiceIds(choices: string[]): string[] {
  const used = new Set<string>();
  return choices.map((choice) => {
    const base = hash8(choice);
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    return id;
  });
}

/** A question as a parser read it, before ids are given. */
export interface ParsedQuestion {
  line: number;
  title?: string;
  text: string;
  choices: string[];
  /** Where each choice was written, for error messages. */
  choiceLines: number[];
  correct: number;
  feedback?: (string | null)[];
  generalFeedback?: string;
  format?: TextFormat;
}

/** Throws a LineProblem when two choices of a question have the same normalised text. */
export function checkDistinctChoices(q: ParsedQuestion): void {
  const seen = new Map<string, number>();
  q.choices.forEach((choice, i) => {
    const key = normaliseText(choice);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new LineProblem(
        q.choiceLines[i],
        `the same choice twice (${JSON.stringify(choice)}, also on line ${
          q.choiceLines[earlier]
        })`,
      );
    }
    seen.set(key, i);
  });
}

/** The app's question: ids given, explanation = general feedback, else the correct choice's feedback. */
export function toQuestion(q: ParsedQuestion): Question {
  const question: Question = {
    id: q.title !== undefined ? titleId(q.title) : textId(q.text),
    text: q.text,
    choices: q.choices,
    correct: q.correct,
    explanation: q.generalFeedback ?? q.feedback?.[q.correct] ?? "",
    choiceIds: choiceIds(q.choices),
  };
  if (q.feedback?.some((f) => f !== null)) question.choiceFeedback = q.feedback;
  if (q.generalFeedback !== undefined) {
    question.generalFeedback = q.generalFeedback;
  }
  if (q.format !== undefined) question.format = q.format;
  return question;
}

/**
 * The questions with their ids; a repeated id (same title, or same text without a title)
 * adds a problem at the later question's line.
 */
export function identify(
  parsed: ParsedQuestion[],
  problems: LineProblem[],
): Question[] {
  const lineOfId = new Map<string, number>();
  const questions: Question[] = [];
  for (const q of parsed) {
    const question = toQuestion(q);
    const earlier = lineOfId.get(question.id);
    if (earlier !== undefined) {
      const what = q.title !== undefined
        ? `duplicate question title ${JSON.stringify(q.title)} (id ${
          JSON.stringify(question.id)
        })`
        : "the same question text again";
      problems.push(
        new LineProblem(q.line, `${what}, first on line ${earlier}`),
      );
      continue;
    }
    lineOfId.set(question.id, q.line);
    questions.push(question);
  }
  return questions;
}

/** Throws a QuizFileError listing `problems` (sorted by line) as `file:line: reason`, if any. */
export function throwProblems(file: string, problems: LineProblem[]): void {
  if (problems.length === 0) return;
  const sorted = [...problems].sort((a, b) => a.line - b.line);
  throw new QuizFileError(sorted.map((p) => `${file}:${p.line}: ${p.reason}`));
}

/** The lines of a file's text, without a byte-order mark, whatever its line endings. */
export function linesOf(source: string): string[] {
  return source.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
}
