/**
 * `deno task results QUIZ [--csv FILE]`: an instructor's statistics of one quiz in the
 * terminal (what /admin/quizzes/QUIZ shows), or its CSV written to FILE (`-`: stdout).
 *
 * Two sources, as `deno task sessions` has:
 * - the store itself (default): `--kv PATH`, else `KV_PATH`, else the app's default file;
 *   the quiz comes from `QUIZ_DIR` as the app reads it;
 * - a running server: `--url http://host:port` with `ADMIN_TOKEN` from the environment
 *   (GET /admin/quizzes/QUIZ/stats.json, or …/results.csv).
 *
 * Errors are one `error:` line; exit 1 for a failure, 2 for bad usage.
 */
import { DEFAULT_KV_PATH, DEFAULT_QUIZ_DIR } from "../base/config.ts";
import { loadQuizDir } from "../quiz/files.ts";
import { QuizResults, type QuizStats } from "../quiz/results.ts";

export const USAGE =
  `usage: deno task results QUIZ [--csv FILE] [--kv PATH | --url URL]

Prints a quiz's statistics: participants, mean score, and per question how many
answered, the facility and discrimination indexes and each choice's count.

  --csv FILE  write one CSV row per participant to FILE instead ("-": stdout)
  --kv PATH   read this Deno KV store (default: $KV_PATH, else ${DEFAULT_KV_PATH});
              the quiz is read from $QUIZ_DIR (default ${DEFAULT_QUIZ_DIR})
  --url URL   ask a running server instead, with the bearer token from $ADMIN_TOKEN
  -h, --help  this help

Exit status: 0 done, 1 failed, 2 bad usage.`;

export class UsageError extends Error {}
export class CliError extends Error {}

export interface Options {
  quiz: string;
  csv: string | null;
  source: { kind: "kv"; path: string } | { kind: "url"; url: URL };
}

/** Where `deno task` was typed: relative paths are meant from there. */
function fromInvocationDir(path: string, env: Env): string {
  if (path === "-" || path.startsWith("/") || /^https?:/.test(path)) {
    return path;
  }
  const dir = env.INIT_CWD;
  return dir ? `${dir.replace(/\/+$/, "")}/${path}` : path;
}

type Env = Record<string, string | undefined>;

