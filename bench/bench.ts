/**
 * `deno task bench`: the benchmark report.
 *
 * Starts, as subprocesses, a bare `Deno.serve` hello (bench/hello.ts), the app in both
 * session modes (`deno run -A main.ts` on a temporary KV file, `SESSION_MODE=kv` and
 * `SESSION_MODE=cookie`), and the peers (bench/peers/: Express 5 + express-session, a
 * Python `http.server` session server, Hono + @hono/session on Deno KV, Express +
 * connect-redis on Redis with appendfsync everysec and always, Flask + Flask-Session on
 * Redis under gunicorn, iron-session; each installed on first use, each Redis started for
 * its peer and stopped with it); drives each with wrk at the same concurrency and
 * prints req/s, p50, p99 and the ratio to hello for each scenario. After each counted run it
 * checks that the site's hit counter (and each session's visit counter) counted exactly the
 * requests the server answered; after the answer stream, that every acknowledged answer was
 * scored once. Then:
 *  - lost updates: 200 concurrent requests with ONE cookie against each server;
 *  - KV operations per request by route, from the app with an instrumented store
 *    (bench/instrumented.ts);
 *  - the group commit's batch sizes and commits per second under load (returning visitors,
 *    first visits, answers), under local SQLite's limits and under KV Connect's;
 *  - KV bytes per session, and RSS after 100,000 sessions (app and peers).
 * The Markdown report is also written to docs/BENCHMARKS.md (between its markers).
 *
 *   deno task bench [--duration 10] [--warmup 2] [--connections 50] [--threads 2]
 *                   [--visitors 200] [--quick] [--only id,id] [--skip id,id] [--sessions 100000]
 *                   (ids: scenarios, phases, or servers such as `hono,flask`)
 *                   [--out docs/BENCHMARKS.md | --no-write] [--keep] [--strict]
 *                   [--wait-quiet 60]
 *
 * To add a scenario, add a server to SERVERS (if it needs another process or environment)
 * and an entry to SCENARIOS; bench/wrk.lua already handles cookies, methods and bodies,
 * and lists of requests each sent once.
 */
import { parseArgs } from "node:util";
import { CONFIG_VARS } from "../lib/base/config.ts";
import type { GroupCommitStats } from "../lib/sessions/group_commit.ts";
import { KNOWN_TTL_MS } from "../lib/sessions/memory.ts";
import {
  keyBytes,
  STORE_LIMITS,
  type StoreCounts,
  type StoreLimitsName,
  valueBytes,
} from "./instrumented.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const WRK_SCRIPT = `${ROOT}bench/wrk.lua`;
const COOKIE_NAME = "sessionId";
/** The cookie-mode servers' secret: any 32+ characters; only this run's servers use it. */
const COOKIE_SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
/** Concurrent requests with one cookie in the lost-update check. */
const LOST_UPDATE_REQUESTS = 200;
/** Answers per second the first answer list is sized for (a generous upper bound). */
const ANSWER_RATE_CAP = 6000;

// ---------------------------------------------------------------------------------------
// What is measured

interface ServerSpec {
  /** What the report says it is. */
  describe: string;
  /** The command; "{deno}" is this Deno, run from `cwd` (default: the project root). */
  cmd: string[];
  cwd?: string;
  /**
   * Extra environment (PORT and HOST are set by the bench); `{tmp}` is the temp dir, `{tag}`
   * the name this start was given (the server's name unless told otherwise).
   */
  env?: Record<string, string>;
  /** A path that answers 200 once the server is ready. */
  ready: string;
  /** "app": mcq-edge (hits and visits at /api/me); "peer": hits and visits on its page. */
  kind: "hello" | "app" | "peer";
  /** Its main thread does not run the requests (Python: the accept loop; threads do). */
  noJsThread?: boolean;
  /** The visit count travels in the cookie (cookie mode): no server-side visits to check. */
  visitsInCookie?: boolean;
  /** Run once before the first start (e.g. installing the peer's packages). */
  prepare?: () => Promise<void>;
  /**
   * Its own Redis, started first (free port, AOF in the temp dir, this appendfsync) and
   * stopped with it; the server gets its address as REDIS_URL.
   */
  redis?: "everysec" | "always";
}

const EXPRESS_DIR = `${ROOT}bench/peers/express`;
const EXPRESS_REDIS_DIR = `${ROOT}bench/peers/express-redis`;
const IRON_DIR = `${ROOT}bench/peers/iron-session`;
const FLASK_DIR = `${ROOT}bench/peers/flask`;
/** What Flask-Session, its Redis client, gunicorn and Redis come from (PyPI is unreachable). */
const FLASK_DEBS = [
  "python3-flask",
  "python3-flask-session",
  "python3-redis",
  "gunicorn",
  "redis-server",
];

const SERVERS = {
  hello: {
    describe: "bench/hello.ts: bare Deno.serve answering `hello`",
    cmd: ["{deno}", "run", "--allow-net", "--allow-env", "bench/hello.ts"],
    ready: "/",
    kind: "hello",
  },
  app: {
    describe: "main.ts, SESSION_MODE=kv, KV on a temp file",
    cmd: ["{deno}", "run", "-A", "main.ts"],
    env: { KV_PATH: "{tmp}/bench.kv.sqlite3" },
    ready: "/healthz",
    kind: "app",
  },
  "app-cookie": {
    describe:
      "main.ts, SESSION_MODE=cookie (SESSION_SECRET of 51 characters), KV (hits only) on another temp file",
    cmd: ["{deno}", "run", "-A", "main.ts"],
    env: {
      KV_PATH: "{tmp}/bench-cookie.kv.sqlite3",
      SESSION_MODE: "cookie",
      SESSION_SECRET: COOKIE_SECRET,
    },
    ready: "/healthz",
    kind: "app",
    visitsInCookie: true,
  },
  express: {
    describe:
      "bench/peers/express/server.js: Express 5 + express-session, default MemoryStore (node)",
    cmd: ["node", "server.js"],
    cwd: EXPRESS_DIR,
    ready: "/",
    kind: "peer",
    prepare: () => installNodePeer(EXPRESS_DIR, "express-session"),
  },
  python: {
    describe:
      "bench/peers/python/server.py: http.server ThreadingHTTPServer, sessions in a dict (python3)",
    cmd: ["python3", "bench/peers/python/server.py"],
    ready: "/",
    kind: "peer",
    noJsThread: true,
  },
  hono: {
    describe:
      "bench/peers/hono/server.ts: Hono + @hono/session (JWE cookie), sessions, visits and hits in Deno KV on a temp file, counters by atomic sum (deno)",
    cmd: [
      "{deno}",
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "bench/peers/hono/server.ts",
    ],
    env: { KV_PATH: "{tmp}/hono.kv.sqlite3", SESSION_SECRET: COOKIE_SECRET },
    ready: "/",
    kind: "peer",
  },
  "express-redis": {
    describe:
      "bench/peers/express-redis/server.js: Express 5 + express-session + connect-redis, its own Redis with `appendfsync everysec`, hits by INCR (node)",
    cmd: ["node", "server.js"],
    cwd: EXPRESS_REDIS_DIR,
    ready: "/",
    kind: "peer",
    prepare: installExpressRedis,
    redis: "everysec",
  },
  "express-redis-always": {
    describe:
      "the same with `appendfsync always` (Redis fsyncs each write before answering)",
    cmd: ["node", "server.js"],
    cwd: EXPRESS_REDIS_DIR,
    ready: "/",
    kind: "peer",
    prepare: installExpressRedis,
    redis: "always",
  },
  flask: {
    describe:
      "bench/peers/flask/server.py: Flask + Flask-Session on its own Redis (`appendfsync everysec`), hits by INCR, under gunicorn (gthread, a worker per core × 4 threads; server CPU counts the master only, its workers and Redis count as other processes) (Debian packages)",
    cmd: ["gunicorn", "-c", "gunicorn.conf.py", "server:app"],
    cwd: FLASK_DIR,
    env: { SESSION_SECRET: COOKIE_SECRET },
    ready: "/",
    kind: "peer",
    noJsThread: true,
    prepare: () =>
      installDebs(FLASK_DEBS, [
        ["gunicorn", "--version"],
        ["/usr/bin/python3", "-c", "import flask, flask_session, redis"],
        ["redis-server", "--version"],
      ]),
    redis: "everysec",
  },
  "iron-session": {
    describe:
      "bench/peers/iron-session/server.js: node:http + iron-session 8, the session (visits) sealed in the cookie, hits in memory (node)",
    cmd: ["node", "server.js"],
    cwd: IRON_DIR,
    env: { SESSION_SECRET: COOKIE_SECRET },
    ready: "/",
    kind: "peer",
    visitsInCookie: true,
    prepare: () => installNodePeer(IRON_DIR, "iron-session"),
  },
  instrumented: {
    describe:
      "bench/instrumented.ts: createApp with a counting KV Proxy, SESSION_MODE=kv",
    cmd: ["{deno}", "run", "-A", "bench/instrumented.ts"],
    env: { KV_PATH: "{tmp}/instrumented.kv.sqlite3" },
    ready: "/healthz",
    kind: "app",
  },
  "instrumented-cookie": {
    describe:
      "bench/instrumented.ts: createApp with a counting KV Proxy, SESSION_MODE=cookie",
    cmd: ["{deno}", "run", "-A", "bench/instrumented.ts"],
    env: {
      KV_PATH: "{tmp}/instrumented-cookie.kv.sqlite3",
      SESSION_MODE: "cookie",
      SESSION_SECRET: COOKIE_SECRET,
    },
    ready: "/healthz",
    kind: "app",
    visitsInCookie: true,
  },
  rss: {
    describe: "main.ts, SESSION_MODE=kv, on a fresh KV file, for the RSS count",
    cmd: ["{deno}", "run", "-A", "main.ts"],
    env: { KV_PATH: "{tmp}/{tag}.kv.sqlite3" },
    ready: "/healthz",
    kind: "app",
  },
} satisfies Record<string, ServerSpec>;

type ServerName = keyof typeof SERVERS;
const specOf = (name: ServerName): ServerSpec => SERVERS[name];

/** Who is measured, as the report groups them. */
const WHO: Partial<Record<ServerName, string>> = {
  hello: "hello",
  app: "mcq-edge, kv",
  "app-cookie": "mcq-edge, cookie",
  express: "Express 5 + express-session",
  python: "Python http.server",
  hono: "Hono + @hono/session, Deno KV",
  "express-redis": "Express 5 + connect-redis, everysec",
  "express-redis-always": "Express 5 + connect-redis, always",
  flask: "Flask + Flask-Session, Redis, gunicorn",
  "iron-session": "iron-session (cookie)",
};

/** The peers, in the order of their scenarios and of the report's columns. */
const PEERS = [
  "express",
  "python",
  "hono",
  "express-redis",
  "express-redis-always",
  "flask",
  "iron-session",
] as const satisfies readonly ServerName[];

interface Scenario {
  id: string;
  label: string;
  server: ServerName;
  path: string;
  /**
   * "returning": `--visitors` sessions created before the run, sent round-robin;
   * "none": no cookie;
   * "answers": a list of (session, question) answers, each sent once (see answerPlan).
   */
  session: "none" | "returning" | "answers";
  /** Counted in the site's hits (so the run ends with an exactness check). */
  counted: boolean;
  /** The minimum ratio of req/s to hello's. */
  target?: number;
  /** The peers' scenarios this one must beat by PEER_FACTOR. */
  beats?: string[];
  method?: string;
  body?: string;
  contentType?: string;
}

/** "≥ 3× each peer" for the returning page view. */
const PEER_FACTOR = 3;

/**
 * Run in this order. For each app process, first visits go last: each one stores a new
 * session (about 20,000 in a 10 s run), and a store that just grew that much made the
 * scenarios after it about a third slower in trials, which would measure the order, not them.
 */
