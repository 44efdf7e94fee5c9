/**
 * A parser for the part of Moodle's GIFT format that mcq-edge can score: multiple choice with
 * exactly one right answer, and true/false. Written by hand rather than with the npm
 * `gift-pegjs` grammar: that package ships 340 kB (the same generated parser three times) and
 * pulls in the unmaintained pegjs 0.10 generator at run time, and its questions carry no line
 * numbers, which the `file:line: reason` errors below need.
 *
 * The subset:
 * - Questions are separated by blank lines. A line starting with `//` is a comment.
 * - `::title::` (optional) gives the question its id (lib/quiz/quiz_file.ts has the id rules).
 * - `[html]`, `[markdown]`, `[plain]` or `[moodle]` right before the text is kept as `format`.
 * - `{=right #feedback ~wrong #feedback ...}` ends the question; `####text` inside the braces
 *   is the general feedback, which also becomes the question's explanation (else the right
 *   choice's feedback does).
 * - `{T}`, `{F}`, `{TRUE}`, `{FALSE}`, optionally `{T #if answered wrong #if answered right}`:
 *   the choices are "True" and "False".
 * - Escapes: `\~ \= \# \{ \} \: \\` stand for the character, `\n` for a line break. Line
 *   breaks in the file and runs of spaces become one space.
 * - `$CATEGORY: path` (at most once, on its own): its last segment is the quiz title (`//`
 *   stands for a `/` in a name); without it the title is the quiz id.
 * - Comment directives, ignored by Moodle: `// mcq-edge: shuffle` asks for the choices in a
 *   random order; `// mcq-edge: description TEXT` (repeatable: lines join with a space) is the
 *   quiz's description.
 * Anything else (essay, numeric, matching, short answer, weighted or several right answers,
 * missing-word text after `}`) is an error naming the file and line.
 */
import type { Quiz, TextFormat } from "./bank.ts";
import {
  checkDistinctChoices,
  identify,
  LineProblem,
  linesOf,
  type ParsedQuestion,
  quizIdOf,
  throwProblems,
} from "./quiz_file.ts";

/** A question's lines joined with "\n", comment lines left empty so offsets map to lines. */
interface Block {
  start: number;
  text: string;
}

interface Directive {
  line: number;
  text: string;
}

function splitBlocks(source: string): {
  blocks: Block[];
  directives: Directive[];
} {
  const blocks: Block[] = [];
  const directives: Directive[] = [];
  let current: string[] = [];
  let start = 0;
  const lines = linesOf(source);
  for (const [i, line] of lines.entries()) {
    if (/^\s*\/\//.test(line)) {
      const directive = /^\s*\/\/\s*mcq-edge:(.*)$/.exec(line);
      if (directive) {
        directives.push({ line: i + 1, text: directive[1].trim() });
      }
      if (current.length > 0) current.push("");
    } else if (line.trim() !== "") {
      if (current.length === 0) start = i + 1;
      current.push(line);
    } else if (current.length > 0) {
      blocks.push({ start, text: current.join("\n") });
      current = [];
    }
  }
  if (current.length > 0) blocks.push({ start, text: current.join("\n") });
  return { blocks, directives };
}

function lineAt(block: Block, offset: number): number {
  let line = block.start;
  for (let i = 0; i < offset; i++) if (block.text[i] === "\n") line++;
  return line;
}

function skipSpace(text: string, from: number): number {
  while (from < text.length && /\s/.test(text[from])) from++;
  return from;
}

/** The index of the first unescaped `token` in text[from, to), or -1. */
function findUnescaped(
  text: string,
  token: string,
  from: number,
  to = text.length,
): number {
  for (let i = from; i + token.length <= to; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === token[0] && text.startsWith(token, i)) return i;
  }
  return -1;
}

const ESCAPABLE = "~=#{}:\\";

/** Raw GIFT text as shown: escapes resolved, whitespace runs made one space, trimmed. */
function clean(raw: string): string {
  let out = "";
  let space = false;
  for (let i = 0; i < raw.length; i++) {
    let c = raw[i];
    if (/\s/.test(c)) {
      space = out !== "" && !out.endsWith("\n");
      continue;
    }
    if (c === "\\" && raw[i + 1] === "n") {
      [out, space, i] = [out + "\n", false, i + 1];
      continue;
    }
    if (c === "\\" && ESCAPABLE.includes(raw[i + 1] ?? "")) c = raw[++i];
    out += (space ? " " : "") + c;
    space = false;
  }
  return out;
}

type At = (offset: number) => number;
type Answers = Pick<
  ParsedQuestion,
  "choices" | "choiceLines" | "correct" | "feedback" | "generalFeedback"
>;

