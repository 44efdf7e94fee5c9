/**
 * `deno task crash [--kills 20] [--stalls 4] [--seed 1] [--clients 32]`: the crash test of
 * SECURITY.md ("Reliability tests to keep", 1).
 *
 * Drives the real server (`deno run -A main.ts` on a temporary KV file) with many sessions
 * answering quiz questions and visiting pages, recording every request sent and every write
 * acknowledged (a 2xx received). At seeded random moments the server is killed with SIGKILL
 * and restarted on the same KV file; between kills it is sometimes frozen with SIGSTOP and
 * thawed with SIGCONT (every request in flight must then complete, none may fail). While the
 * load runs, a session whose cookie was acknowledged must never be replaced by a new one, and
 * an answer never sent must never be "already answered". Afterwards, on the last server:
 *
 * - the site's hit counter lies within [acknowledged, attempted] counted requests,
 * - every acknowledged session is alive, its visit counter within its own [acknowledged, attempted],
 * - every acknowledged answer is stored: `/api/me` counts it and answering again gets a 409.
 *
 * `tests/crash_test.ts` runs a shorter version of the same in CI. Exit status 0 when nothing
 * was lost, 1 otherwise.
 */
import { parseArgs } from "node:util";
import { type Server, startServer } from "../tests/helpers.ts";

export interface CrashOptions {
  kills: number;
  stalls: number;
  seed: number;
  clients: number;
  /** Load time before each kill or stall, in ms: a seeded random pick in [min, max]. */
  minUpMs: number;
  maxUpMs: number;
  /** How long a SIGSTOP lasts, in ms (kept under the app's 5 s store timeout). */
  stallMs: number;
  log?: (line: string) => void;
}

export const DEFAULTS: CrashOptions = {
  kills: 20,
  stalls: 4,
  seed: 1,
  clients: 32,
  minUpMs: 300,
  maxUpMs: 1500,
  stallMs: 1500,
};

/** mulberry32: the same kill times and choices for the same seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Question {
  quizId: string;
  id: string;
  choices: number;
}

/** One simulated browser: its cookie and what the server acknowledged to it. */
interface SessionLog {
  cookie: string;
  /** Counted requests that reached the server with this cookie / were answered 2xx. */
  attemptedVisits: number;
  ackedVisits: number;
  /** "quizId/questionId" of answers acknowledged (200) / sent without an answer. */
  acked: Set<string>;
  unknown: Set<string>;
}

export interface CrashReport {
  options: CrashOptions;
  seconds: number;
  kills: number;
  stalls: number;
  /** Time from SIGKILL to the restarted server answering /healthz, in ms. */
  restartMs: { min: number; median: number; max: number };
  /** Requests that reached (or may have reached) a server / answered 2xx. */
  attempted: number;
  acknowledged: number;
  /** Requests sent while no server was up (connection refused): never counted. */
  refused: number;
  networkErrors: number;
  answersAcked: number;
  answersUnknown: number;
  sessions: number;
  /** The site's hit counter after the run (the checking request excluded). */
  hits: number;
  /** Requests in flight when a SIGSTOP came, all of which completed after SIGCONT. */
  stalledInFlight: number;
  stalledCompleted: number;
  /** Everything that went wrong: empty when nothing was lost. */
  violations: string[];
}

const JSON_HEADERS = { "content-type": "application/json" };