const SCENARIOS: Scenario[] = [
  {
    id: "hello",
    label: "hello (bare Deno.serve)",
    server: "hello",
    path: "/",
    session: "none",
    counted: false,
  },
  {
    id: "returning",
    label: "returning visitor `GET /`",
    server: "app",
    path: "/",
    session: "returning",
    counted: true,
    target: 0.20,
    beats: ["express-returning", "python-returning"],
  },
  {
    id: "me",
    label: "`GET /api/me` (returning)",
    server: "app",
    path: "/api/me",
    session: "returning",
    counted: true,
  },
  {
    id: "quiz",
    label: "quiz page `GET /quiz/http` (returning)",
    server: "app",
    path: "/quiz/http",
    session: "returning",
    counted: true,
    target: 0.10,
  },
  {
    id: "answers",
    label: "answer stream `POST /api/quizzes/:id/answers`",
    server: "app",
    path: "/api/quizzes",
    session: "answers",
    counted: true,
    target: 0.03,
    method: "POST",
    contentType: "application/json",
  },
  {
    id: "first",
    label: "first visit `GET /` (no cookie)",
    server: "app",
    path: "/",
    session: "none",
    counted: true,
    target: 0.10,
  },
  {
    id: "cookie-returning",
    label: "returning visitor `GET /`",
    server: "app-cookie",
    path: "/",
    session: "returning",
    counted: true,
    target: 0.15,
    beats: ["express-returning", "python-returning"],
  },
  {
    id: "cookie-me",
    label: "`GET /api/me` (returning)",
    server: "app-cookie",
    path: "/api/me",
    session: "returning",
    counted: true,
  },
  {
    id: "cookie-first",
    label: "first visit `GET /` (no cookie)",
    server: "app-cookie",
    path: "/",
    session: "none",
    counted: true,
  },
  {
    id: "express-returning",
    label: "returning visitor `GET /`",
    server: "express",
    path: "/",
    session: "returning",
    counted: true,
  },
  {
    id: "express-first",
    label: "first visit `GET /` (no cookie)",
    server: "express",
    path: "/",
    session: "none",
    counted: true,
  },
  {
    id: "python-returning",
    label: "returning visitor `GET /`",
    server: "python",
    path: "/",
    session: "returning",
    counted: true,
  },
  {
    id: "python-first",
    label: "first visit `GET /` (no cookie)",
    server: "python",
    path: "/",
    session: "none",
    counted: true,
  },
  ...PEERS.slice(2).flatMap(peerScenarios),
];

/** A peer's two scenarios: `<peer>-returning` and `<peer>-first`. */
function peerScenarios(server: ServerName): Scenario[] {
  return [
    {
      id: `${server}-returning`,
      label: "returning visitor `GET /`",
      server,
      path: "/",
      session: "returning",
      counted: true,
    },
    {
      id: `${server}-first`,
      label: "first visit `GET /` (no cookie)",
      server,
      path: "/",
      session: "none",
      counted: true,
    },
  ];
}

/** Servers `--only`/`--skip` take by name: all their scenarios and their lost-update check. */
const CHOOSABLE: readonly ServerName[] = ["app", "app-cookie", ...PEERS];
/** The servers of the lost-update check, in its table's order. */
const LOST_UPDATE_SERVERS: readonly ServerName[] = CHOOSABLE;

/** The parts after the wrk scenarios; `--only`/`--skip` take their ids too. */
const PHASES = ["lost-updates", "kv-ops", "group-commit", "rss"] as const;
type Phase = typeof PHASES[number];

// ---------------------------------------------------------------------------------------
// Options

const USAGE =
  `usage: deno task bench [--duration S] [--warmup S] [--connections N] [--threads N]
                        [--visitors N] [--quick] [--only id,id] [--skip id,id] [--sessions N]
                        [--out FILE | --no-write] [--keep] [--strict] [--wait-quiet S]
scenarios: ${SCENARIOS.map((s) => s.id).join(", ")}
phases: ${PHASES.join(", ")}
servers (each: its scenarios and its lost-update check): ${
    CHOOSABLE.join(", ")
  }`;

export interface Options {
  duration: number;
  warmup: number;
  connections: number;
  threads: number;
  /** Sessions the returning-visitor scenarios send round-robin over the connections. */
  visitors: number;
  quick: boolean;
  only: string[] | null;
  skip: string[];
  /** Sessions created for the RSS measurement. */
  sessions: number;
  out: string | null;
  keep: boolean;
  strict: boolean;
  /** Seconds to wait for other processes to calm down before starting. */
  waitQuiet: number;
}

class UsageError extends Error {}

function positiveInt(name: string, raw: string | undefined, fallback: number) {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new UsageError(`--${name} must be a whole number ≥ 1, got "${raw}"`);
  }
  return Number(raw);
}

function idList(name: string, raw: string | undefined): string[] | null {
  if (!raw) return null;
  const ids = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const id of ids) {
    if (
      !SCENARIOS.some((s) => s.id === id) && !PHASES.includes(id as Phase) &&
      !CHOOSABLE.includes(id as ServerName)
    ) {
      throw new UsageError(
        `--${name}: unknown scenario, phase or server "${id}"`,
      );
    }
  }
  return ids;
}

export function parseOptions(args: string[]): Options | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        duration: { type: "string" },
        warmup: { type: "string" },
        connections: { type: "string" },
        threads: { type: "string" },
        visitors: { type: "string" },
        quick: { type: "boolean" },
        only: { type: "string" },
        skip: { type: "string" },
        sessions: { type: "string" },
        out: { type: "string" },
        "no-write": { type: "boolean" },
        keep: { type: "boolean" },
        strict: { type: "boolean" },
        "wait-quiet": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return "help";
  const quick = values.quick ?? false;
  const threads = positiveInt("threads", values.threads, 2);
  const connections = positiveInt("connections", values.connections, 50);
  if (connections < threads) {
    throw new UsageError("--connections must be at least --threads");
  }
  const visitors = positiveInt("visitors", values.visitors, 200);
  // bench/wrk.lua gives each thread its own share of the sessions.
  if (visitors < threads) {
    throw new UsageError("--visitors must be at least --threads");
  }
  return {
    duration: positiveInt("duration", values.duration, quick ? 3 : 10),
    warmup: positiveInt("warmup", values.warmup, quick ? 1 : 2),
    connections,
    threads,
    visitors,
    quick,
    only: idList("only", values.only),
    skip: idList("skip", values.skip) ?? [],
    sessions: positiveInt(
      "sessions",
      values.sessions,
      quick ? 20_000 : 100_000,
    ),
    out: values["no-write"] ? null : values.out ?? `${ROOT}docs/BENCHMARKS.md`,
    keep: values.keep ?? false,
    strict: values.strict ?? false,
    waitQuiet: values["wait-quiet"] === "0"
      ? 0
      : positiveInt("wait-quiet", values["wait-quiet"], 60),
  };
}

function selected(opts: Options, id: string): boolean {
  return (!opts.only || opts.only.includes(id)) && !opts.skip.includes(id);
}

/** A scenario runs when it or its server is chosen (and neither is skipped). */
function scenarioSelected(opts: Options, s: Scenario): boolean {
  return (selected(opts, s.id) || !!opts.only?.includes(s.server)) &&
    !opts.skip.includes(s.server);
}

/** A server's lost-update check runs with the phase or when the server is chosen. */
function lostUpdateSelected(opts: Options, name: ServerName): boolean {
  return (selected(opts, "lost-updates") || !!opts.only?.includes(name)) &&
    !opts.skip.includes(name);
}

// ---------------------------------------------------------------------------------------
// Processes

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

interface Running {
  name: ServerName;
  spec: ServerSpec;
  url: string;
  child: Deno.ChildProcess;
  log: string;
  exited: boolean;
  /** The peer's own Redis (spec.redis), stopped after it. */
  redis?: Deno.ChildProcess;
}

const running: Running[] = [];
const prepared = new Set<ServerName>();

/** Runs a command; its stderr (or stdout) in the error when it fails. */
async function run(cmd: string, args: string[], cwd?: string) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { DEBIAN_FRONTEND: "noninteractive" },
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) ||
      new TextDecoder().decode(out.stdout);
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${text.trimEnd()}`);
  }
}

/** A Node peer's packages, exactly as its package-lock.json says (first run only). */
async function installNodePeer(dir: string, probe: string) {
  try {
    await Deno.stat(`${dir}/node_modules/${probe}`);
    return;
  } catch { /* not installed yet */ }
  log(
    `installing ${dir.slice(ROOT.length)}'s packages (npm ci, first run only)`,
  );
  await run("npm", ["ci", "--no-audit", "--no-fund"], dir);
}

async function installExpressRedis() {
  await installNodePeer(EXPRESS_REDIS_DIR, "connect-redis");
  await installDebs(["redis-server"], [["redis-server", "--version"]]);
}

/** Debian packages, installed with apt-get when one of the `checks` does not run. */
async function installDebs(packages: string[], checks: string[][]) {
  const ok = async ([cmd, ...args]: string[]) => {
    try {
      return (await new Deno.Command(cmd, {
        args,
        stdout: "null",
        stderr: "null",
      }).output()).success;
    } catch {
      return false;
    }
  };
  let missing = false;
  for (const check of checks) if (!await ok(check)) missing = true;
  if (!missing) return;
  log(`installing ${packages.join(" ")} (apt-get, first run only)`);
  await run("apt-get", [
    "install",
    "-y",
    "--no-install-recommends",
    ...packages,
  ]);
}

/**
 * A Redis for one peer: a free port on 127.0.0.1, its AOF in the temp dir with the given
 * appendfsync (no RDB snapshots), ready once it answers PING.
 */
async function startRedis(
  tmp: string,
  tag: string,
  fsync: "everysec" | "always",
): Promise<{ child: Deno.ChildProcess; url: string }> {
  const port = freePort();
  const dir = `${tmp}/${tag}-redis`;
  await Deno.mkdir(dir, { recursive: true });
  const child = new Deno.Command("redis-server", {
    args: [
      ...["--bind", "127.0.0.1", "--port", String(port), "--dir", dir],
      ...["--appendonly", "yes", "--appendfsync", fsync, "--save", ""],
      ...["--daemonize", "no", "--logfile", `${tmp}/${tag}-redis.log`],
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 10_000;
  while (!exited && Date.now() < deadline) {
    if (await redisPing(port)) {
      return { child, url: `redis://127.0.0.1:${port}` };
    }
    await sleep(50);
  }
  if (!exited) child.kill("SIGKILL");
  throw new Error(
    `redis-server for ${tag} did not start; its log:\n${await tail(
      `${tmp}/${tag}-redis.log`,
    )}`,
  );
}

async function redisPing(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      return new TextDecoder().decode(buf.subarray(0, n ?? 0)).startsWith(
        "+PONG",
      );
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

async function stopRedis(child: Deno.ChildProcess) {
  try {
    child.kill("SIGTERM"); // Redis flushes its AOF and exits
  } catch { /* already gone */ }
  const done = await Promise.race([
    child.status.then(() => true),
    sleep(5000).then(() => false),
  ]);
  if (!done) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
  }
}

/**
 * Starts a server with its stdout and stderr going straight to a log file (through `sh`'s
 * redirection, then `exec`, so the pid is the server's): the app logs a line per request,
 * and relaying that through this process would cost CPU the benchmark is measuring.
 */
export async function startServer(
  name: ServerName,
  tmp: string,
  tag: string = name,
  /** More environment, over the spec's (same placeholders). */
  extraEnv: Record<string, string> = {},
): Promise<Running> {
  const spec: ServerSpec = specOf(name);
  if (spec.prepare && !prepared.has(name)) {
    await spec.prepare();
    prepared.add(name);
  }
  const port = freePort();
  const env = Deno.env.toObject();
  // The app's configuration must not leak in from the caller's shell.
  for (const v of CONFIG_VARS) delete env[v];
  for (const [k, v] of Object.entries({ ...spec.env, ...extraEnv })) {
    env[k] = v.replaceAll("{tmp}", tmp).replaceAll("{tag}", tag);
  }
  env.PORT = String(port);
  env.HOST = "127.0.0.1";
  const redis = spec.redis ? await startRedis(tmp, tag, spec.redis) : undefined;
  if (redis) env.REDIS_URL = redis.url;
  const log = `${tmp}/${tag}.log`;
  const cmd = spec.cmd.map((a) => a === "{deno}" ? Deno.execPath() : a);
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'log="$1"; shift; exec "$@" >"$log" 2>&1',
      "sh",
      log,
      ...cmd,
    ],
    cwd: spec.cwd ?? ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const server: Running = {
    name,
    spec,
    url: `http://127.0.0.1:${port}`,
    child,
    log,
    exited: false,
    redis: redis?.child,
  };
  running.push(server);
  child.status.then(() => server.exited = true);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exited) {
      await stop(server);
      throw new Error(`${name} exited at start; its log:\n${await tail(log)}`);
    }
    try {
      const res = await fetch(server.url + spec.ready);
      await res.body?.cancel();
      if (res.ok) return server;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop(server);
      throw new Error(`${name} did not answer ${spec.ready} within 60 s`);
    }
    await sleep(100);
  }
}

