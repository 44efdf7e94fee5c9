/**
 * `deno task quiz check FILE...`: parses GIFT (`.gift`) and Aiken (`.aiken`) quiz files as the
 * server would and prints, for each, `FILE: ok: N questions` or its problems, one
 * `file:line: reason` per line (on stderr).
 *
 * Exit codes: 0 when every file is fine, 1 when any has a problem, 2 for usage errors.
 */
import { QuizFileError, readQuizFile } from "../quiz/files.ts";

const USAGE = `usage: deno task quiz check FILE...

Parses each GIFT (.gift) or Aiken (.aiken) quiz file and prints "ok: N questions" or its
problems as file:line: reason. The file name (without extension) is the quiz id.`;

/** One line of the report; `problem` lines go to stderr and make the exit code 1. */
export interface ReportLine {
  text: string;
  problem: boolean;
}

/** Where to read `file`: `deno task` runs in the project, so relative names start from INIT_CWD. */
function pathOf(file: string, cwd: string | undefined): string {
  return cwd === undefined || file.startsWith("/") ? file : `${cwd}/${file}`;
}

async function checkFile(file: string, cwd?: string): Promise<ReportLine[]> {
  try {
    const { questions } = await readQuizFile(file, pathOf(file, cwd));
    const noun = questions.length === 1 ? "question" : "questions";
    return [{
      text: `${file}: ok: ${questions.length} ${noun}`,
      problem: false,
    }];
  } catch (error) {
    if (error instanceof QuizFileError) {
      return error.problems.map((text) => ({ text, problem: true }));
    }
    if (error instanceof Deno.errors.NotFound) {
      return [{ text: `${file}: no such file`, problem: true }];
    }
    if (error instanceof Error && error.name in Deno.errors) {
      return [{
        text: `${file}: cannot read it (${error.name})`,
        problem: true,
      }];
    }
    throw error;
  }
}

/** The report for `files` (relative to `cwd` when given), in the order given. */
export async function checkFiles(
  files: string[],
  cwd?: string,
): Promise<ReportLine[]> {
  const report: ReportLine[] = [];
  for (const file of files) report.push(...await checkFile(file, cwd));
  return report;
}

/** Runs the command; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "-h" || argv[0] === "--help") {
    console.log(USAGE);
    return 0;
  }
  if (argv[0] !== "check" || argv.length < 2) {
    console.error(USAGE);
    return 2;
  }
  const report = await checkFiles(argv.slice(1), Deno.env.get("INIT_CWD"));
  for (const line of report) {
    if (line.problem) console.error(line.text);
    else console.log(line.text);
  }
  return report.some((line) => line.problem) ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
