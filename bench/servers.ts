/**
 * The servers `deno task bench` measures (SERVERS: hello, the app in both session modes, the
 * instrumented app, the peers), and starting and stopping them: each peer's packages
 * installed on first use, each Redis started for its peer and stopped with it.
 */
import { CONFIG_VARS } from "../lib/base/config.ts";
import {
  freePort,
  ROOT,
  type Server,
  startProcess,
  tail,
} from "../tests/support/server.ts";
import { log, sleep } from "./load.ts";

/** The cookie-mode servers' secret: any 32+ characters; only this run's servers use it. */
const COOKIE_SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

export interface ServerSpec {
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

/** A peer under this Deno: loopback only, the environment, and its KV file in the temp dir. */
const denoPeer = (script: string) => [
  "{deno}",
  "run",
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  script,
];

export const SERVERS = {
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
    cmd: denoPeer("bench/peers/hono/server.ts"),
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
  "kv-floor": {
    describe:
      "bench/peers/kv-floor/server.ts: bare Deno.serve doing only the store work of mcq-edge's kv mode (a first visit: the session record and the hit in one commit; a returning one: from memory, one grouped commit with a visit sum and two versionstamp checks per request), the same security headers, a small page; no routing, rendering or logging (deno)",
    cmd: denoPeer("bench/peers/kv-floor/server.ts"),
    env: { KV_PATH: "{tmp}/kv-floor.kv.sqlite3" },
    ready: "/",
    kind: "peer",
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

export type ServerName = keyof typeof SERVERS;
export const specOf = (name: ServerName): ServerSpec => SERVERS[name];

/** Who is measured, as the report groups them. */
export const WHO: Partial<Record<ServerName, string>> = {
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
  "kv-floor": "KV floor (the store work alone)",
};

/** The peers, in the order of their scenarios and of the report's columns. */
export const PEERS = [
  "express",
  "python",
  "hono",
  "express-redis",
  "express-redis-always",
  "flask",
  "iron-session",
  "kv-floor",
] as const satisfies readonly ServerName[];

export interface Running {
  name: ServerName;
  spec: ServerSpec;
  url: string;
  child: Deno.ChildProcess;
  /** The file its stdout and stderr go to. */
  log: string;
  readonly exited: boolean;
  /** The process itself (tests/support/server.ts). */
  proc: Server;
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

/** The environment of a start: the caller's, without the app's configuration, plus the spec's. */
function serverEnv(
  spec: ServerSpec,
  tmp: string,
  tag: string,
  extraEnv: Record<string, string>,
): Record<string, string> {
  const env = Deno.env.toObject();
  // The app's configuration must not leak in from the caller's shell.
  for (const v of CONFIG_VARS) delete env[v];
  for (const [k, v] of Object.entries({ ...spec.env, ...extraEnv })) {
    env[k] = v.replaceAll("{tmp}", tmp).replaceAll("{tag}", tag);
  }
  return env;
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
  const env = serverEnv(spec, tmp, tag, extraEnv);
  const redis = spec.redis ? await startRedis(tmp, tag, spec.redis) : undefined;
  if (redis) env.REDIS_URL = redis.url;
  const log = `${tmp}/${tag}.log`;
  let proc: Server;
  try {
    proc = await startProcess({
      cmd: spec.cmd.map((a) => a === "{deno}" ? Deno.execPath() : a),
      cwd: spec.cwd ?? ROOT,
      env,
      clearEnv: true,
      output: { file: log },
      ready: spec.ready,
      timeoutMs: 60_000,
      name,
    });
  } catch (error) {
    if (redis) await stopRedis(redis.child);
    throw error;
  }
  const server: Running = {
    name,
    spec,
    url: proc.url,
    child: proc.child,
    log,
    get exited() {
      return proc.exited;
    },
    proc,
    redis: redis?.child,
  };
  running.push(server);
  return server;
}

/** Stops a server (SIGTERM, SIGKILL after 5 s) and then its Redis. */
export async function stop(server: Running) {
  const at = running.indexOf(server);
  if (at >= 0) running.splice(at, 1);
  await server.proc.stop("SIGTERM", 5000);
  if (server.redis) await stopRedis(server.redis);
}

/** Stops every server still running. */
export async function stopAll() {
  for (const server of [...running]) await stop(server);
}