async function tail(path: string, lines = 20): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-lines)
      .join("\n");
  } catch {
    return "(no log)";
  }
}

async function stop(server: Running) {
  const at = running.indexOf(server);
  if (at >= 0) running.splice(at, 1);
  await stopServer(server);
  if (server.redis) await stopRedis(server.redis);
}

async function stopServer(server: Running) {
  if (server.exited) return;
  try {
    server.child.kill("SIGTERM");
  } catch { /* already gone */ }
  const done = await Promise.race([
    server.child.status.then(() => true),
    sleep(5000).then(() => false),
  ]);
  if (!done) {
    try {
      server.child.kill("SIGKILL");
    } catch { /* already gone */ }
    await server.child.status;
  }
}

export async function stopAll() {
  for (const server of [...running]) await stop(server);
}

/** CPU time (user + system, all threads) a process has used, in milliseconds. */
async function cpuMs(pid: number): Promise<number | null> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // The command name may hold spaces; fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    return (Number(fields[11]) + Number(fields[12])) * 10; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/**
 * CPU time per thread of a process, in ms, grouped by thread name; the main thread (the one
 * running JavaScript in Deno and Node) is reported as "main (JS)".
 */
async function threadCpu(
  pid: number,
  mainName = "main (JS)",
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      try {
        const stat = await Deno.readTextFile(
          `/proc/${pid}/task/${task.name}/stat`,
        );
        const name = task.name === String(pid)
          ? mainName
          : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const ms = (Number(f[11]) + Number(f[12])) * 10;
        out.set(name, (out.get(name) ?? 0) + ms);
      } catch { /* the thread ended */ }
    }
  } catch { /* not Linux, or the process ended */ }
  return out;
}

/** Resident memory of a process (VmRSS) and its peak (VmHWM), in MiB. */
async function rssMiB(
  pid: number,
): Promise<{ rss: number; peak: number } | null> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = (field: string) =>
      Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1]);
    return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