/** Parses the command line; null means "print the help". */
export function parseOptions(argv: string[], env: Env): Options | null {
  const flags: Record<string, string> = {};
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") return null;
    if (!arg.startsWith("--")) {
      args.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    if (!["--csv", "--kv", "--url"].includes(flag)) {
      throw new UsageError(`unknown option ${arg} (see --help)`);
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (!value) throw new UsageError(`${flag} needs a value`);
    flags[flag] = value;
  }
  if (args.length !== 1) throw new UsageError("name one quiz (see --help)");
  if (flags["--kv"] && flags["--url"]) {
    throw new UsageError("give --kv or --url, not both");
  }
  const csv = flags["--csv"] ? fromInvocationDir(flags["--csv"], env) : null;
  if (flags["--url"]) {
    let url: URL;
    try {
      url = new URL(flags["--url"]);
    } catch {
      throw new UsageError(`--url ${flags["--url"]} is not a URL`);
    }
    return { quiz: args[0], csv, source: { kind: "url", url } };
  }
  const path = flags["--kv"]
    ? fromInvocationDir(flags["--kv"], env)
    : env.KV_PATH || DEFAULT_KV_PATH;
  if (path === ":memory:") {
    throw new UsageError("KV_PATH=:memory: has no store to read; use --url");
  }
  return { quiz: args[0], csv, source: { kind: "kv", path } };
}

/** The figures as a table, one question per block. */
export function formatStats(s: QuizStats): string {
  const n = (x: number | null) => x === null ? "-" : x.toFixed(2);
  const lines = [
    `${s.quiz.title} (${s.quiz.id}): ${s.participants} participants, mean score ${
      n(s.meanScore)
    } / ${s.questions.length}`,
    "",
    "question                        answered  correct  facility  discrimination",
  ];
  for (const q of s.questions) {
    lines.push(
      `${q.id.padEnd(31)} ${String(q.answered).padStart(8)} ${
        String(q.correct).padStart(8)
      } ${n(q.facility).padStart(9)} ${n(q.discrimination).padStart(15)}`,
    );
    for (const c of q.choices) {
      const mark = c.correct ? "*" : " ";
      lines.push(`    ${mark} ${String(c.count).padStart(6)}  ${c.text}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** The quiz's statistics and CSV stream from the store at `path`. */
async function fromStore(opts: Options, path: string, env: Env) {
  const bank = await loadQuizDir(env.QUIZ_DIR || DEFAULT_QUIZ_DIR).catch(
    (e) => {
      throw new CliError(`reading the quizzes: ${(e as Error).message}`);
    },
  );
  const quiz = bank.find((q) => q.id === opts.quiz);
  if (!quiz) throw new CliError(`no quiz ${opts.quiz} in the quiz folder`);
  if (!/^https?:/.test(path)) {
    const info = await Deno.stat(path).catch(() => null);
    if (!info?.isFile) throw new CliError(`no KV file at ${path}`);
  }
  const kv = await Deno.openKv(path);
  const results = new QuizResults(kv);
  return {
    stats: () => results.stats(quiz),
    csv: () => results.csv(quiz),
    close: () => kv.close(),
  };
}

/** The same from a running server's instructor routes. */
function fromServer(opts: Options, base: URL, token: string | undefined) {
  if (!token) {
    throw new UsageError("--url needs the server's admin token in ADMIN_TOKEN");
  }
  const get = async (file: string) => {
    const path = `/admin/quizzes/${encodeURIComponent(opts.quiz)}/${file}`;
    const res = await fetch(new URL(path, base), {
      headers: { authorization: `Bearer ${token}` },
      redirect: "manual",
    }).catch((e) => {
      throw new CliError(
        `cannot reach ${base.origin}: ${(e as Error).message}`,
      );
    });
    if (res.status === 200) return res;
    const body = await res.text();
    const reason = res.status === 401
      ? "the admin token was refused: check ADMIN_TOKEN"
      : res.status === 404
      ? "no such quiz, or ADMIN_TOKEN is not set on the server"
      : body.slice(0, 200);
    throw new CliError(`GET ${path} answered ${res.status}: ${reason}`);
  };
  return {
    stats: async () => await (await get("stats.json")).json() as QuizStats,
    csv: async () => (await get("results.csv")).body!,
    close: () => {},
  };
}

/** Runs the command; returns the exit status. */
export async function main(argv: string[], env: Env): Promise<number> {
  let opts: Options | null;
  try {
    opts = parseOptions(argv, env);
    if (!opts) {
      console.log(USAGE);
      return 0;
    }
    const { source } = opts;
    const from = source.kind === "url"
      ? fromServer(opts, source.url, env.ADMIN_TOKEN)
      : await fromStore(opts, source.path, env);
    try {
      if (opts.csv === null) {
        await Deno.stdout.write(
          new TextEncoder().encode(formatStats(await from.stats())),
        );
      } else {
        const out = opts.csv === "-"
          ? Deno.stdout.writable
          : (await Deno.open(opts.csv, {
            write: true,
            create: true,
            truncate: true,
          }))
            .writable;
        await (await from.csv()).pipeTo(out);
      }
    } finally {
      from.close();
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}`);
      return 2;
    }
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
}

/** The variables it reads, and no others (the task grants just these). */
export const ENV_NAMES = [
  "KV_PATH",
  "QUIZ_DIR",
  "ADMIN_TOKEN",
  "INIT_CWD",
  "DENO_KV_ACCESS_TOKEN",
];

if (import.meta.main) {
  const env = Object.fromEntries(ENV_NAMES.map((n) => [n, Deno.env.get(n)]));
  Deno.exit(await main(Deno.args, env));
}