export async function runCrash(
  partial: Partial<CrashOptions> = {},
): Promise<CrashReport> {
  const o: CrashOptions = { ...DEFAULTS, ...partial };
  const log = o.log ?? (() => {});
  const r = rng(o.seed);
  const dir = await Deno.makeTempDir({ prefix: "mcq-crash-" });
  const env = {
    KV_PATH: `${dir}/crash.sqlite3`,
    PBKDF2_ITERATIONS: "1000",
  };
  const violations: string[] = [];
  const violate = (v: string) => {
    if (violations.length < 50) violations.push(v);
    log(`VIOLATION: ${v}`);
  };

  let server: Server = await startServer(env);
  const started = performance.now();

  // The question bank, read once (these requests count as hits too).
  let attempted = 0;
  let acknowledged = 0;
  let refused = 0;
  let networkErrors = 0;
  const questions: Question[] = [];
  {
    attempted++;
    const list = await fetch(`${server.url}/api/quizzes`);
    acknowledged++;
    for (const { id } of await list.json() as { id: string }[]) {
      attempted++;
      const res = await fetch(`${server.url}/api/quizzes/${id}`);
      acknowledged++;
      const quiz = await res.json() as {
        questions: { id: string; choices: unknown[] }[];
      };
      for (const q of quiz.questions) {
        questions.push({ quizId: id, id: q.id, choices: q.choices.length });
      }
    }
  }

  const sessions: SessionLog[] = [];
  let stopping = false;
  /** Requests in flight, so a stall can check that every one of them completes. */
  let nextRequest = 0;
  const inFlight = new Map<number, string>();
  const outcome = new Map<number, "ok" | "error">();
  let watching = false;
  /** False from just before a SIGKILL until the next server answers. */
  let up = true;

  type Result = { res: Response; text: string } | "refused" | "error";

  async function send(
    path: string,
    init: RequestInit & { cookie?: string },
  ): Promise<Result> {
    const id = nextRequest++;
    // Whether a server was up when this request started: a request sent to a live server
    // that is then killed can end in "connection refused" after all, when the client retries
    // it on a new connection, although the first attempt reached the server and was served.
    const toLiveServer = up;
    const headers = new Headers(init.headers);
    if (init.cookie) headers.set("cookie", init.cookie);
    inFlight.set(id, path);
    try {
      const res = await fetch(server.url + path, { ...init, headers });
      const text = await res.text().catch(() => "");
      if (watching) outcome.set(id, "ok");
      return { res, text };
    } catch (error) {
      if (watching) outcome.set(id, "error");
      // Nothing listening: the request never reached a server.
      const why = `${error} ${(error as Error).cause ?? ""}`;
      if (!toLiveServer && /Connection refused|ECONNREFUSED/i.test(why)) {
        return "refused";
      }
      return "error";
    } finally {
      inFlight.delete(id);
    }
  }

  const newId = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      if (c.startsWith("sessionId=")) return c.split(";")[0];
    }
    return null;
  };

  async function client(c: number) {
    const cr = rng(o.seed * 7919 + c);
    let current: SessionLog | null = null;
    while (!stopping) {
      const open = current
        ? questions.filter((q) =>
          !current!.acked.has(`${q.quizId}/${q.id}`) &&
          !current!.unknown.has(`${q.quizId}/${q.id}`)
        )
        : [];
      // A browser that has answered everything starts over with a new session.
      if (current && open.length === 0) current = null;
      const cookie = current?.cookie;
      const answer = current !== null && cr.next() < 0.6;
      let question: Question | undefined;
      let result: Result;
      if (answer) {
        question = open[cr.int(open.length)];
        result = await send(`/api/quizzes/${question.quizId}/answers`, {
          method: "POST",
          cookie,
          headers: JSON_HEADERS,
          body: JSON.stringify({
            questionId: question.id,
            choice: cr.int(question.choices),
          }),
        });
      } else {
        const q = questions[cr.int(questions.length)];
        const path = [
          "/",
          "/api/me",
          `/quiz/${q.quizId}`,
          "/api/quizzes",
        ][cr.int(4)];
        result = await send(path, { cookie });
      }
      if (result === "refused") {
        refused++;
        await sleep(20);
        continue;
      }
      attempted++;
      if (current) current.attemptedVisits++;
      const key = question && `${question.quizId}/${question.id}`;
      if (result === "error") {
        networkErrors++;
        if (key) current!.unknown.add(key);
        await sleep(20);
        continue;
      }
      const { res, text } = result;
      if (res.status >= 500) {
        // A 503 while the store reopens is allowed; it acknowledges nothing.
        if (res.status !== 503) violate(`${res.status} on ${res.url}: ${text}`);
        if (key) current!.unknown.add(key);
        await sleep(20);
        continue;
      }
      if (res.status === 409 && key) {
        violate(
          `answer ${key} never sent before was "already answered": ${text}`,
        );
        continue;
      }
      if (res.status !== 200) {
        violate(`${res.status} on ${res.url}: ${text.slice(0, 200)}`);
        continue;
      }
      acknowledged++;
      const set = newId(res);
      if (current && set && set !== current.cookie) {
        violate(
          `an acknowledged session was replaced by a new one (${
            current.cookie.slice(10, 18)
          }…: ${current.ackedVisits} visits acknowledged)`,
        );
        current = null;
      }
      if (!current) {
        if (!set) {
          violate(`a first visit got no cookie: ${res.url}`);
          continue;
        }
        current = {
          cookie: set,
          attemptedVisits: 1,
          ackedVisits: 0,
          acked: new Set(),
          unknown: new Set(),
        };
        sessions.push(current);
      }
      current.ackedVisits++;
      if (key) current.acked.add(key);
    }
  }

  const clients = Array.from({ length: o.clients }, (_, c) => client(c));

  // The kills and stalls, in a seeded order.
  const plan: ("kill" | "stall")[] = [
    ...Array(o.kills).fill("kill"),
    ...Array(o.stalls).fill("stall"),
  ];
  for (let i = plan.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  const restartTimes: number[] = [];
  let kills = 0;
  let stalls = 0;
  let stalledInFlight = 0;
  let stalledCompleted = 0;
  try {
    for (const step of plan) {
      await sleep(o.minUpMs + r.int(o.maxUpMs - o.minUpMs + 1));
      if (step === "kill") {
        const t0 = performance.now();
        up = false;
        await server.stop("SIGKILL");
        server = await startServer(env);
        up = true;
        restartTimes.push(performance.now() - t0);
        kills++;
        log(
          `kill ${kills}: restarted in ${
            Math.round(restartTimes.at(-1)!)
          } ms; ${acknowledged} acknowledged so far`,
        );
        continue;
      }
      // SIGSTOP: requests in flight (and new ones) wait; after SIGCONT all of them complete.
      outcome.clear();
      watching = true;
      server.child.kill("SIGSTOP");
      await sleep(100);
      const frozen = [...inFlight.keys()];
      await sleep(Math.max(0, o.stallMs - 100));
      server.child.kill("SIGCONT");
      const deadline = performance.now() + 10_000;
      while (
        frozen.some((id) => !outcome.has(id)) && performance.now() < deadline
      ) await sleep(10);
      watching = false;
      stalls++;
      stalledInFlight += frozen.length;
      const completed = frozen.filter((id) => outcome.get(id) === "ok").length;
      stalledCompleted += completed;
      if (completed !== frozen.length) {
        violate(
          `stall ${stalls}: ${completed} of ${frozen.length} requests in flight completed after SIGCONT`,
        );
      }
      log(`stall ${stalls}: ${completed}/${frozen.length} in flight completed`);
    }
    await sleep(o.minUpMs);
  } finally {
    stopping = true;
    await Promise.all(clients);
  }

  // ------------------------------------------------------------------ the checks
  // First, the hit counter: /api/me reports it including this very request.
  const me = await fetch(`${server.url}/api/me`);
  const hits = (await me.json()).hits - 1;
  if (hits < acknowledged || hits > attempted) {
    violate(
      `hits ${hits} outside [acknowledged ${acknowledged}, attempted ${attempted}]`,
    );
  }
  let answersAcked = 0;
  let answersUnknown = 0;
  for (const s of sessions) {
    answersAcked += s.acked.size;
    answersUnknown += s.unknown.size;
    const res = await fetch(`${server.url}/api/me`, {
      headers: { cookie: s.cookie },
    });
    const body = await res.json();
    const set = newId(res);
    if (res.status !== 200 || (set && set !== s.cookie)) {
      violate(
        `session ${
          s.cookie.slice(10, 18)
        }… lost (${s.ackedVisits} visits, ${s.acked.size} answers acknowledged)`,
      );
      continue;
    }
    const visits = body.visits - 1;
    if (visits < s.ackedVisits || visits > s.attemptedVisits) {
      violate(
        `session ${
          s.cookie.slice(10, 18)
        }…: visits ${visits} outside [${s.ackedVisits}, ${s.attemptedVisits}]`,
      );
    }
    const perQuiz = new Map<string, { acked: number; unknown: number }>();
    for (
      const [keys, field] of [[s.acked, "acked"], [
        s.unknown,
        "unknown",
      ]] as const
    ) {
      for (const key of keys) {
        const quizId = key.split("/")[0];
        const n = perQuiz.get(quizId) ?? { acked: 0, unknown: 0 };
        n[field]++;
        perQuiz.set(quizId, n);
      }
    }
    for (const [quizId, n] of perQuiz) {
      const answered = body.scores[quizId]?.answered ?? 0;
      if (answered < n.acked || answered > n.acked + n.unknown) {
        violate(
          `session ${
            s.cookie.slice(10, 18)
          }… quiz ${quizId}: ${answered} answered, ${n.acked} acknowledged, ${n.unknown} unknown`,
        );
      }
    }
    // Each acknowledged answer is there: answering it again is refused.
    for (const key of s.acked) {
      const [quizId, questionId] = key.split("/");
      const again = await fetch(`${server.url}/api/quizzes/${quizId}/answers`, {
        method: "POST",
        headers: { ...JSON_HEADERS, cookie: s.cookie },
        body: JSON.stringify({ questionId, choice: 0 }),
      });
      await again.body?.cancel();
      if (again.status !== 409) {
        violate(
          `acknowledged answer ${key} of ${
            s.cookie.slice(10, 18)
          }… is gone (${again.status})`,
        );
      }
    }
  }
  const exit = await server.stop("SIGTERM");
  if (exit.code !== 0) violate(`the last server exited with ${exit.code}`);
  await Deno.remove(dir, { recursive: true });

  const sorted = [...restartTimes].sort((a, b) => a - b);
  return {
    options: { ...o, log: undefined },
    seconds: Math.round((performance.now() - started) / 1000),
    kills,
    stalls,
    restartMs: {
      min: Math.round(sorted[0] ?? 0),
      median: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
      max: Math.round(sorted.at(-1) ?? 0),
    },
    attempted,
    acknowledged,
    refused,
    networkErrors,
    answersAcked,
    answersUnknown,
    sessions: sessions.length,
    hits,
    stalledInFlight,
    stalledCompleted,
    violations,
  };
}