async function machineCpu(): Promise<{ busy: number; total: number } | null> {
  try {
    const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
    const n = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = n[3] + (n[4] ?? 0);
    const total = n.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/**
 * CPU time of this process and of its reaped children (wrk, once it has exited), in ms.
 * The children's share over a wrk run is wrk's own CPU time.
 */
async function selfCpu(): Promise<{ self: number; children: number } | null> {
  try {
    const stat = await Deno.readTextFile("/proc/self/stat");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    return { self: (f[11] + f[12]) * 10, children: (f[13] + f[14]) * 10 };
  } catch {
    return null;
  }
}

/** The share of the machine busy over `ms` while the bench itself does nothing. */
async function busyShare(ms: number): Promise<number | null> {
  const a = await machineCpu();
  await sleep(ms);
  const b = await machineCpu();
  return a && b && b.total > a.total
    ? (b.busy - a.busy) / (b.total - a.total)
    : null;
}

/**
 * Other processes on a 2-core machine change the numbers a lot: waits (up to `seconds`)
 * for a window of `windowMs` with less than 15 % of the machine busy, and says what it found.
 */
async function waitForQuiet(
  seconds: number,
  windowMs = 2000,
): Promise<number | null> {
  const deadline = Date.now() + seconds * 1000;
  for (let said = false;;) {
    const busy = await busyShare(windowMs);
    if (busy === null || busy < 0.15 || Date.now() >= deadline) return busy;
    if (!said) {
      log(
        `machine ${
          (busy * 100).toFixed(0)
        } % busy: waiting up to ${seconds} s for it to calm down`,
      );
      said = true;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Sessions and counters, through the servers themselves

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once, in order of i. */
async function pool<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

/** The value of the session cookie a response sets, "" when it clears it, null if none. */
function sessionCookieOf(res: Response): string | null {
  const cookie = res.headers.getSetCookie().find((c) =>
    c.startsWith(`${COOKIE_NAME}=`)
  );
  return cookie === undefined
    ? null
    : cookie.slice(COOKIE_NAME.length + 1).split(";")[0];
}

/** Opens `count` sessions with a server (first visits) and returns their ids. */
async function openSessions(
  url: string,
  count: number,
  concurrency = 8,
): Promise<string[]> {
  return await pool(count, concurrency, async () => {
    const res = await fetch(`${url}/`);
    await res.body?.cancel();
    if (res.status !== 200) {
      throw new Error(`opening a session: GET / answered ${res.status}`);
    }
    const id = sessionCookieOf(res);
    if (!id) throw new Error("opening a session: no session cookie set");
    return id;
  });
}

interface Me {
  hits: number;
  visits: number;
  /** The session cookie the response set (cookie mode re-issues it), if any. */
  cookie: string | null;
  scores?: Record<string, { answered: number }>;
}

/**
 * A session's visits and the site's hits, as the server shows them: `GET /api/me` for the
 * app, the peer's page (`id="visits"`, `id="hits"`) for a peer. Either way the numbers
 * count the reading request itself, which is then stored as counted.
 */
async function me(server: Running, id: string): Promise<Me> {
  const page = server.spec.kind === "peer";
  const res = await fetch(`${server.url}${page ? "/" : "/api/me"}`, {
    headers: { cookie: `${COOKIE_NAME}=${id}` },
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`${server.name}: reading counters answered ${res.status}`);
  }
  const cookie = sessionCookieOf(res);
  if (!page) return { ...(await res.json()), cookie };
  const html = await res.text();
  const number = (name: string) => {
    const m = html.match(new RegExp(`id="${name}">(\\d+)<`));
    if (!m) throw new Error(`${server.name}: no ${name} on its page`);
    return Number(m[1]);
  };
  return { hits: number("hits"), visits: number("visits"), cookie };
}

/**
 * Reads the counters through `me`, which answers the stored value plus one (itself) and
 * then counts itself. `before` reads every session in order and ends with the hits counter
 * as stored; `after` starts with the hits counter as stored before it.
 */
async function readCounters(
  server: Running,
  ids: string[],
  when: "before" | "after",
) {
  const visits: number[] = [];
  let hits = 0;
  for (let i = 0; i < ids.length; i++) {
    const m = await me(server, ids[i]);
    visits.push(when === "before" ? m.visits : m.visits - 1);
    if (when === "before") hits = m.hits;
    else if (i === 0) hits = m.hits - 1;
  }
  return { hits, visits };
}

// ---------------------------------------------------------------------------------------
// wrk

interface WrkResult {
  requests: number;
  duration_us: number;
  status: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
  /** With a request list (BENCH_REQUESTS): answers by status, fillers, threads run out. */
  ok2xx: number;
  conflict: number;
  other: number;
  fillers: number;
  exhausted: number;
  /** Lines each thread sent. */
  sent: number[];
}

function wrkCommand(
  opts: Options,
  url: string,
  seconds: number,
  env: Record<string, string>,
): Deno.Command {
  return new Deno.Command("wrk", {
    args: [
      `-t${opts.threads}`,
      `-c${opts.connections}`,
      `-d${seconds}s`,
      "--latency",
      "-s",
      WRK_SCRIPT,
      url,
    ],
    env: { BENCH_THREADS: String(opts.threads), ...env },
    stdout: "piped",
    stderr: "piped",
  });
}

function parseWrk(output: Deno.CommandOutput, ignoreExit = false) {
  const text = new TextDecoder().decode(output.stdout);
  const err = new TextDecoder().decode(output.stderr);
  const line = text.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if ((!output.success && !ignoreExit) || !line) {
    throw new Error(`wrk failed (exit ${output.code}):\n${text}${err}`);
  }
  return {
    result: JSON.parse(line.slice("BENCH_JSON ".length)) as WrkResult,
    text,
  };
}

async function wrk(
  opts: Options,
  url: string,
  seconds: number,
  env: Record<string, string>,
): Promise<{ result: WrkResult; text: string }> {
  let output;
  try {
    output = await wrkCommand(opts, url, seconds, env).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "wrk is not installed (Debian/Ubuntu: apt-get install wrk)",
      );
    }
    throw error;
  }
  return parseWrk(output);
}

/** Runs wrk until `done()` says so (checked every 250 ms) or `maxSeconds` pass. */
async function wrkUntil(
  opts: Options,
  url: string,
  maxSeconds: number,
  env: Record<string, string>,
  done: () => Promise<boolean>,
): Promise<WrkResult> {
  const child = wrkCommand(opts, url, maxSeconds, env).spawn();
  let exited = false;
  const output = child.output().finally(() => exited = true);
  while (!exited) {
    await sleep(250);
    if (!exited && await done()) {
      try {
        child.kill("SIGINT"); // wrk stops, prints its summary and calls done()
      } catch { /* already gone */ }
      break;
    }
  }
  return parseWrk(await output, true).result;
}

// ---------------------------------------------------------------------------------------
// The answer stream: (session, question) pairs, each sent once

interface QuizInfo {
  id: string;
  questions: { id: string; choices: string[] }[];
}

async function quizzesOf(url: string): Promise<QuizInfo[]> {
  const list = await (await fetch(`${url}/api/quizzes`)).json() as {
    id: string;
  }[];
  return await Promise.all(
    list.map(async ({ id }) =>
      await (await fetch(`${url}/api/quizzes/${id}`)).json() as QuizInfo
    ),
  );
}

interface AnswerLine {
  session: number;
  quiz: string;
}

interface AnswerPlan {
  file: string;
  ids: string[];
  /** Each line's session and quiz, in file order. */
  lines: AnswerLine[];
}

/**
 * Opens enough fresh sessions for `count` answers and writes the list wrk sends: question
 * by question, each session in turn (so one session's answers are far apart and never
 * in flight together), choices at random.
 */
async function answerPlan(
  server: Running,
  quizzes: QuizInfo[],
  count: number,
  file: string,
): Promise<AnswerPlan> {
  const questions = quizzes.flatMap((quiz) =>
    quiz.questions.map((q) => ({ quiz: quiz.id, q }))
  );
  const ids = await openSessions(
    server.url,
    Math.max(1, Math.ceil(count / questions.length)),
    16,
  );
  const text: string[] = [];
  const lines: AnswerLine[] = [];
  for (const { quiz, q } of questions) {
    for (let s = 0; s < ids.length && lines.length < count; s++) {
      const choice = Math.floor(Math.random() * q.choices.length);
      text.push(
        `${ids[s]}\t/api/quizzes/${quiz}/answers\t${
          JSON.stringify({ questionId: q.id, choice })
        }`,
      );
      lines.push({ session: s, quiz });
    }
  }
  await Deno.writeTextFile(file, text.join("\n") + "\n");
  return { file, ids, lines };
}

interface AnswersCheck {
  sessions: number;
  /** Lines in the list, and how many wrk sent. */
  planned: number;
  sent: number;
  ok2xx: number;
  conflict: number;
  other: number;
  /** Threads that sent their whole share before the end. */
  exhausted: number;
  /** Sum of the sessions' answered counts (GET /api/me). */
  stored: number;
  /** Sum of the visits these sessions gained (first visit and the reading excluded). */
  visits: number;
  /** (session, quiz) with more answered than were sent to it: a double score. */
  overflow: number;
  slack: number;
  ok: boolean;
}

async function checkAnswers(
  server: Running,
  plan: AnswerPlan,
  result: WrkResult,
  threads: number,
  slack: number,
): Promise<AnswersCheck> {
  // Thread t sent the first sent[t] of the lines whose index is t modulo the threads.
  const sentTo = new Map<string, number>();
  const taken = new Array(threads).fill(0);
  let sent = 0;
  plan.lines.forEach((line, i) => {
    const t = i % threads;
    if (taken[t] < (result.sent[t] ?? 0)) {
      taken[t]++;
      sent++;
      const key = `${line.session}/${line.quiz}`;
      sentTo.set(key, (sentTo.get(key) ?? 0) + 1);
    }
  });
  const mes = await pool(plan.ids.length, 16, (s) => me(server, plan.ids[s]));
  let stored = 0;
  let visits = 0;
  let overflow = 0;
  mes.forEach((m, s) => {
    // Stored visits: 1 (the first visit) + one per counted answer; the reading adds 1.
    visits += m.visits - 2;
    for (const [quiz, score] of Object.entries(m.scores ?? {})) {
      stored += score.answered;
      if (score.answered > (sentTo.get(`${s}/${quiz}`) ?? 0)) overflow++;
    }
  });
  const extra = stored - result.ok2xx;
  return {
    sessions: plan.ids.length,
    planned: plan.lines.length,
    sent,
    ok2xx: result.ok2xx,
    conflict: result.conflict,
    other: result.other,
    exhausted: result.exhausted,
    stored,
    visits,
    overflow,
    slack,
    ok: result.conflict === 0 && result.other === 0 && overflow === 0 &&
      extra >= 0 && extra <= slack && stored <= sent && visits === stored,
  };
}

// ---------------------------------------------------------------------------------------
// One scenario

interface Exactness {
  /** Counted responses wrk received (complete) during the measured run. */
  acknowledged: number;
  /** What the hits counter grew by over the same run. */
  counted: number;
  /** What the sessions' visit counters grew by, when the scenario has server-side ones. */
  visits: number | null;
  /** Requests the server may legitimately have answered after wrk stopped reading. */
  slack: number;
  ok: boolean;
}

interface Outcome {
  scenario: Scenario;
  wrk: WrkResult;
  /** Counted 2xx responses per second (for the answer stream: acknowledged answers). */
  rps: number;
  /** App CPU time per request in microseconds, and the server's CPU use in cores. */
  cpuPerRequestUs: number | null;
  serverCores: number | null;
  /** Server CPU per request (µs) by thread name, busiest first. */
  threads: [string, number][];
  /** CPU of the server's main (JavaScript) thread, in cores: near 1.00 means JS-bound. */
  jsCores: number | null;
  /** CPU (in cores) used by wrk, and by processes other than wrk, the server and the bench. */
  wrkCores: number | null;
  otherCores: number | null;
  exactness: Exactness | null;
  answers: AnswersCheck | null;
}

async function runScenario(
  opts: Options,
  scenario: Scenario,
  server: Running,
  sessions: () => Promise<string[]>,
  tmp: string,
): Promise<Outcome> {
  const env: Record<string, string> = {
    BENCH_COOKIE_NAME: COOKIE_NAME,
    BENCH_METHOD: scenario.method ?? "",
    BENCH_BODY: scenario.body ?? "",
    BENCH_CONTENT_TYPE: scenario.contentType ?? "",
    BENCH_COOKIES: "",
    BENCH_REQUESTS: "",
  };
  const ids = scenario.session !== "none" || scenario.counted
    ? await sessions()
    : [];
  if (scenario.session === "returning") {
    const file = `${tmp}/cookies-${scenario.id}.txt`;
    await Deno.writeTextFile(file, ids.join("\n") + "\n");
    env.BENCH_COOKIES = file;
  }
  const url = server.url +
    (scenario.session === "answers" ? "" : scenario.path);

  let quizzes: QuizInfo[] = [];
  if (scenario.session === "answers") {
    quizzes = await quizzesOf(server.url);
  } else {
    // One request by hand first: a scenario that fails should say why, not show 100% non-2xx.
    const probe = await fetch(url, {
      method: scenario.method ?? "GET",
      body: scenario.body,
      headers: {
        ...(scenario.contentType
          ? { "content-type": scenario.contentType }
          : {}),
        ...(scenario.session === "returning"
          ? { cookie: `${COOKIE_NAME}=${ids[0]}` }
          : {}),
      },
    });
    await probe.body?.cancel();
    if (probe.status < 200 || probe.status > 299) {
      throw new Error(`${scenario.id}: ${url} answered ${probe.status}`);
    }
  }

  log(`  ${scenario.id}: warm-up ${opts.warmup} s`);
  let answerRate = ANSWER_RATE_CAP;
  if (scenario.session === "answers") {
    const plan = await answerPlan(
      server,
      quizzes,
      ANSWER_RATE_CAP * opts.warmup,
      `${tmp}/answers-warmup.txt`,
    );
    const { result } = await wrk(opts, url, opts.warmup, {
      ...env,
      BENCH_REQUESTS: plan.file,
    });
    if (result.exhausted === 0) {
      answerRate = result.ok2xx / (result.duration_us / 1e6);
    }
  } else {
    await wrk(opts, url, opts.warmup, env);
  }
  // Requests cut off when wrk stopped may still be finishing: let them land.
  await sleep(500);

  // The answer list for the measured run: twice the warm-up's rate, so it does not run out.
  let plan: AnswerPlan | null = null;
  if (scenario.session === "answers") {
    const count = Math.ceil(Math.max(500, 2 * answerRate) * opts.duration);
    log(
      `  ${scenario.id}: ${count} answers listed (warm-up ran at ${
        int(answerRate)
      }/s)`,
    );
    plan = await answerPlan(server, quizzes, count, `${tmp}/answers.txt`);
    env.BENCH_REQUESTS = plan.file;
  }

  // Only the counting scenarios read counters; the "before" reads set the baseline.
  const checked = scenario.session === "returning" ? ids : ids.slice(0, 1);
  const before = scenario.counted
    ? await readCounters(server, checked, "before")
    : null;

  log(`  ${scenario.id}: measuring ${opts.duration} s`);
  const cpu0 = await cpuMs(server.child.pid);
  const mainName = server.spec.noJsThread ? "main" : "main (JS)";
  const threads0 = await threadCpu(server.child.pid, mainName);
  const m0 = await machineCpu();
  const self0 = await selfCpu();
  const t0 = performance.now();
  const { result } = await wrk(opts, url, opts.duration, env);
  const elapsed = performance.now() - t0;
  const cpu1 = await cpuMs(server.child.pid);
  const threads1 = await threadCpu(server.child.pid, mainName);
  const m1 = await machineCpu();
  const self1 = await selfCpu();
  await sleep(500);

  // Up to one request per connection may be in flight when wrk stops (the server answers
  // and counts it, wrk no longer reads it); a timed-out or broken one may still have landed.
  const slack = opts.connections + result.timeout + result.read + result.write;
  const acknowledged = plan ? result.ok2xx : result.requests - result.status;
  let exactness: Exactness | null = null;
  if (before) {
    const after = await readCounters(server, checked, "after");
    const counted = after.hits - before.hits;
    const visits =
      scenario.session === "returning" && !server.spec.visitsInCookie
        ? after.visits.reduce((a, b, i) => a + b - before.visits[i], 0)
        : null;
    const diff = counted - acknowledged;
    exactness = {
      acknowledged,
      counted,
      visits,
      slack,
      ok: diff >= 0 && diff <= slack && (visits === null || visits === counted),
    };
  }
  const answers = plan
    ? await checkAnswers(server, plan, result, opts.threads, slack)
    : null;
  const rps = (plan ? result.ok2xx : result.requests) /
    (result.duration_us / 1e6);
  // Machine CPU time (jiffies of 10 ms, summed over CPUs) not used by the server, wrk or us.
  let otherCores: number | null = null;
  if (m0 && m1 && cpu0 !== null && cpu1 !== null && self0 && self1) {
    const machineMs = (m1.busy - m0.busy) * 10;
    const ours = (cpu1 - cpu0) + (self1.self - self0.self) +
      (self1.children - self0.children);
    otherCores = Math.max(0, machineMs - ours) / elapsed;
  }
  // Per request, by thread name (threads that ended during the run are not counted).
  const threads: [string, number][] = [];
  for (const [name, ms] of threads1) {
    const used = ms - (threads0.get(name) ?? 0);
    if (used > 0 && result.requests > 0) {
      threads.push([name, (used * 1000) / result.requests]);
    }
  }
  threads.sort((a, b) => b[1] - a[1]);
  const main = threads1.get("main (JS)");
  return {
    scenario,
    threads,
    jsCores: main === undefined
      ? null
      : (main - (threads0.get("main (JS)") ?? 0)) / elapsed,
    wrk: result,
    rps,
    cpuPerRequestUs: cpu0 !== null && cpu1 !== null && result.requests > 0
      ? ((cpu1 - cpu0) * 1000) / result.requests
      : null,
    serverCores: cpu0 !== null && cpu1 !== null
      ? (cpu1 - cpu0) / elapsed
      : null,
    otherCores,
    wrkCores: self0 && self1
      ? (self1.children - self0.children) / elapsed
      : null,
    exactness,
    answers,
  };
}

// ---------------------------------------------------------------------------------------
// Lost updates: many concurrent requests of ONE session

interface LostUpdates {
  server: ServerName;
  requests: number;
  ok: number;
  /** Non-2xx answers and requests that failed (e.g. a refused connection). */
  failed: number;
  visitsGained: number;
  hitsGained: number;
}

/**
 * Opens a session, then sends `n` concurrent `GET /` with its cookie and compares what the
 * session's visits and the site's hits grew by with the 2xx answers. When responses re-issue
 * the cookie (cookie mode), the client keeps the one that arrived last, as a browser would.
 */
export async function lostUpdates(
  server: Running,
  n: number,
): Promise<LostUpdates> {
  const [first] = await openSessions(server.url, 1);
  const before = await me(server, first);
  let cookie = before.cookie || first;
  let ok = 0;
  let failed = 0;
  let latest: string | null = null;
  await Promise.all(
    Array.from({ length: n }, async () => {
      try {
        const res = await fetch(`${server.url}/`, {
          headers: { cookie: `${COOKIE_NAME}=${cookie}` },
        });
        await res.body?.cancel();
        if (res.ok) ok++;
        else failed++;
        latest = sessionCookieOf(res) || latest;
      } catch {
        failed++;
      }
    }),
  );
  cookie = latest || cookie;
  const after = await me(server, cookie);
  return {
    server: server.name,
    requests: n,
    ok,
    failed,
    visitsGained: after.visits - 1 - before.visits,
    hitsGained: after.hits - 1 - before.hits,
  };
}

// ---------------------------------------------------------------------------------------
// KV operations per request by route, and group-commit batch sizes (bench/instrumented.ts)

async function storeStats(server: Running): Promise<{
  counts: StoreCounts;
  committer: GroupCommitStats | null;
  limits: StoreLimitsName;
  refused: number;
}> {
  return await (await fetch(`${server.url}/__bench/stats`)).json();
}

async function resetStats(server: Running) {
  const res = await fetch(`${server.url}/__bench/reset`, { method: "POST" });
  await res.body?.cancel();
}

interface RouteOps {
  label: string;
  status: number;
  counts: StoreCounts;
}

interface SessionBytes {
  label: string;
  cookieBytes: number;
  keys: { key: string; keyBytes: number; valueBytes: number }[];
}

interface KvOps {
  mode: "kv" | "cookie";
  routes: RouteOps[];
  bytes: SessionBytes[];
}

/**
 * One request per route kind, in order, on one client, with the store's counts reset
 * before each: what each request asked of the store. Requests run one at a time, so no
 * read or commit is shared with another request's.
 */
export async function kvOpsByRoute(server: Running): Promise<KvOps> {
  let cookie = "";
  let csrf = "";
  const quizzes = await quizzesOf(server.url);
  const http = quizzes.find((q) => q.id === "http") ?? quizzes[0];
  const [q0, q1] = http.questions;
  const username = `bench${Date.now().toString(36)}`;
  const password = "correct horse battery staple";
  const call = async (
    method: string,
    path: string,
    body?: string,
    type?: string,
  ) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      body,
      redirect: "manual",
      headers: {
        ...(cookie ? { cookie: `${COOKIE_NAME}=${cookie}` } : {}),
        ...(type ? { "content-type": type } : {}),
      },
    });
    const text = await res.text();
    const set = sessionCookieOf(res);
    if (set !== null) cookie = set;
    csrf = text.match(/name="_csrf" value="([^"]+)"/)?.[1] ?? csrf;
    return { status: res.status, text };
  };
  const routes: RouteOps[] = [];
  const step = async (
    label: string,
    expect: number,
    method: string,
    path: string,
    body?: () => string,
    type?: string,
  ) => {
    await resetStats(server);
    const { status, text } = await call(method, path, body?.(), type);
    if (status !== expect) {
      throw new Error(
        `kv-ops: ${label} answered ${status} (expected ${expect}): ${
          text.slice(0, 200)
        }`,
      );
    }
    routes.push({ label, status, counts: (await storeStats(server)).counts });
  };
  const bytes: SessionBytes[] = [];
  const measureBytes = async (label: string) => {
    const res = await fetch(`${server.url}/__bench/session-bytes`, {
      headers: { cookie: `${COOKIE_NAME}=${cookie}` },
    });
    bytes.push({ label, ...(await res.json()) });
  };
  const json = "application/json";
  const form = "application/x-www-form-urlencoded";
  const answer = (id: string) => () =>
    JSON.stringify({ questionId: id, choice: 0 });

  await step("first visit `GET /`", 200, "GET", "/");
  await measureBytes("new session (first visit)");
  await step("returning `GET /` (session remembered)", 200, "GET", "/");
  // Past what the app remembers (lib/sessions/memory.ts): the store is read again.
  await new Promise((resolve) => setTimeout(resolve, KNOWN_TTL_MS + 50));
  await step("returning `GET /` (memory older than 1 s)", 200, "GET", "/");
  await step("`GET /api/me`", 200, "GET", "/api/me");
  await step("`GET /quiz/http`", 200, "GET", "/quiz/http");
  await step(
    "answer `POST /api/quizzes/http/answers` (JSON)",
    200,
    "POST",
    "/api/quizzes/http/answers",
    answer(q0.id),
    json,
  );
  await step(
    "answer `POST /quiz/http/answer` (form, `_csrf`)",
    303,
    "POST",
    "/quiz/http/answer",
    () =>
      new URLSearchParams({ questionId: q1.id, choice: "1", _csrf: csrf })
        .toString(),
    form,
  );
  await step(
    "like `POST /likes` (form, `_csrf`)",
    303,
    "POST",
    "/likes",
    () =>
      new URLSearchParams({ item: `${http.id}/${q0.id}`, _csrf: csrf })
        .toString(),
    form,
  );
  // The rest of the 30 questions, unmeasured, for the size of a session that did them all.
  for (const quiz of quizzes) {
    for (const q of quiz.questions) {
      if (quiz === http && (q === q0 || q === q1)) continue;
      const { status } = await call(
        "POST",
        `/api/quizzes/${quiz.id}/answers`,
        answer(q.id)(),
        json,
      );
      if (status !== 200) throw new Error(`kv-ops: answering gave ${status}`);
    }
  }
  await measureBytes("anonymous, all 30 questions answered, 1 like");
  await step(
    "register `POST /api/register` (rotates the id)",
    200,
    "POST",
    "/api/register",
    () => JSON.stringify({ username, password }),
    json,
  );
  await measureBytes("logged in (progress moved to the user record)");
  await step(
    "logout `POST /api/logout`",
    200,
    "POST",
    "/api/logout",
    () => "",
    json,
  );
  await call("GET", "/");
  await step(
    "login `POST /api/login` (rotates the id)",
    200,
    "POST",
    "/api/login",
    () => JSON.stringify({ username, password }),
    json,
  );
  await step("returning `GET /` (logged in)", 200, "GET", "/");
  await step("`GET /api/me` (logged in)", 200, "GET", "/api/me");
  await step("`GET /quiz/http` (logged in)", 200, "GET", "/quiz/http");
  await step(
    "answer `POST /api/quizzes/http/answers` (logged in: 409, answered before)",
    409,
    "POST",
    "/api/quizzes/http/answers",
    answer(q0.id),
    json,
  );
  return {
    mode: server.spec.visitsInCookie ? "cookie" : "kv",
    routes,
    bytes,
  };
}

