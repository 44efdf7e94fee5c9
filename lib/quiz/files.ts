/**
 * Quizzes from files: every `*.gift` (Moodle GIFT, lib/quiz/gift.ts) and `*.aiken` (Aiken,
 * lib/quiz/aiken.ts) file of a directory is one quiz, its id the file name without extension.
 */
import type { Quiz } from "./bank.ts";
import { parseAiken } from "./aiken.ts";
import { parseGift } from "./gift.ts";
import { QuizFileError } from "./quiz_file.ts";

export { QuizFileError } from "./quiz_file.ts";

/** Whether `name` is a file the loader reads. */
export function isQuizFile(name: string): boolean {
  return /\.(gift|aiken)$/.test(name);
}

/**
 * Parses one quiz file's text, by its extension. `file` names it in errors and gives the quiz
 * id. Throws a QuizFileError (one `file:line: reason` per problem).
 */
export function parseQuizFile(file: string, source: string): Quiz {
  if (file.endsWith(".gift")) return parseGift(source, file);
  if (file.endsWith(".aiken")) return parseAiken(source, file);
  throw new QuizFileError([`${file}: not a .gift or .aiken file`]);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads and parses one quiz file; a file that is not UTF-8 is a QuizFileError, not mojibake.
 * `path` is where to read it when that differs from the name errors should show.
 */
export async function readQuizFile(file: string, path = file): Promise<Quiz> {
  const bytes = await Deno.readFile(path);
  let source: string;
  try {
    source = utf8.decode(bytes);
  } catch {
    throw new QuizFileError([`${file}: not UTF-8 text (save it as UTF-8)`]);
  }
  return parseQuizFile(file, source);
}

/**
 * Reads every `*.gift` and `*.aiken` file in `dir` (not its subdirectories), in file-name
 * order, and returns their quizzes. Throws one QuizFileError listing the problems of all
 * files, including two files with the same quiz id (`a.gift` and `a.aiken`).
 */
export async function loadQuizDir(dir: string): Promise<Quiz[]> {
  const base = dir.replace(/\/+$/, "");
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && isQuizFile(entry.name)) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new QuizFileError([`${base}: no such quiz directory`]);
  }
  // Code-unit order, not localeCompare: the same on every machine.
  names.sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
  const problems: string[] = [];
  const quizzes: Quiz[] = [];
  const fileOfId = new Map<string, string>();
  for (const name of names) {
    const file = `${base}/${name}`;
    try {
      const quiz = await readQuizFile(file);
      const other = fileOfId.get(quiz.id);
      if (other !== undefined) {
        problems.push(
          `${file}: quiz id ${JSON.stringify(quiz.id)} is also ${other}'s`,
        );
        continue;
      }
      fileOfId.set(quiz.id, file);
      quizzes.push(quiz);
    } catch (error) {
      if (!(error instanceof QuizFileError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) throw new QuizFileError(problems);
  return quizzes;
}
