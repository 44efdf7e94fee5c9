/**
 * `deno task crash [--kills 20] [--stalls 4] [--seed 1] [--clients 32]`: the crash test of
 * docs/RELIABILITY.md, section 1.
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
import { type Rng, rng } from "../tests/support/rng.ts";

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

type Result = { res: Response; text: string } | "refused" | "error";

const newId = (res: Response) => {
  for (const c of res.headers.getSetCookie()) {
    if (c.startsWith("sessionId=")) return c.split(";")[0];
  }
  return null;
};

/** A session's cookie, shortened for the report. */
const short = (s: SessionLog) => s.cookie.slice(10, 18);

/** One crash run: the server, the clients' load, the kills and stalls, the checks. */
class CrashRun {
  readonly violations: string[] = [];
  readonly log: (line: string) => void;
  readonly env: Record<string, string>;
  server!: Server;
  attempted = 0;
  acknowledged = 0;
  refused = 0;
  networkErrors = 0;
  readonly questions: Question[] = [];
  readonly sessions: SessionLog[] = [];
  stopping = false;
  /** Requests in flight, so a stall can check that every one of them completes. */
  nextRequest = 0;
  readonly inFlight = new Map<number, string>();
  readonly outcome = new Map<number, "ok" | "error">();
  watching = false;
  /** False from just before a SIGKILL until the next server answers. */
  up = true;
  readonly restartTimes: number[] = [];
  kills = 0;
  stalls = 0;
  stalledInFlight = 0;
  stalledCompleted = 0;

  constructor(readonly o: CrashOptions, readonly dir: string) {
    this.log = o.log ?? (() => {});
    this.env = { KV_PATH: `${dir}/crash.sqlite3`, PBKDF2_ITERATIONS: "1000" };
  }

  violate(v: string) {
    if (this.violations.length < 50) this.violations.push(v);
    this.log(`VIOLATION: ${v}`);
  }

  /** The question bank, read once (these requests count as hits too). */
  async readBank() {
    this.attempted++;
    const list = await fetch(`${this.server.url}/api/quizzes`);
    this.acknowledged++;
    for (const { id } of await list.json() as { id: string }[]) {
      this.attempted++;
      const res = await fetch(`${this.server.url}/api/quizzes/${id}`);
      this.acknowledged++;
      const quiz = await res.json() as {
        questions: { id: string; choices: unknown[] }[];
      };
      for (const q of quiz.questions) {
        this.questions.push({
          quizId: id,
          id: q.id,
          choices: q.choices.length,
        });
      }
    }
  }

  async send(
    path: string,
    init: RequestInit & { cookie?: string },
  ): Promise<Result> {
    const id = this.nextRequest++;
    // Whether a server was up when this request started: a request sent to a live server
    // that is then killed can end in "connection refused" after all, when the client retries
    // it on a new connection, although the first attempt reached the server and was served.
    const toLiveServer = this.up;
    const headers = new Headers(init.headers);
    if (init.cookie) headers.set("cookie", init.cookie);
    this.inFlight.set(id, path);
    try {
      const res = await fetch(this.server.url + path, { ...init, headers });
      const text = await res.text().catch(() => "");
      if (this.watching) this.outcome.set(id, "ok");
      return { res, text };
    } catch (error) {
      if (this.watching) this.outcome.set(id, "error");
      // Nothing listening: the request never reached a server.
      const why = `${error} ${(error as Error).cause ?? ""}`;
      if (!toLiveServer && /Connection refused|ECONNREFUSED/i.test(why)) {
        return "refused";
      }
      return "error";
    } finally {
      this.inFlight.delete(id);
    }
  }

  /** A browser's next request: an answer to an open question (60 %) or a page. */
  async request(cr: Rng, current: SessionLog | null, open: Question[]) {
    const cookie = current?.cookie;
    if (current !== null && cr.next() < 0.6) {
      const question = open[cr.int(open.length)];
      const result = await this.send(
        `/api/quizzes/${question.quizId}/answers`,
        {
          method: "POST",
          cookie,
          headers: JSON_HEADERS,
          body: JSON.stringify({
            questionId: question.id,
            choice: cr.int(question.choices),
          }),
        },
      );
      return { question, result };
    }
    const q = this.questions[cr.int(this.questions.length)];
    const path =
      ["/", "/api/me", `/quiz/${q.quizId}`, "/api/quizzes"][cr.int(4)];
    return { question: undefined, result: await this.send(path, { cookie }) };
  }