/** The backends whose limits the group-commit phase runs under, in this order. */
const BATCH_LIMITS: StoreLimitsName[] = ["local", "remote"];
const LIMITS_LABEL: Record<StoreLimitsName, string> = {
  local: "local SQLite",
  remote: "KV Connect / Deno Deploy",
};

type BatchLoad = "returning" | "first" | "answers";
const BATCH_LOADS: { load: BatchLoad; label: string }[] = [
  { load: "returning", label: "returning visitor `GET /`" },
  { load: "first", label: "first visit `GET /`" },
  { load: "answers", label: "answer `POST /api/quizzes/:id/answers`" },
];

export interface BatchRun {
  limits: StoreLimitsName;
  label: string;
  /** Requests answered 2xx in the measured run, and per second. */
  requests: number;
  rps: number;
  counts: StoreCounts;
  /** The committer's batch sizes (requests per commit) over the run. */
  batchSizes: Record<string, number>;
  commits: number;
  commitsPerSecond: number;
  /** The largest batch since the server started (its warm-up included). */
  largestBatch: number;
  /** Non-2xx answers and socket errors, warm-up included. */
  non2xx: number;
  sockets: number;
  /** Calls the limits proxy refused since the server started. */
  refused: number;
}

/**
 * The group committer's batches (and the store's operations) under wrk's load: each load
 * under each backend's limits, on a fresh instrumented server, so that the largest batch
 * and the refused calls are that load's own.
 */
async function groupCommit(
  opts: Options,
  seconds: number,
  tmp: string,
): Promise<BatchRun[]> {
  const runs: BatchRun[] = [];
  for (const limits of BATCH_LIMITS) {
    for (const { load, label } of BATCH_LOADS) {
      log(`group-commit: ${label}, ${LIMITS_LABEL[limits]}'s limits`);
      const tag = `group-commit-${limits}-${load}`;
      const server = await startServer("instrumented", tmp, tag, {
        KV_PATH: "{tmp}/{tag}.kv.sqlite3",
        BENCH_STORE_LIMITS: limits,
      });
      try {
        const run = await batchRun(opts, server, load, seconds, tmp);
        if (server.exited) {
          throw new Error(`${tag} died; log:\n${await tail(server.log)}`);
        }
        runs.push({ limits, label, ...run });
      } finally {
        await stop(server);
      }
    }
  }
  return runs;
}

/**
 * wrk's environment for a load, as a function of how many answers to list (the answer
 * load sends a fresh list each run, see answerPlan; the others ignore it).
 */
async function batchLoadEnv(
  opts: Options,
  server: Running,
  load: BatchLoad,
  tmp: string,
): Promise<(answers: number) => Promise<Record<string, string>>> {
  const env = { BENCH_COOKIE_NAME: COOKIE_NAME, BENCH_COOKIES: "" };
  if (load === "first") return () => Promise.resolve(env);
  if (load === "returning") {
    const file = `${tmp}/cookies-group-commit.txt`;
    const ids = await openSessions(server.url, opts.visitors);
    await Deno.writeTextFile(file, ids.join("\n") + "\n");
    return () => Promise.resolve({ ...env, BENCH_COOKIES: file });
  }
  const quizzes = await quizzesOf(server.url);
  let lists = 0;
  return async (answers) => {
    const file = `${tmp}/answers-group-commit-${lists++}.txt`;
    const plan = await answerPlan(server, quizzes, answers, file);
    return {
      ...env,
      BENCH_METHOD: "POST",
      BENCH_CONTENT_TYPE: "application/json",
      BENCH_REQUESTS: plan.file,
    };
  };
}

/** Non-2xx answers (an answer list counts its own) and socket errors of one wrk run. */
function failuresOf(r: WrkResult, answers: boolean) {
  return {
    non2xx: answers ? r.conflict + r.other : r.status,
    sockets: r.connect + r.read + r.write + r.timeout,
  };
}

/** A 1 s warm-up, then `seconds` of the load, with the committer's stats around it. */
async function batchRun(
  opts: Options,
  server: Running,
  load: BatchLoad,
  seconds: number,
  tmp: string,
): Promise<Omit<BatchRun, "limits" | "label">> {
  const answers = load === "answers";
  const envFor = await batchLoadEnv(opts, server, load, tmp);
  const url = answers ? server.url : `${server.url}/`;
  const warm = (await wrk(opts, url, 1, await envFor(ANSWER_RATE_CAP))).result;
  // The measured list: twice the warm-up's rate, so that it does not run out.
  const rate = warm.exhausted === 0
    ? warm.ok2xx / (warm.duration_us / 1e6)
    : ANSWER_RATE_CAP;
  const env = await envFor(Math.ceil(Math.max(500, 2 * rate) * seconds));
  await sleep(300);
  await resetStats(server);
  const before = (await storeStats(server)).committer!;
  const { result } = await wrk(opts, url, seconds, env);
  await sleep(300);
  const { counts, committer, refused } = await storeStats(server);
  const batchSizes: Record<string, number> = {};
  for (const [bucket, n] of Object.entries(committer!.batchSizes)) {
    const d = n - (before.batchSizes[bucket] ?? 0);
    if (d > 0) batchSizes[bucket] = d;
  }
  const duration = result.duration_us / 1e6;
  const requests = answers ? result.ok2xx : result.requests - result.status;
  const commits = committer!.commits - before.commits;
  const [w, m] = [failuresOf(warm, answers), failuresOf(result, answers)];
  return {
    requests,
    rps: requests / duration,
    counts,
    batchSizes,
    commits,
    commitsPerSecond: commits / duration,
    largestBatch: committer!.largestBatch,
    non2xx: w.non2xx + m.non2xx,
    sockets: w.sockets + m.sockets,
    refused,
  };
}

// ---------------------------------------------------------------------------------------
// RSS after many sessions, and KV bytes per session at that size