/** The `::title::` at the start of a question, if any, and where its text starts. */
function readTitle(raw: string, at: At): [string | undefined, number] {
  const pos = skipSpace(raw, 0);
  if (!raw.startsWith("::", pos)) return [undefined, pos];
  const end = findUnescaped(raw, "::", pos + 2);
  if (end < 0) {
    throw new LineProblem(at(pos), "the title opened with :: is not closed");
  }
  const title = clean(raw.slice(pos + 2, end));
  if (title === "") throw new LineProblem(at(pos), "empty title in :: ::");
  return [title, skipSpace(raw, end + 2)];
}

function parseQuestion(block: Block): ParsedQuestion {
  const raw = block.text;
  const at: At = (offset) => lineAt(block, offset);
  let [title, pos] = readTitle(raw, at);
  const tag = /^\[(html|moodle|plain|markdown)\]/.exec(raw.slice(pos));
  if (tag) pos += tag[0].length;
  const open = findUnescaped(raw, "{", pos);
  const stray = findUnescaped(raw, "}", pos, open < 0 ? raw.length : open);
  if (stray >= 0) {
    throw new LineProblem(
      at(stray),
      "} without a { before it (write \\} for a brace)",
    );
  }
  const text = clean(raw.slice(pos, open < 0 ? raw.length : open));
  if (open < 0) {
    throw new LineProblem(
      block.start,
      text === ""
        ? "empty question: a title and nothing else"
        : "no answers: end the question with { ... } (descriptions are not supported)",
    );
  }
  const close = closingBrace(raw, open, at);
  const after = skipSpace(raw, close + 1);
  if (after < raw.length) {
    throw new LineProblem(
      at(after),
      "text after } (missing-word questions are not supported: put the answers last)",
    );
  }
  if (text === "") {
    throw new LineProblem(at(open), "empty question: no text before {");
  }
  const answers = parseAnswers(raw, open, close, at);
  const format = tag?.[1] as TextFormat | undefined;
  return { line: block.start, title, text, format, ...answers };
}

function closingBrace(raw: string, open: number, at: At): number {
  for (let i = open + 1; i < raw.length; i++) {
    if (raw[i] === "\\") i++;
    else if (raw[i] === "}") return i;
    else if (raw[i] === "{") {
      throw new LineProblem(
        at(i),
        "{ inside the answers (write \\{ for a brace)",
      );
    }
  }
  throw new LineProblem(
    at(open),
    "unclosed {: no } before the blank line that ends the question",
  );
}