export function summary(report: CrashReport): string {
  const o = report.options;
  return [
    `Crash: seed ${o.seed}, ${o.clients} clients, ${report.kills} × SIGKILL + restart, ${report.stalls} × SIGSTOP ${o.stallMs} ms/SIGCONT, load ${o.minUpMs}–${o.maxUpMs} ms between; ${Deno.build.os}/${Deno.build.arch}, deno ${Deno.version.deno}`,
    "",
    `- run: ${report.seconds} s; restart (SIGKILL → /healthz 200): min ${report.restartMs.min} ms, median ${report.restartMs.median} ms, max ${report.restartMs.max} ms`,
    `- requests: ${report.attempted} attempted (reached a server), ${report.acknowledged} acknowledged (2xx), ${report.networkErrors} cut by a kill, ${report.refused} refused while down`,
    `- hit counter after the run: ${report.hits} (within [${report.acknowledged}, ${report.attempted}]: ${
      report.hits >= report.acknowledged && report.hits <= report.attempted
        ? "yes"
        : "NO"
    })`,
    `- sessions acknowledged: ${report.sessions}, all checked alive with visits within their bounds`,
    `- answers: ${report.answersAcked} acknowledged (each found stored: a second answer gets 409), ${report.answersUnknown} cut by a kill (stored or not, never twice)`,
    `- stalls: ${report.stalledCompleted} of ${report.stalledInFlight} requests in flight at SIGSTOP completed after SIGCONT`,
    `- violations: ${report.violations.length}${
      report.violations.length
        ? "\n  - " + report.violations.join("\n  - ")
        : ""
    }`,
  ].join("\n");
}