interface RssRun {
  who: string;
  /** "new": every request a first visit; "returning": the same 50 sessions throughout. */
  mode: "new" | "returning";
  /** Sessions in the server at the end (exact for the app: counted in its store). */
  sessions: number;
  exact: boolean;
  /** Counted requests served (the hit counter). */
  requests: number;
  seconds: number;
  before: { rss: number; peak: number } | null;
  after: { rss: number; peak: number } | null;
  /** The app only: the KV file on disk, and the stored sessions' key+value bytes. */
  diskBytes?: number;
  storedKeys?: Record<string, { count: number; bytes: number }>;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

/**
 * A fresh server, its RSS idle, then `count` counted requests from wrk: first visits
 * ("new", so `count` sessions) or returning visits of 50 sessions (the control: the same
 * load without the sessions), then its RSS again.
 */
async function rssAfterRequests(
  opts: Options,
  name: "rss" | "express" | "python",
  mode: "new" | "returning",
  count: number,
  tmp: string,
): Promise<RssRun> {
  const tag = `${name}-${mode}`;
  const server = await startServer(name, tmp, tag);
  try {
    await sleep(1000);
    const before = await rssMiB(server.child.pid);
    const env: Record<string, string> = { BENCH_COOKIE_NAME: COOKIE_NAME };
    // A cookie no server knows: each poll is a first visit (counted, like the load).
    let poll = "none";
    if (mode === "returning") {
      const ids = await openSessions(server.url, opts.connections);
      env.BENCH_COOKIES = `${tmp}/cookies-${tag}.txt`;
      await Deno.writeTextFile(env.BENCH_COOKIES, ids.join("\n") + "\n");
      poll = ids[0];
    }
    const hits = async () => (await me(server, poll)).hits;
    const t0 = performance.now();
    await wrkUntil(
      opts,
      `${server.url}/`,
      600,
      env,
      async () => await hits() >= count,
    );
    const seconds = (performance.now() - t0) / 1000;
    await sleep(1500);
    const after = await rssMiB(server.child.pid);
    const total = await hits();
    const run: RssRun = {
      who: name === "rss" ? "mcq-edge, kv" : WHO[name]!,
      mode,
      sessions: mode === "new" ? total : opts.connections,
      exact: mode === "returning",
      requests: total,
      seconds,
      before,
      after,
    };
    if (name === "rss") {
      await stop(server);
      const path = `${tmp}/${tag}.kv.sqlite3`;
      run.diskBytes = await fileSize(path) + await fileSize(`${path}-wal`);
      const kv = await Deno.openKv(path);
      try {
        const stored: Record<string, { count: number; bytes: number }> = {};
        for await (const entry of kv.list({ prefix: [] })) {
          const kind = String(entry.key[0]);
          const s = stored[kind] ??= { count: 0, bytes: 0 };
          s.count++;
          s.bytes += keyBytes(entry.key) + valueBytes(entry.value);
        }
        run.storedKeys = stored;
        run.sessions = stored.sessions?.count ?? 0;
        run.exact = true;
      } finally {
        kv.close();
      }
    }
    return run;
  } finally {
    await stop(server);
  }
}

// ---------------------------------------------------------------------------------------
// Report

function log(line: string) {
  console.error(line);
}

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const cores = (n: number | null) => n === null ? "–" : n.toFixed(2);
const mib = (n: number | undefined) => n === undefined ? "–" : n.toFixed(1);
/** Other processes using more than this many cores make a run's numbers doubtful. */
const NOISY = 0.25;

interface Machine {
  nproc: number;
  cpu: string;
  memory: string;
  deno: string;
  node: string;
  python: string;
  wrk: string;
  loadavg: string;
  /** Share of the machine busy just before the start (other processes). */
  busyBefore: number | null;
}

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args }).output();
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    return text.trim().split("\n")[0];
  } catch {
    return "not installed";
  }
}

async function machine(): Promise<Machine> {
  let cpu = "unknown";
  let memory = "unknown";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? cpu;
    const mem = await Deno.readTextFile("/proc/meminfo");
    const kb = Number(mem.match(/^MemTotal:\s+(\d+)/m)?.[1]);
    if (kb) memory = `${(kb / 1024 / 1024).toFixed(1)} GiB RAM`;
  } catch { /* not Linux */ }
  const wrkText = await version("wrk", ["-v"]);
  let loadavg = "unknown";
  try {
    loadavg = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3)
      .join(" ");
  } catch { /* not Linux */ }
  return {
    nproc: navigator.hardwareConcurrency,
    cpu,
    memory,
    deno: Deno.version.deno,
    node: await version("node", ["--version"]),
    python: (await version("python3", ["--version"])).replace(/^Python /, ""),
    wrk: wrkText.match(/^wrk (\S+)/)?.[1] ?? wrkText,
    loadavg,
    busyBefore: null,
  };
}

interface Results {
  outcomes: Outcome[];
  skipped: { scenario: Scenario; reason: string }[];
  lost: LostUpdates[];
  kvOps: KvOps[];
  batches: BatchRun[];
  batchSeconds: number;
  rss: RssRun[];
  /** Scenarios before which the bench waited for other processes to calm down. */
  waited: string[];
}

function who(s: Scenario): string {
  return WHO[s.server] ?? s.server;
}

function verdictOf(ratio: number | null, target: number | undefined): string {
  if (target === undefined || ratio === null) return "";
  return ratio >= target ? ` (≥ ${target} ✓)` : ` (< ${target} ✗)`;
}

function opsCell(c: StoreCounts): string[] {
  const muts = Object.entries(c.mutations).map(([k, n]) => `${n} ${k}`).join(
    " + ",
  );
  return [
    String(c.get),
    c.getMany ? `${c.getMany} (${c.getManyKeys} keys)` : "0",
    c.list ? `${c.list} (${c.listed} entries)` : "0",
    String(c.set + c.delete),
    c.commits
      ? `${c.commits}${c.conflicts ? ` (${c.conflicts} conflict)` : ""}`
      : "0",
    muts || "–",
    String(c.checks),
  ];
}

const histogram = (h: Record<string, number>) => {
  const order = (k: string) => Number(k.split("-")[0]);
  return Object.entries(h).sort((a, b) => order(a[0]) - order(b[0])).map((
    [k, n],
  ) => `${k}: ${int(n)}`).join(", ") || "–";
};

/** What the limits of one backend allow, in the report's words. */
function limitsText(name: StoreLimitsName): string {
  const l = STORE_LIMITS[name];
  return `${LIMITS_LABEL[name]}: ${l.checks} checks and ${
    int(l.mutations)
  } mutations per atomic, ${l.readRanges} keys per read`;
}

/** The group-commit section of the report: `seconds` of each load in `batches`. */
export function batchReport(
  opts: Pick<Options, "threads" | "connections" | "visitors">,
  batches: BatchRun[],
  seconds: number,
): string[] {
  const rows = batches.map((b) =>
    `| ${LIMITS_LABEL[b.limits]} | ${b.label} | ${int(b.rps)} | ${
      int(b.commitsPerSecond)
    } | ${b.commits ? (b.requests / b.commits).toFixed(1) : "–"} | ${
      histogram(b.batchSizes)
    } | ${b.largestBatch} | ${
      histogram(b.counts.mutationsPerCommit)
    } | ${b.counts.largestChecks} | ${
      (b.counts.getMany / Math.max(1, b.requests)).toFixed(2)
    } | ${(b.counts.getManyKeys / Math.max(1, b.counts.getMany)).toFixed(1)} |`
  );
  const verdicts = BATCH_LIMITS.filter((l) =>
    batches.some((b) => b.limits === l)
  )
    .map((l) => {
      const of = batches.filter((b) => b.limits === l);
      const sum = (f: (b: BatchRun) => number) =>
        of.reduce((n, b) => n + f(b), 0);
      const [refused, non2xx, sockets] = [
        sum((b) => b.refused),
        sum((b) => b.non2xx),
        sum((b) => b.sockets),
      ];
      return `- ${
        LIMITS_LABEL[l]
      }'s limits: ${refused} calls refused by the limits proxy (must be 0), ${non2xx} non-2xx responses and ${sockets} socket errors (must be 0): ${
        refused + non2xx + sockets === 0 ? "✓" : "✗"
      }`;
    });
  return [
    `### Group commit under each backend's limits`,
    ``,
    `The instrumented app (kv mode) under \`wrk -t${opts.threads} -c${opts.connections}\`, a fresh process for each load`,
    `and each store's limits, ${seconds} s after a 1 s warm-up (the counting Proxy costs a little`,
    `throughput). Returning visitors are ${
      int(opts.visitors)
    } sessions round-robin; the answers are a list of (session,`,
    `question) pairs each sent once, as in the answer stream. "store limits" are the limits the`,
    `app is told its store has; a proxy around the store enforces them too, refusing any call`,
    `over them, so a batch too large for that backend shows even on a local file:`,
    ``,
    ...BATCH_LIMITS.map((l) => `- ${limitsText(l)}`),
    ``,
    `Batch = requests whose writes went into one commit (the committer's own`,
    `\`stats().batchSizes\`: 1, 2-3, 4-7, ...); "largest" counts the warm-up too. Reads are`,
    `merged the same way (concurrent \`getMany\`s share one call of at most 10 keys). "most`,
    `checks" is the most versionstamp checks one commit carried.`,
    ``,
    `| store limits | load | req/s (2xx) | commits/s | requests per commit | batch sizes (requests: commits) | largest batch | mutations per commit (mutations: commits) | most checks | getMany calls per request | keys per getMany |`,
    `| --- | --- | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: |`,
    ...rows,
    ``,
    ...verdicts,
    ``,
  ];
}