  /** What a request's result tells; returns the browser's session from then on. */
  async record(
    current: SessionLog | null,
    question: Question | undefined,
    result: Result,
  ): Promise<SessionLog | null> {
    if (result === "refused") {
      this.refused++;
      await sleep(20);
      return current;
    }
    this.attempted++;
    if (current) current.attemptedVisits++;
    const key = question && `${question.quizId}/${question.id}`;
    if (result === "error") {
      this.networkErrors++;
      if (key) current!.unknown.add(key);
      await sleep(20);
      return current;
    }
    const { res, text } = result;
    if (res.status >= 500) {
      // A 503 while the store reopens is allowed; it acknowledges nothing.
      if (res.status !== 503) {
        this.violate(`${res.status} on ${res.url}: ${text}`);
      }
      if (key) current!.unknown.add(key);
      await sleep(20);
      return current;
    }
    if (res.status === 409 && key) {
      this.violate(
        `answer ${key} never sent before was "already answered": ${text}`,
      );
      return current;
    }
    if (res.status !== 200) {
      this.violate(`${res.status} on ${res.url}: ${text.slice(0, 200)}`);
      return current;
    }
    return this.acknowledge(current, res, key);
  }

  /** A 200: counted, and the session it belongs to (a new one on a first visit). */
  acknowledge(
    current: SessionLog | null,
    res: Response,
    key: string | undefined,
  ): SessionLog | null {
    this.acknowledged++;
    const set = newId(res);
    if (current && set && set !== current.cookie) {
      this.violate(
        `an acknowledged session was replaced by a new one (${
          short(current)
        }…: ${current.ackedVisits} visits acknowledged)`,
      );
      current = null;
    }
    if (!current) {
      if (!set) {
        this.violate(`a first visit got no cookie: ${res.url}`);
        return null;
      }
      current = {
        cookie: set,
        attemptedVisits: 1,
        ackedVisits: 0,
        acked: new Set(),
        unknown: new Set(),
      };
      this.sessions.push(current);
    }
    current.ackedVisits++;
    if (key) current.acked.add(key);
    return current;
  }

  async client(c: number) {
    const cr = rng(this.o.seed * 7919 + c);
    let current: SessionLog | null = null;
    while (!this.stopping) {
      const s: SessionLog | null = current;
      const open = s
        ? this.questions.filter((q) =>
          !s.acked.has(`${q.quizId}/${q.id}`) &&
          !s.unknown.has(`${q.quizId}/${q.id}`)
        )
        : [];
      // A browser that has answered everything starts over with a new session.
      if (current && open.length === 0) current = null;
      const { question, result } = await this.request(cr, current, open);
      current = await this.record(current, question, result);
    }
  }

  async kill() {
    const t0 = performance.now();
    this.up = false;
    await this.server.stop("SIGKILL");
    this.server = await startServer(this.env);
    this.up = true;
    this.restartTimes.push(performance.now() - t0);
    this.kills++;
    this.log(
      `kill ${this.kills}: restarted in ${
        Math.round(this.restartTimes.at(-1)!)
      } ms; ${this.acknowledged} acknowledged so far`,
    );
  }

  /** SIGSTOP: requests in flight (and new ones) wait; after SIGCONT all of them complete. */
  async stall() {
    this.outcome.clear();
    this.watching = true;
    this.server.child.kill("SIGSTOP");
    await sleep(100);
    const frozen = [...this.inFlight.keys()];
    await sleep(Math.max(0, this.o.stallMs - 100));
    this.server.child.kill("SIGCONT");
    const deadline = performance.now() + 10_000;
    while (
      frozen.some((id) => !this.outcome.has(id)) && performance.now() < deadline
    ) await sleep(10);
    this.watching = false;
    this.stalls++;
    this.stalledInFlight += frozen.length;
    const completed =
      frozen.filter((id) => this.outcome.get(id) === "ok").length;
    this.stalledCompleted += completed;
    if (completed !== frozen.length) {
      this.violate(
        `stall ${this.stalls}: ${completed} of ${frozen.length} requests in flight completed after SIGCONT`,
      );
    }
    this.log(
      `stall ${this.stalls}: ${completed}/${frozen.length} in flight completed`,
    );
  }

  /** The kills and stalls, in a seeded order, under the clients' load. */
  async load(r: Rng) {
    const clients = Array.from(
      { length: this.o.clients },
      (_, c) => this.client(c),
    );
    const plan: ("kill" | "stall")[] = [
      ...Array(this.o.kills).fill("kill"),
      ...Array(this.o.stalls).fill("stall"),
    ];
    for (let i = plan.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [plan[i], plan[j]] = [plan[j], plan[i]];
    }
    try {
      for (const step of plan) {
        await sleep(
          this.o.minUpMs + r.int(this.o.maxUpMs - this.o.minUpMs + 1),
        );
        if (step === "kill") await this.kill();
        else await this.stall();
      }
      await sleep(this.o.minUpMs);
    } finally {
      this.stopping = true;
      await Promise.all(clients);
    }
  }