const USAGE =
  "usage: deno task crash [--kills 20] [--stalls 4] [--seed 1] [--clients 32] [--json FILE]";

type CrashArgs =
  & Pick<CrashOptions, "kills" | "stalls" | "seed" | "clients">
  & { json?: string };

/** The options of `deno task crash`, or "help"; prints usage and exits 2 on a bad argument. */
function parseCrashArgs(args: string[]): CrashArgs | "help" {
  const usage = (message: string): never => {
    console.error(`crash: ${message}\n${USAGE}`);
    Deno.exit(2);
  };
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        kills: { type: "string", default: String(DEFAULTS.kills) },
        stalls: { type: "string", default: String(DEFAULTS.stalls) },
        seed: { type: "string", default: String(DEFAULTS.seed) },
        clients: { type: "string", default: String(DEFAULTS.clients) },
        json: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    return usage((error as Error).message);
  }
  if (values.help) return "help";
  const int = (name: string, raw: string) =>
    /^\d+$/.test(raw)
      ? Number(raw)
      : usage(`--${name} must be a whole number, not ${raw}`);
  return {
    kills: int("kills", values.kills),
    stalls: int("stalls", values.stalls),
    seed: int("seed", values.seed),
    clients: Math.max(1, int("clients", values.clients)),
    json: values.json,
  };
}

if (import.meta.main) {
  const opts = parseCrashArgs(Deno.args);
  if (opts === "help") {
    console.log(USAGE);
    Deno.exit(0);
  }
  const { json, ...options } = opts;
  const report = await runCrash({
    ...options,
    log: (line) => console.error(`crash: ${line}`),
  });
  console.log(summary(report));
  if (json) await Deno.writeTextFile(json, JSON.stringify(report, null, 2));
  Deno.exit(report.violations.length === 0 ? 0 : 1);
}