function report(
  opts: Options,
  results: Results,
  host: Machine,
  started: Date,
  finished: Date,
  command: string,
): string {
  const { outcomes } = results;
  const hello = outcomes.find((o) => o.scenario.server === "hello");
  const byId = new Map(outcomes.map((o) => [o.scenario.id, o]));
  const ratioOf = (o: Outcome) => hello ? o.rps / hello.rps : null;
  const rows = outcomes.map((o) => {
    const ratio = ratioOf(o);
    const sockets = o.wrk.connect + o.wrk.read + o.wrk.write + o.wrk.timeout;
    const non2xx = o.answers
      ? o.answers.conflict + o.answers.other
      : o.wrk.status;
    return `| ${who(o.scenario)} | ${o.scenario.label} | ${int(o.rps)} | ${
      ms(o.wrk.p50_us)
    } | ${ms(o.wrk.p99_us)} | ${ratio === null ? "–" : ratio.toFixed(3)}${
      verdictOf(ratio, o.scenario.target)
    } | ${non2xx} | ${sockets} | ${
      o.cpuPerRequestUs === null ? "–" : `${o.cpuPerRequestUs.toFixed(0)} µs`
    } | ${cores(o.serverCores)} | ${cores(o.jsCores)} | ${
      cores(o.wrkCores)
    } | ${cores(o.otherCores)}${(o.otherCores ?? 0) > NOISY ? " ⚠" : ""} |`;
  });
  for (const { scenario, reason } of results.skipped) {
    rows.push(
      `| ${
        who(scenario)
      } | ${scenario.label} | not run: ${reason} | | | | | | | | | | |`,
    );
  }

  // Against the peers: a column per peer, the same kind of scenario (returning or first).
  // A peer in the scenario's `beats` is judged against PEER_FACTOR; the others are shown.
  const peerRow = (o: Outcome, kind: "returning" | "first") => {
    const cells = PEERS.map((p) => {
      const id = `${p}-${kind}`;
      const peer = byId.get(id);
      if (!peer) return "–";
      const x = o.rps / peer.rps;
      const judged = o.scenario.beats?.includes(id)
        ? ` ${x >= PEER_FACTOR ? "✓" : "✗"}`
        : "";
      return `${x.toFixed(1)}×${judged} (${int(peer.rps)})`;
    });
    const ratio = ratioOf(o);
    return `| ${who(o.scenario)}: ${o.scenario.label} | ${int(o.rps)} | ${
      ratio === null ? "–" : ratio.toFixed(3)
    }${verdictOf(ratio, o.scenario.target)} | ${cells.join(" | ")} |`;
  };
  const peerRows = ["returning", "cookie-returning"].flatMap((id) => {
    const o = byId.get(id);
    return o ? [peerRow(o, "returning")] : [];
  });
  const firstRow = ["first", "cookie-first"].flatMap((id) => {
    const o = byId.get(id);
    return o ? [peerRow(o, "first")] : [];
  });
  const judgedPeers = new Set(
    SCENARIOS.flatMap((s) => s.beats ?? []).map((id) =>
      SCENARIOS.find((s) => s.id === id)?.server
    ),
  );

  const exact = outcomes.filter((o) => o.exactness).map((o) => {
    const e = o.exactness!;
    const peer = specOf(o.scenario.server).kind === "peer";
    const diff = e.counted - e.acknowledged;
    const visitsLost = e.visits !== null ? e.counted - e.visits : 0;
    const hitsOk = diff >= 0 && diff <= e.slack;
    const verdict = e.ok
      ? "exact ✓"
      : peer
      ? `${
        hitsOk ? "hits exact" : diff < 0 ? `${-diff} hits lost` : "hits over"
      }${visitsLost !== 0 ? `, ${visitsLost} visits lost` : ""} (peer)`
      : "MISMATCH ✗";
    return `| ${who(o.scenario)} | ${o.scenario.label} | ${
      int(e.acknowledged)
    } | ${int(e.counted)} | ${diff} (≤ ${e.slack}) | ${
      e.visits === null
        ? specOf(o.scenario.server).visitsInCookie &&
            o.scenario.session === "returning"
          ? "in the cookie"
          : "–"
        : int(e.visits)
    } | ${verdict} |`;
  });

  const lines: string[] = [
    `## Latest run`,
    ``,
    `- date: ${started.toISOString()} (took ${
      ((finished.getTime() - started.getTime()) / 60000).toFixed(1)
    } min)`,
    `- machine: ${host.nproc} CPUs (nproc), ${host.cpu}, ${host.memory}; load average at start ${host.loadavg}, ${
      host.busyBefore === null
        ? "busy share unknown"
        : `${(host.busyBefore * 100).toFixed(0)} % busy just before`
    }`,
    `- deno ${host.deno}, node ${host.node}, python ${host.python}, wrk ${host.wrk}`,
    `- command: \`${command}\``,
    `- load: \`wrk -t${opts.threads} -c${opts.connections} -d${opts.duration}s --latency -s bench/wrk.lua\` for every scenario, after a ${opts.warmup} s warm-up; wrk runs on the same machine`,
    `- returning visitors: ${
      int(opts.visitors)
    } distinct sessions, sent round-robin over the ${opts.connections} connections`,
    `- servers (each its own process, stdout/stderr to a file): ${
      (Object.keys(WHO) as ServerName[]).map((n) => SERVERS[n].describe).join(
        "; ",
      )
    }`,
    ...(results.waited.length
      ? [
        `- waited for other processes to calm down before: ${
          results.waited.join(", ")
        }`,
      ]
      : []),
    ``,
    `| who | scenario | req/s | p50 | p99 | ratio to hello (target) | non-2xx | socket errors | server CPU / req | server CPU (cores) | its JS thread (cores) | wrk CPU (cores) | other processes (cores) |`,
    `| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...rows,
    ``,
    `Returning visitors: ${
      int(opts.visitors)
    } sessions are opened first (one first visit each); each wrk thread`,
    `takes its own share of them and sends them round-robin over its connections (wrk has no`,
    `per-connection hook), so a session comes back only after every other session of that share.`,
    `With more sessions than connections, a session has about one request in flight at most.`,
    `In cookie mode the cookie sent is the sealed value from that first visit's \`Set-Cookie\`,`,
    `every request: each counted response re-issues the cookie (visits +1 inside), which wrk`,
    `ignores; the first one stays valid until the idle timeout (30 min), far beyond the run.`,
    `The answer stream sends a list of`,
    `(session, question) answers each exactly once (see below); its req/s counts 2xx answers.`,
    `"server CPU / req" is the server process's user+system time (all its threads) over the run`,
    `divided by the requests wrk completed. "other processes" is machine CPU time used by neither`,
    `the server, wrk nor the bench; above ${NOISY} cores (⚠) the machine was shared and the numbers`,
    `are doubtful. "its JS thread" is the server's main thread alone: JavaScript runs only there`,
    `(Deno and Node), so near 1.00 the server is bound by its JavaScript whatever the number of`,
    `cores. Python's threads all share one interpreter lock.`,
    ``,
    `### Against the peers (same machine, same run, same wrk settings)`,
    ``,
    `| mcq-edge | req/s | ratio to hello (target) | ${
      PEERS.map((p) =>
        `× ${WHO[p]}${
          judgedPeers.has(p) ? ` (returning: ≥ ${PEER_FACTOR}×)` : ""
        }`
      ).join(" | ")
    } |`,
    `| --- | ---: | --- | ${PEERS.map(() => "---").join(" | ")} |`,
    ...peerRows,
    ...firstRow,
    ``,
    `Server CPU per request by thread (µs; "main (JS)" runs all JavaScript and the HTTP`,
    `server, the other names are the runtime's worker threads, e.g. KV's SQLite work is \`sw-0\`):`,
    ``,
    ...outcomes.map((o) =>
      `- ${who(o.scenario)}, ${o.scenario.label}: ${
        o.threads.filter(([, us]) => us >= 1).slice(0, 6).map(([name, us]) =>
          `${name} ${us.toFixed(0)}`
        ).join(", ") || "–"
      }`
    ),
    ``,
    `### Exactness`,
    ``,
    `Counters read just before and after each measured run (after the warm-up has settled):`,
    `\`GET /api/me\` for mcq-edge, the page itself for a peer. "acknowledged" is the counted`,
    `2xx responses wrk received; "counted" is what the site's hits counter grew by. The server`,
    `may count up to one request per connection more: requests in flight when wrk stopped are`,
    `answered and counted but never read by wrk. Fewer counted than acknowledged is a lost`,
    `count; more than that slack, a double count. "visits counted" is what the returning`,
    `sessions' visit counters grew by (must equal "counted").`,
    ``,
    `| who | scenario | acknowledged (wrk) | counted (hits) | difference | visits counted | verdict |`,
    `| --- | --- | ---: | ---: | ---: | ---: | --- |`,
    ...exact,
    ``,
  ];

  const a = outcomes.find((o) => o.answers)?.answers;
  if (a) {
    lines.push(
      `### Answer stream`,
      ``,
      `Sessions are opened first (first visits); the list holds each (session, question) pair`,
      `once, question by question and session by session, so a session's answers are never in`,
      `flight together (${
        int(a.sessions)
      } sessions × up to 30 questions, choices at random); each wrk`,
      `thread sends its own lines in order, once. A thread that sends all its lines asks`,
      `\`GET /healthz\` (not counted) until its answers are read, then stops: ${
        a.exhausted
          ? `**${a.exhausted} thread(s) ran out**, so req/s is a lower bound`
          : "none ran out"
      }.`,
      `After the run every one of these sessions is read through \`GET /api/me\`: the`,
      `answered questions must equal the 2xx answers wrk saw (plus at most the answers in`,
      `flight at the end), no (session, quiz) may have more answered than were sent to it`,
      `(a double score), no answer may be refused (409 would mean a pair scored twice), and`,
      `the sessions' visit counters must have grown by the answers scored.`,
      ``,
      `| listed | sent | 2xx | 409 | other non-2xx | answered in the store | difference | over-answered (session, quiz) | visits counted | verdict |`,
      `| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
      `| ${int(a.planned)} | ${int(a.sent)} | ${
        int(a.ok2xx)
      } | ${a.conflict} | ${a.other} | ${int(a.stored)} | ${
        a.stored - a.ok2xx
      } (≤ ${a.slack}) | ${a.overflow} | ${int(a.visits)} | ${
        a.ok ? "exact: none lost, none scored twice ✓" : "MISMATCH ✗"
      } |`,
      ``,
    );
  }

  if (results.lost.length) {
    lines.push(
      `### Lost updates: ${LOST_UPDATE_REQUESTS} concurrent requests with ONE cookie`,
      ``,
      `After the runs, on each server: a fresh session, its counters read, then`,
      `${LOST_UPDATE_REQUESTS} \`GET /\` at once with its cookie (fetch, one connection each), then`,
      `the counters read again. In cookie mode each response re-issues the cookie; the client`,
      `keeps the one that arrived last, as a browser would.`,
      ``,
      `| server | 2xx | failed | visits gained | visits lost | hits gained | hits lost |`,
      `| --- | ---: | ---: | ---: | ---: | ---: | ---: |`,
      ...results.lost.map((l) =>
        `| ${
          WHO[l.server] ?? l.server
        } | ${l.ok} | ${l.failed} | ${l.visitsGained} | ${
          l.ok - l.visitsGained
        }${
          l.server === "app-cookie" && l.ok - l.visitsGained > 0
            ? " (by design: the count is in the cookie)"
            : ""
        } | ${l.hitsGained} | ${l.ok - l.hitsGained} |`
      ),
      ``,
    );
  }

  for (const k of results.kvOps) {
    lines.push(
      `### KV operations per request by route (${k.mode} mode)`,
      ``,
      `bench/instrumented.ts: the app's \`createApp\` with a Proxy around a real KV that counts`,
      `each call; one request per route, one at a time (so nothing is shared with another`,
      `request's read or commit), counts reset before each. "getMany" shows the keys read,`,
      `"commits" the atomic commits (each one SQLite transaction and fsync; the group commit`,
      `is one of them), "mutations" what those commits wrote, "checks" their versionstamp checks.`,
      ``,
      `| request | status | get | getMany | list | set/delete alone | commits | mutations | checks |`,
      `| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |`,
      ...k.routes.map((r) =>
        `| ${r.label} | ${r.status} | ${opsCell(r.counts).join(" | ")} |`
      ),
      ``,
    );
  }

  const bytesRows = results.kvOps.flatMap((k) =>
    k.bytes.map((b) => {
      if (k.mode === "cookie") {
        return `| cookie | ${b.label} | – (only the shared \`hits\` counter) | ${b.cookieBytes} bytes of cookie value |`;
      }
      const perSession = b.keys.filter((x) => !x.key.startsWith("users/"));
      const total = perSession.reduce(
        (s, x) => s + x.keyBytes + x.valueBytes,
        0,
      );
      const user = b.keys.find((x) => x.key.startsWith("users/"));
      return `| kv | ${b.label} | ${total} (${
        perSession.map((x) => `${x.key}: ${x.keyBytes} + ${x.valueBytes}`).join(
          "; ",
        )
      })${
        user
          ? `; plus the user record ${user.keyBytes} + ${user.valueBytes}, per user`
          : ""
      } | ${b.cookieBytes} bytes of cookie value |`;
    })
  );
  if (bytesRows.length) {
    lines.push(
      `### KV bytes per session`,
      ``,
      `Key bytes in Deno KV's key encoding (a type byte per part, strings NUL-terminated);`,
      `value bytes as KV stores them: V8 serialization (\`node:v8\` \`serialize\`, what KV uses`,
      `for objects), 8 for a counter. SQLite adds its own row and index overhead on disk (see`,
      `the RSS table for bytes on disk per session at scale).`,
      ``,
      `| mode | session | KV bytes: key + value | cookie |`,
      `| --- | --- | --- | ---: |`,
      ...bytesRows,
      ``,
    );
  }

  if (results.batches.length) {
    lines.push(...batchReport(opts, results.batches, results.batchSeconds));
  }

  if (results.rss.length) {
    lines.push(
      `### Memory after ${int(opts.sessions)} sessions`,
      ``,
      `A fresh server process each; VmRSS read from /proc idle after start, then`,
      `${
        int(opts.sessions)
      } counted requests from wrk (\`-c${opts.connections}\`, stopped once the hit`,
      `counter reached the number), then VmRSS again 1.5 s after the load ended (VmHWM is the`,
      `peak). "first visits": every request without a cookie, so each one creates a session.`,
      `"control": the same number of returning visits of ${opts.connections} sessions, i.e. the same load`,
      `without the sessions, to tell memory that sessions take from memory that serving takes`,
      `(V8 heap, allocator arenas, SQLite's page cache). mcq-edge keeps sessions in the KV file;`,
      `its counts are exact (the keys in the store afterwards); the peers keep them in their`,
      `heap, counted by their hit counter. "beyond the control" is the growth minus the`,
      `control's growth, per session: what the sessions themselves cost in memory.`,
      ``,
      `| server | load | sessions | took | RSS before | RSS after (peak) | growth per session (beyond the control) | KV file on disk (per session) | stored keys × mean key + value bytes |`,
      `| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
      ...results.rss.map((r) => {
        const growth = (x: RssRun) =>
          x.before && x.after
            ? (x.after.rss - x.before.rss) * 1024 * 1024
            : null;
        const grow = growth(r);
        const base = results.rss.find((x) =>
          x.who === r.who && x.mode === "returning"
        );
        const net = grow !== null && base && growth(base) !== null
          ? (grow - growth(base)!) / r.sessions
          : null;
        const stored = r.storedKeys
          ? Object.entries(r.storedKeys).map(([k, v]) =>
            `${k}: ${int(v.count)} × ${(v.bytes / v.count).toFixed(0)}`
          ).join("; ")
          : "–";
        const control = r.mode === "returning";
        return `| ${r.who} | ${
          control
            ? `control: ${int(r.requests)} returning visits`
            : `${int(r.requests)} first visits`
        } | ${int(r.sessions)}${r.exact ? "" : " (≈)"} | ${
          r.seconds.toFixed(0)
        } s | ${mib(r.before?.rss)} MiB | ${mib(r.after?.rss)} MiB (${
          mib(r.after?.peak)
        }) | ${
          grow === null || control
            ? "–"
            : `${int(grow / r.sessions)} bytes${
              net === null ? "" : ` (${int(net)})`
            }`
        } | ${
          r.diskBytes === undefined
            ? "–"
            : control
            ? `${mib(r.diskBytes / 1024 / 1024)} MiB`
            : `${mib(r.diskBytes / 1024 / 1024)} MiB (${
              int(r.diskBytes / r.sessions)
            } bytes)`
        } | ${stored} |`;
      }),
      ``,
    );
  }

  // Targets, in one place.
  const targets: string[] = [];
  for (const o of outcomes) {
    const ratio = ratioOf(o);
    if (o.scenario.target !== undefined && ratio !== null) {
      targets.push(
        `- ${who(o.scenario)}, ${o.scenario.label}: ${
          ratio.toFixed(3)
        } of hello, target ≥ ${o.scenario.target}: ${
          ratio >= o.scenario.target ? "met ✓" : "not met ✗"
        }`,
      );
    }
    for (const id of o.scenario.beats ?? []) {
      const peer = byId.get(id);
      if (!peer) continue;
      const x = o.rps / peer.rps;
      targets.push(
        `- ${who(o.scenario)}, ${o.scenario.label}: ${x.toFixed(1)}× ${
          who(peer.scenario)
        }, target ≥ ${PEER_FACTOR}×: ${
          x >= PEER_FACTOR ? "met ✓" : "not met ✗"
        }`,
      );
    }
  }
  if (a) {
    targets.push(
      `- answer stream: ${
        a.ok ? "zero lost or double-scored answers ✓" : "answers MISMATCH ✗"
      }`,
    );
  }
  for (const l of results.lost) {
    if (specOf(l.server).kind !== "app") continue;
    const visitsLost = l.ok - l.visitsGained;
    targets.push(
      `- lost updates, ${WHO[l.server]}: ${visitsLost} visits, ${
        l.ok - l.hitsGained
      } hits lost of ${l.ok}${
        specOf(l.server).visitsInCookie
          ? " (visits in the cookie: lost by design)"
          : visitsLost === 0 && l.ok === l.hitsGained
          ? " ✓"
          : " ✗"
      }`,
    );
  }
  if (targets.length) lines.push(`### Targets`, ``, ...targets, ``);
  return lines.join("\n");
}

const BEGIN =
  "<!-- deno task bench: begin (generated, replaced by each run) -->";
const END = "<!-- deno task bench: end -->";

async function readOr(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * The report goes between the markers; whatever else the file holds (the hand-written
 * analysis) is kept. A file without markers gets a title and the report.
 */
export function withReport(existing: string | null, report: string): string {
  const block = `${BEGIN}\n${report.trimEnd()}\n${END}`;
  const start = existing?.indexOf(BEGIN) ?? -1;
  const end = existing?.indexOf(END) ?? -1;
  if (existing && start >= 0 && end > start) {
    return existing.slice(0, start) + block + existing.slice(end + END.length);
  }
  return `# Benchmarks\n\nWritten by \`deno task bench\` (bench/bench.ts).\n\n${block}\n`;
}

// ---------------------------------------------------------------------------------------
// Main

async function main(args: string[]): Promise<number> {
  let opts;
  try {
    opts = parseOptions(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (opts === "help") {
    console.log(USAGE);
    return 0;
  }
  const host = await machine();
  host.busyBefore = await waitForQuiet(opts.waitQuiet);
  const started = new Date();
  const scenarios = SCENARIOS.filter((s) =>
    scenarioSelected(opts, s) || s.server === "hello"
  );
  const tmp = await Deno.makeTempDir({ prefix: "mcq-bench-" });
  const results: Results = {
    outcomes: [],
    skipped: [],
    lost: [],
    kvOps: [],
    batches: [],
    // A short --duration shortens this phase too.
    batchSeconds: Math.min(opts.quick ? 2 : 5, opts.duration),
    rss: [],
    waited: [],
  };
  let failed = false;
  try {
    log(
      `bench: ${host.nproc} CPUs, load average ${host.loadavg}; ${opts.duration} s per scenario, ${opts.connections} connections`,
    );
    const servers = new Map<ServerName, Running>();
    const unavailable = new Map<ServerName, string>();
    const sessions = new Map<ServerName, string[]>();
    const serverFor = async (name: ServerName) => {
      let server = servers.get(name);
      if (!server && !unavailable.has(name)) {
        log(`starting ${name}`);
        try {
          server = await startServer(name, tmp);
          servers.set(name, server);
        } catch (error) {
          // A missing peer (no node or python3) leaves its rows out; the app must start.
          if (specOf(name).kind !== "peer") throw error;
          const reason = (error as Error).message.split("\n")[0];
          unavailable.set(name, reason);
          log(`  ${name} not available: ${reason}`);
        }
      }
      return server;
    };
    for (const [i, scenario] of scenarios.entries()) {
      const server = await serverFor(scenario.server);
      if (!server) {
        results.skipped.push({
          scenario,
          reason: unavailable.get(scenario.server)!,
        });
        continue;
      }
      const s = server;
      const getSessions = async () => {
        let ids = sessions.get(s.name);
        if (!ids) {
          ids = await openSessions(s.url, opts.visitors);
          sessions.set(s.name, ids);
        }
        return ids;
      };
      if (opts.waitQuiet > 0 && i > 0) {
        const busy = await busyShare(1000);
        if (busy !== null && busy >= 0.15) {
          results.waited.push(scenario.id);
          await waitForQuiet(Math.min(30, opts.waitQuiet), 1000);
        }
      }
      log(`${scenario.id}: ${who(scenario)}, ${scenario.label}`);
      const outcome = await runScenario(opts, scenario, s, getSessions, tmp);
      results.outcomes.push(outcome);
      log(
        `  ${int(outcome.rps)} req/s, p50 ${ms(outcome.wrk.p50_us)}, p99 ${
          ms(outcome.wrk.p99_us)
        }, non-2xx ${outcome.wrk.status}${
          (outcome.otherCores ?? 0) > NOISY
            ? `; other processes used ${
              cores(outcome.otherCores)
            } cores: numbers doubtful`
            : ""
        }`,
      );
      if (s.exited) {
        throw new Error(`${s.name} died; log:\n${await tail(s.log)}`);
      }
      // A server whose scenarios are all done is stopped (unless the probe needs it).
      const later = scenarios.slice(i + 1).some((x) => x.server === s.name);
      if (
        !later && !(s.spec.kind !== "hello" && lostUpdateSelected(opts, s.name))
      ) {
        await stop(s);
        servers.delete(s.name);
      }
    }

    for (const name of LOST_UPDATE_SERVERS) {
      if (lostUpdateSelected(opts, name)) {
        const server = await serverFor(name);
        if (!server) continue;
        log(
          `lost updates: ${LOST_UPDATE_REQUESTS} concurrent requests, one cookie, ${name}`,
        );
        results.lost.push(await lostUpdates(server, LOST_UPDATE_REQUESTS));
      }
    }
    await stopAll();

    if (selected(opts, "kv-ops")) {
      for (const name of ["instrumented", "instrumented-cookie"] as const) {
        log(`starting ${name}`);
        const server = await startServer(name, tmp);
        try {
          log(`kv-ops: one request per route (${name})`);
          results.kvOps.push(await kvOpsByRoute(server));
        } finally {
          await stop(server);
        }
      }
    }
    if (selected(opts, "group-commit")) {
      log(`group-commit: ${results.batchSeconds} s per load`);
      results.batches = await groupCommit(opts, results.batchSeconds, tmp);
    }

    if (selected(opts, "rss")) {
      const runs = [
        ["rss", "new"],
        ["rss", "returning"],
        ["express", "new"],
        ["express", "returning"],
        ["python", "new"],
        ["python", "returning"],
      ] as const;
      for (const [name, mode] of runs) {
        if (unavailable.has(name)) continue;
        log(`rss: ${int(opts.sessions)} ${mode} visits on ${name}`);
        try {
          results.rss.push(
            await rssAfterRequests(opts, name, mode, opts.sessions, tmp),
          );
        } catch (error) {
          if (specOf(name).kind !== "peer") throw error;
          log(`  ${name}: ${(error as Error).message.split("\n")[0]}`);
        }
      }
    }
  } finally {
    await stopAll();
    if (opts.keep) log(`kept ${tmp} (server logs, KV files, request lists)`);
    else await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }

  const command = ["deno task bench", ...args].join(" ");
  const text = report(opts, results, host, started, new Date(), command);
  console.log(text);
  if (opts.out) {
    await Deno.writeTextFile(
      opts.out,
      withReport(await readOr(opts.out), text),
    );
    log(`written to ${opts.out}`);
  }
  const hello = results.outcomes.find((o) => o.scenario.server === "hello");
  for (const o of results.outcomes) {
    // The peers are measured, not judged: their errors and lost counts are findings.
    if (specOf(o.scenario.server).kind === "peer") continue;
    const errors =
      (o.answers ? o.answers.conflict + o.answers.other : o.wrk.status) +
      o.wrk.connect + o.wrk.read + o.wrk.write + o.wrk.timeout;
    if (errors > 0) {
      log(
        `FAIL ${o.scenario.id}: ${errors} non-2xx responses or socket errors`,
      );
      failed = true;
    }
    if (o.exactness && !o.exactness.ok) {
      log(`FAIL ${o.scenario.id}: counters do not match the requests answered`);
      failed = true;
    }
    if (o.answers && !o.answers.ok) {
      log(`FAIL ${o.scenario.id}: answers lost or scored twice`);
      failed = true;
    }
    if (o.scenario.target !== undefined && hello) {
      const ratio = o.rps / hello.rps;
      if (ratio < o.scenario.target) {
        log(
          `${opts.strict ? "FAIL" : "below target"} ${o.scenario.id}: ${
            ratio.toFixed(3)
          } of hello < ${o.scenario.target}`,
        );
        if (opts.strict) failed = true;
      }
    }
  }
  for (const l of results.lost) {
    if (specOf(l.server).kind !== "app") continue;
    const visitsLost = specOf(l.server).visitsInCookie
      ? 0
      : l.ok - l.visitsGained;
    if (visitsLost !== 0 || l.ok !== l.hitsGained || l.ok !== l.requests) {
      log(`FAIL lost updates on ${l.server}: ${JSON.stringify(l)}`);
      failed = true;
    }
  }
  for (const b of results.batches) {
    if (b.refused + b.non2xx + b.sockets > 0) {
      log(
        `FAIL group-commit, ${b.label} under ${
          LIMITS_LABEL[b.limits]
        }'s limits: ${b.refused} calls refused, ${b.non2xx} non-2xx, ${b.sockets} socket errors`,
      );
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

if (import.meta.main) {
  // Ctrl-C must not leave servers behind.
  Deno.addSignalListener("SIGINT", () => {
    stopAll().finally(() => Deno.exit(130));
  });
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    await stopAll();
    console.error(
      `error: ${error instanceof Error ? error.message : String(error)}`,
    );
    Deno.exit(1);
  }
}