function parseAnswers(
  raw: string,
  open: number,
  close: number,
  at: At,
): Answers {
  let end = close;
  let generalFeedback: string | undefined;
  const general = findUnescaped(raw, "####", open + 1, close);
  if (general >= 0) {
    generalFeedback = clean(raw.slice(general + 4, close)) || undefined;
    end = general;
  }
  const body = raw.slice(open + 1, end);
  const first = skipSpace(raw, open + 1);
  if (body.trim() === "") {
    throw new LineProblem(
      at(open),
      "essay questions ({}) are not supported: give choices with = and ~",
    );
  }
  if (raw[first] === "#") {
    throw new LineProblem(
      at(first),
      "numeric questions ({#...}) are not supported",
    );
  }
  const arrow = findUnescaped(raw, "->", open + 1, end);
  if (arrow >= 0) {
    throw new LineProblem(
      at(arrow),
      "matching questions (->) are not supported",
    );
  }
  const answers = /^\s*(TRUE|FALSE|T|F)\s*(?=#|$)/i.exec(body)
    ? trueFalse(raw, first, end, at)
    : multipleChoice(raw, open + 1, end, at);
  return { ...answers, generalFeedback };
}

/** `{T #if wrong #if right}`: Moodle's order, the first feedback is for a wrong answer. */
function trueFalse(raw: string, from: number, end: number, at: At): Answers {
  const parts: string[] = [];
  let start = from;
  for (
    let hash;
    (hash = findUnescaped(raw, "#", start, end)) >= 0;
    start = hash + 1
  ) {
    parts.push(raw.slice(start, hash));
  }
  parts.push(raw.slice(start, end));
  if (parts.length > 3) {
    throw new LineProblem(
      at(from),
      "a true/false question takes at most two feedbacks: {T #if wrong #if right}",
    );
  }
  const isTrue = /^T/i.test(parts[0].trim());
  const wrong = clean(parts[1] ?? "") || null;
  const right = clean(parts[2] ?? "") || null;
  return {
    choices: ["True", "False"],
    choiceLines: [at(from), at(from)],
    correct: isTrue ? 0 : 1,
    feedback: isTrue ? [right, wrong] : [wrong, right],
  };
}

/** The offsets of the unescaped `=` and `~` that start each answer. */
function answerMarks(raw: string, from: number, end: number, at: At): number[] {
  const marks: number[] = [];
  for (let i = from; i < end; i++) {
    if (raw[i] === "\\") i++;
    else if (raw[i] === "=" || raw[i] === "~") marks.push(i);
  }
  const lead = skipSpace(raw, from);
  if (marks.length === 0 || lead < marks[0]) {
    throw new LineProblem(
      at(lead),
      "text before the first answer: start each answer with = (right) or ~ (wrong)",
    );
  }
  return marks;
}

/** The one right answer's index among `marks`, or the problem with the others. */
function rightAnswer(raw: string, marks: number[], at: At): number {
  const rights = marks.flatMap((mark, k) => raw[mark] === "=" ? [k] : []);
  const [first, second] = rights.map((k) => at(marks[k]));
  if (rights.length === marks.length) {
    throw new LineProblem(
      first,
      "short-answer questions (only = answers) are not supported: mark wrong choices with ~",
    );
  }
  if (rights.length === 0) {
    throw new LineProblem(
      at(marks[0]),
      "no correct answer: mark the right choice with =",
    );
  }
  if (rights.length > 1) {
    throw new LineProblem(
      second,
      `a second correct answer (the first is on line ${first}): ` +
        "exactly one choice starts with = (write \\= for an equals sign)",
    );
  }
  return rights[0];
}

function multipleChoice(
  raw: string,
  from: number,
  end: number,
  at: At,
): Answers {
  const marks = answerMarks(raw, from, end, at);
  const answers: Answers = {
    choices: [],
    choiceLines: [],
    correct: -1,
    feedback: [],
  };
  marks.forEach((mark, k) => {
    const stop = marks[k + 1] ?? end;
    if (raw[skipSpace(raw, mark + 1)] === "%") {
      throw new LineProblem(
        at(mark),
        "weighted answers (%50%) are not supported: one = and the rest ~",
      );
    }
    const hash = findUnescaped(raw, "#", mark + 1, stop);
    const text = clean(raw.slice(mark + 1, hash < 0 ? stop : hash));
    if (text === "") {
      throw new LineProblem(at(mark), `empty answer after ${raw[mark]}`);
    }
    answers.choices.push(text);
    answers.choiceLines.push(at(mark));
    answers.feedback!.push(
      hash < 0 ? null : clean(raw.slice(hash + 1, stop)) || null,
    );
  });
  answers.correct = rightAnswer(raw, marks, at);
  return answers;
}

/** The quiz title from a `$CATEGORY: a/b/Title` block: its last segment, `//` meaning `/`. */
function readCategory(block: Block): string {
  const lines = block.text.split("\n");
  const extra = lines.findIndex((line, i) => i > 0 && line.trim() !== "");
  if (extra > 0) {
    throw new LineProblem(
      block.start + extra,
      "a blank line must follow the $CATEGORY: line",
    );
  }
  const path = lines[0].trim().slice("$CATEGORY:".length).replaceAll(
    "//",
    "\0",
  );
  const segments = path.split("/").map((s) => s.replaceAll("\0", "/").trim());
  const title = segments.filter((s) => s !== "").at(-1);
  if (title === undefined) {
    throw new LineProblem(block.start, "empty $CATEGORY:");
  }
  return title;
}

function readDirectives(directives: Directive[], problems: LineProblem[]) {
  let shuffle = false;
  const description: string[] = [];
  for (const { line, text } of directives) {
    const match = /^description\s+(.*)$/.exec(text);
    if (text === "shuffle") shuffle = true;
    else if (match) description.push(match[1].trim());
    else {
      problems.push(
        new LineProblem(
          line,
          `unknown mcq-edge directive ${
            JSON.stringify(text)
          } (known: shuffle, description TEXT)`,
        ),
      );
    }
  }
  return { shuffle, description: description.join(" ") };
}

/**
 * Parses a GIFT file's text into a quiz whose id is the file name without extension.
 * Throws a QuizFileError listing every problem as `file:line: reason`.
 */
export function parseGift(source: string, file: string): Quiz {
  const id = quizIdOf(file);
  const { blocks, directives } = splitBlocks(source);
  const problems: LineProblem[] = [];
  const { shuffle, description } = readDirectives(directives, problems);
  let category: { line: number; title: string } | undefined;
  const parsed: ParsedQuestion[] = [];
  for (const block of blocks) {
    try {
      if (!block.text.trimStart().startsWith("$CATEGORY:")) {
        const question = parseQuestion(block);
        checkDistinctChoices(question);
        parsed.push(question);
      } else if (category) {
        throw new LineProblem(
          block.start,
          `a second $CATEGORY: (the first is on line ${category.line}): one file is one quiz`,
        );
      } else category = { line: block.start, title: readCategory(block) };
    } catch (error) {
      if (!(error instanceof LineProblem)) throw error;
      problems.push(error);
    }
  }
  const questions = identify(parsed, problems);
  if (questions.length === 0 && problems.length === 0) {
    problems.push(new LineProblem(1, "no questions"));
  }
  throwProblems(file, problems);
  const quiz: Quiz = {
    id,
    title: category?.title ?? id,
    description,
    questions,
  };
  if (shuffle) quiz.shuffle = true;
  return quiz;
}