  /** The hit counter: /api/me reports it including this very request. */
  async checkHits(): Promise<number> {
    const me = await fetch(`${this.server.url}/api/me`);
    const hits = (await me.json()).hits - 1;
    if (hits < this.acknowledged || hits > this.attempted) {
      this.violate(
        `hits ${hits} outside [acknowledged ${this.acknowledged}, attempted ${this.attempted}]`,
      );
    }
    return hits;
  }

  /** A session is alive, its visits and scores within what was acknowledged and sent. */
  async checkSession(s: SessionLog) {
    const res = await fetch(`${this.server.url}/api/me`, {
      headers: { cookie: s.cookie },
    });
    const body = await res.json();
    const set = newId(res);
    if (res.status !== 200 || (set && set !== s.cookie)) {
      this.violate(
        `session ${
          short(s)
        }… lost (${s.ackedVisits} visits, ${s.acked.size} answers acknowledged)`,
      );
      return;
    }
    const visits = body.visits - 1;
    if (visits < s.ackedVisits || visits > s.attemptedVisits) {
      this.violate(
        `session ${
          short(s)
        }…: visits ${visits} outside [${s.ackedVisits}, ${s.attemptedVisits}]`,
      );
    }
    this.checkScores(s, body.scores);
    await this.checkAnswersStored(s);
  }

  checkScores(s: SessionLog, scores: Record<string, { answered: number }>) {
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
      const answered = scores[quizId]?.answered ?? 0;
      if (answered < n.acked || answered > n.acked + n.unknown) {
        this.violate(
          `session ${
            short(s)
          }… quiz ${quizId}: ${answered} answered, ${n.acked} acknowledged, ${n.unknown} unknown`,
        );
      }
    }
  }

  /** Each acknowledged answer is there: answering it again is refused. */
  async checkAnswersStored(s: SessionLog) {
    for (const key of s.acked) {
      const [quizId, questionId] = key.split("/");
      const again = await fetch(
        `${this.server.url}/api/quizzes/${quizId}/answers`,
        {
          method: "POST",
          headers: { ...JSON_HEADERS, cookie: s.cookie },
          body: JSON.stringify({ questionId, choice: 0 }),
        },
      );
      await again.body?.cancel();
      if (again.status !== 409) {
        this.violate(
          `acknowledged answer ${key} of ${
            short(s)
          }… is gone (${again.status})`,
        );
      }
    }
  }

  report(seconds: number, hits: number): CrashReport {
    const sorted = [...this.restartTimes].sort((a, b) => a - b);
    const sum = (f: (s: SessionLog) => number) =>
      this.sessions.reduce((n, s) => n + f(s), 0);
    return {
      options: { ...this.o, log: undefined },
      seconds,
      kills: this.kills,
      stalls: this.stalls,
      restartMs: {
        min: Math.round(sorted[0] ?? 0),
        median: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
        max: Math.round(sorted.at(-1) ?? 0),
      },
      attempted: this.attempted,
      acknowledged: this.acknowledged,
      refused: this.refused,
      networkErrors: this.networkErrors,
      answersAcked: sum((s) => s.acked.size),
      answersUnknown: sum((s) => s.unknown.size),
      sessions: this.sessions.length,
      hits,
      stalledInFlight: this.stalledInFlight,
      stalledCompleted: this.stalledCompleted,
      violations: this.violations,
    };
  }
}

export async function runCrash(
  partial: Partial<CrashOptions> = {},
): Promise<CrashReport> {
  const o: CrashOptions = { ...DEFAULTS, ...partial };
  const dir = await Deno.makeTempDir({ prefix: "mcq-crash-" });
  const run = new CrashRun(o, dir);
  run.server = await startServer(run.env);
  const started = performance.now();
  await run.readBank();
  await run.load(rng(o.seed));
  // The checks, on the last server.
  const hits = await run.checkHits();
  for (const s of run.sessions) await run.checkSession(s);
  const exit = await run.server.stop("SIGTERM");
  if (exit.code !== 0) run.violate(`the last server exited with ${exit.code}`);
  await Deno.remove(dir, { recursive: true });
  return run.report(Math.round((performance.now() - started) / 1000), hits);
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
