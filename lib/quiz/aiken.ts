/**
 * A parser for Moodle's Aiken format: multiple choice with one right answer, nothing else.
 *
 *     What does HTTP status 404 mean?
 *     A. Not Found
 *     B) Gone
 *     ANSWER: A
 *
 * - A question is one or more lines of text (joined with a space), then two or more options,
 *   each an uppercase letter, `.` or `)`, a space and the option's text, then `ANSWER: X`.
 * - Blank lines are allowed anywhere; nothing else is (Aiken has no comments or feedback).
 * - The quiz title is the quiz id (the file name without `.aiken`), the description empty:
 *   Aiken has no place for either, and a made-up header line would stop the file from
 *   importing into Moodle. Use GIFT for a real title.
 * - Question ids come from the text, choice ids from each option's text (lib/quiz/quiz_file.ts).
 */
import type { Quiz } from "./bank.ts";
import {
  checkDistinctChoices,
  identify,
  LineProblem,
  linesOf,
  type ParsedQuestion,
  quizIdOf,
  throwProblems,
} from "./quiz_file.ts";

// Lines are trimmed first, so "C." alone is an empty option C.
const OPTION = /^([A-Z])[.)](?:[ \t]+(.*))?$/;
const ANSWER = /^ANSWER:\s*(.*)$/;

interface Draft {
  line: number;
  text: string[];
  letters: string[];
  options: string[];
  optionLines: number[];
}

function addOption(draft: Draft, letter: string, text: string, line: number) {
  const earlier = draft.letters.indexOf(letter);
  if (earlier >= 0) {
    throw new LineProblem(
      line,
      `option ${letter} twice (also on line ${draft.optionLines[earlier]})`,
    );
  }
  draft.letters.push(letter);
  draft.options.push(text.trim());
  draft.optionLines.push(line);
}

function finish(draft: Draft, answer: string, line: number): ParsedQuestion {
  if (draft.options.length < 2) {
    throw new LineProblem(
      line,
      `fewer than two options (${draft.options.length}) before ANSWER:`,
    );
  }
  const correct = draft.letters.indexOf(answer);
  if (correct < 0) {
    throw new LineProblem(
      line,
      `ANSWER: ${JSON.stringify(answer)} names no option (options: ${
        draft.letters.join(", ")
      })`,
    );
  }
  const question: ParsedQuestion = {
    line: draft.line,
    text: draft.text.join(" ").replace(/\s+/g, " ").trim(),
    choices: draft.options,
    choiceLines: draft.optionLines,
    correct,
  };
  checkDistinctChoices(question);
  return question;
}

/** Reads one line into the draft; returns the draft to go on with (null after ANSWER:). */
function readLine(
  draft: Draft | null,
  line: string,
  n: number,
  parsed: ParsedQuestion[],
): Draft | null {
  const option = OPTION.exec(line);
  const answer = ANSWER.exec(line);
  if (answer) {
    if (!draft) {
      throw new LineProblem(n, "ANSWER: without a question before it");
    }
    parsed.push(finish(draft, answer[1].trim(), n));
    return null;
  }
  if (option) {
    if (!draft) {
      throw new LineProblem(
        n,
        `option ${option[1]} without a question before it`,
      );
    }
    if ((option[2] ?? "").trim() === "") {
      throw new LineProblem(n, `empty option ${option[1]}`);
    }
    addOption(draft, option[1], option[2] ?? "", n);
    return draft;
  }
  if (draft && draft.options.length > 0) {
    throw new LineProblem(
      draft.line,
      "no ANSWER: line after this question's options",
    );
  }
  if (draft) {
    draft.text.push(line);
    return draft;
  }
  return { line: n, text: [line], letters: [], options: [], optionLines: [] };
}

/**
 * Parses an Aiken file's text into a quiz whose id (and title) is the file name without
 * extension. Throws a QuizFileError listing every problem as `file:line: reason`.
 */
export function parseAiken(source: string, file: string): Quiz {
  const id = quizIdOf(file);
  const problems: LineProblem[] = [];
  const parsed: ParsedQuestion[] = [];
  let draft: Draft | null = null;
  let skipping = false; // after a problem, skip to the next ANSWER: or blank line
  for (const [i, raw] of linesOf(source).entries()) {
    const line = raw.trim();
    if (line === "") {
      if (skipping) [skipping, draft] = [false, null];
      continue;
    }
    if (skipping) {
      if (ANSWER.test(line)) [skipping, draft] = [false, null];
      continue;
    }
    try {
      draft = readLine(draft, line, i + 1, parsed);
    } catch (error) {
      if (!(error instanceof LineProblem)) throw error;
      problems.push(error);
      skipping = !ANSWER.test(line);
      draft = null;
    }
  }
  if (draft) {
    problems.push(
      new LineProblem(draft.line, "no ANSWER: line for this question"),
    );
  }
  const questions = identify(parsed, problems);
  if (questions.length === 0 && problems.length === 0) {
    problems.push(new LineProblem(1, "no questions"));
  }
  throwProblems(file, problems);
  return { id, title: id, description: "", questions };
}
