/**
 * `deno task bench`: the benchmark report.
 *
 * Starts the app (`deno run -A main.ts` on a temporary KV file) and a bare `Deno.serve` hello
 * as subprocesses, drives both with wrk, and prints req/s, p50, p99 and the ratio to hello for
 * each scenario; then checks that the site's hit counter (and, with a cookie, each session's
 * visit counter) counted exactly the requests the server answered. The Markdown report is
 * also written to docs/BENCHMARKS.md.
 *
 *   deno task bench [--duration 10] [--warmup 2] [--connections 50] [--threads 2]
 *                   [--quick] [--only id,id] [--out docs/BENCHMARKS.md | --no-write]
 *                   [--keep] [--strict] [--wait-quiet 60]
 *
 * To add a scenario, add a server to SERVERS (if it needs another process or environment)
 * and an entry to SCENARIOS; bench/wrk.lua already handles cookies, methods and bodies.
 */
import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url).pathname;
const WRK_SCRIPT = `${ROOT}bench/wrk.lua`;
const COOKIE_NAME = "sessionId";

// ---------------------------------------------------------------------------------------
// What is measured

interface ServerSpec {
  /** What the report says it is. */
  describe: string;
  /** `deno` arguments, run from the project root. */
  args: string[];
  /** Extra environment (PORT and HOST are set by the bench); `{tmp}` is the temp dir. */
  env?: Record<string, string>;
  /** A path that answers 200 once the server is ready. */
  ready: string;
  /** Whether it is the app (has sessions and the hits counter at /api/me). */
  app: boolean;
}

const SERVERS = {
  hello: {
    describe: "bench/hello.ts: bare Deno.serve answering `hello`",
    args: ["run", "--allow-net", "--allow-env", "bench/hello.ts"],
    ready: "/",
    app: false,
  },
  app: {
    describe: "main.ts, SESSION_MODE=kv, KV on a temp file",
    args: ["run", "-A", "main.ts"],
    env: { KV_PATH: "{tmp}/bench.kv.sqlite3" },
    ready: "/healthz",
    app: true,
  },
  // Later: "app-cookie": { ..., env: { SESSION_MODE: "cookie", SESSION_SECRET: "..." } }
} satisfies Record<string, ServerSpec>;

type ServerName = keyof typeof SERVERS;

interface Scenario {
  id: string;
  label: string;
  server: ServerName;
  path: string;
  /** "returning": one session per connection, created before the run; "none": no cookie. */
  session: "none" | "returning";
  /** Counted in the site's hits (so the run ends with an exactness check). */
  counted: boolean;
  /** The minimum ratio of req/s to hello's. */
  target?: number;
  method?: string;
  body?: string;
  contentType?: string;
}

/**
 * Run in this order, on one app process and store. First visits go last: each one stores a
 * new session (about 20,000 in a 10 s run), and a store that just grew that much made the
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
    target: 0.12,
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
    id: "first",
    label: "first visit `GET /` (no cookie)",
    server: "app",
    path: "/",
    session: "none",
    counted: true,
    target: 0.05,
  },
];

// ---------------------------------------------------------------------------------------
// Options

const USAGE =
  `usage: deno task bench [--duration S] [--warmup S] [--connections N] [--threads N]
                        [--quick] [--only id,id] [--out FILE | --no-write] [--keep] [--strict]
                        [--wait-quiet S]
scenarios: ${SCENARIOS.map((s) => s.id).join(", ")}`;

interface Options {
  duration: number;
  warmup: number;
  connections: number;
  threads: number;
  quick: boolean;
  only: string[] | null;
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

function parseOptions(args: string[]): Options | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        duration: { type: "string" },
        warmup: { type: "string" },
        connections: { type: "string" },
        threads: { type: "string" },
        quick: { type: "boolean" },
        only: { type: "string" },
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
  const only = values.only
    ? values.only.split(",").map((s) => s.trim()).filter(Boolean)
    : null;
  for (const id of only ?? []) {
    if (!SCENARIOS.some((s) => s.id === id)) {
      throw new UsageError(`--only: unknown scenario "${id}"`);
    }
  }
  const threads = positiveInt("threads", values.threads, 2);
  const connections = positiveInt("connections", values.connections, 50);
  if (connections < threads) {
    throw new UsageError("--connections must be at least --threads");
  }
  return {
    duration: positiveInt("duration", values.duration, quick ? 3 : 10),
    warmup: positiveInt("warmup", values.warmup, quick ? 1 : 2),
    connections,
    threads,
    quick,
    only,
    out: values["no-write"] ? null : values.out ?? `${ROOT}docs/BENCHMARKS.md`,
    keep: values.keep ?? false,
    strict: values.strict ?? false,
    waitQuiet: values["wait-quiet"] === "0"
      ? 0
      : positiveInt("wait-quiet", values["wait-quiet"], 60),
  };
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

/** Variables of the app's configuration that must not leak in from the caller's shell. */
const APP_VARIABLES = [
  "PORT",
  "HOST",
  "KV_PATH",
  "SESSION_COOKIE_NAME",
  "SESSION_IDLE_TIMEOUT",
  "SESSION_ABSOLUTE_TIMEOUT",
  "SESSION_MODE",
  "SESSION_SECRET",
  "COOKIE_SECURE",
  "TRUST_PROXY",
  "ADMIN_TOKEN",
  "PBKDF2_ITERATIONS",
  "MAX_BODY_BYTES",
  "DENO_DEPLOYMENT_ID",
];

interface Running {
  name: ServerName;
  url: string;
  child: Deno.ChildProcess;
  log: string;
  exited: boolean;
}

const running: Running[] = [];

/**
 * Starts a server with its stdout and stderr going straight to a log file (through `sh`'s
 * redirection, then `exec`, so the pid is the server's): the app logs a line per request,
 * and relaying that through this process would cost CPU the benchmark is measuring.
 */
async function startServer(name: ServerName, tmp: string): Promise<Running> {
  const spec: ServerSpec = SERVERS[name];
  const port = freePort();
  const env = Deno.env.toObject();
  for (const v of APP_VARIABLES) delete env[v];
  for (const [k, v] of Object.entries(spec.env ?? {})) {
    env[k] = v.replaceAll("{tmp}", tmp);
  }
  env.PORT = String(port);
  env.HOST = "127.0.0.1";
  const log = `${tmp}/${name}.log`;
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'log="$1"; shift; exec "$@" >"$log" 2>&1',
      "sh",
      log,
      Deno.execPath(),
      ...spec.args,
    ],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const server: Running = {
    name,
    url: `http://127.0.0.1:${port}`,
    child,
    log,
    exited: false,
  };
  running.push(server);
  child.status.then(() => server.exited = true);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exited) {
      throw new Error(`${name} exited at start; its log:\n${await tail(log)}`);
    }
    try {
      const res = await fetch(server.url + spec.ready);
      await res.body?.cancel();
      if (res.ok) return server;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
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

async function stopAll() {
  for (const server of running.splice(0)) {
    if (server.exited) continue;
    try {
      server.child.kill("SIGTERM");
    } catch { /* already gone */ }
    const done = await Promise.race([
      server.child.status.then(() => true),
      sleep(3000).then(() => false),
    ]);
    if (!done) {
      try {
        server.child.kill("SIGKILL");
      } catch { /* already gone */ }
      await server.child.status;
    }
  }
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
 * running JavaScript in Deno) is reported as "main (JS)".
 */
async function threadCpu(pid: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      try {
        const stat = await Deno.readTextFile(
          `/proc/${pid}/task/${task.name}/stat`,
        );
        const name = task.name === String(pid)
          ? "main (JS)"
          : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const ms = (Number(f[11]) + Number(f[12])) * 10;
        out.set(name, (out.get(name) ?? 0) + ms);
      } catch { /* the thread ended */ }
    }
  } catch { /* not Linux, or the process ended */ }
  return out;
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
 * for a 2 s window with less than 15 % of the machine busy, and says what it found.
 */
async function waitForQuiet(seconds: number): Promise<number | null> {
  const deadline = Date.now() + seconds * 1000;
  for (let said = false;;) {
    const busy = await busyShare(2000);
    if (busy === null || busy < 0.15 || Date.now() >= deadline) return busy;
    if (!said) {
      log(
        `machine ${
          (busy * 100).toFixed(0)
        } % busy before the start: waiting up to ${seconds} s for it to calm down`,
      );
      said = true;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Sessions and counters, through the app itself

/** Opens `count` sessions with the app (first visits) and returns their ids. */
async function openSessions(url: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${url}/`);
    await res.body?.cancel();
    if (res.status !== 200) {
      throw new Error(`opening a session: GET / answered ${res.status}`);
    }
    const cookie = res.headers.getSetCookie().find((c) =>
      c.startsWith(`${COOKIE_NAME}=`)
    );
    if (!cookie) throw new Error("opening a session: no session cookie set");
    ids.push(cookie.slice(COOKIE_NAME.length + 1).split(";")[0]);
  }
  return ids;
}

interface Me {
  hits: number;
  visits: number;
}

async function me(url: string, id: string): Promise<Me> {
  const res = await fetch(`${url}/api/me`, {
    headers: { cookie: `${COOKIE_NAME}=${id}` },
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`GET /api/me answered ${res.status}`);
  }
  return await res.json();
}

/**
 * Reads the counters through GET /api/me, which answers the stored value plus one (itself)
 * and then counts itself. `before` reads every session in order and ends with the hits
 * counter as stored; `after` starts with the hits counter as stored before it.
 */
async function readCounters(
  url: string,
  ids: string[],
  when: "before" | "after",
) {
  const visits: number[] = [];
  let hits = 0;
  for (let i = 0; i < ids.length; i++) {
    const m = await me(url, ids[i]);
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
}

async function wrk(
  opts: Options,
  url: string,
  seconds: number,
  env: Record<string, string>,
): Promise<{ result: WrkResult; text: string }> {
  const cmd = new Deno.Command("wrk", {
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
  let output;
  try {
    output = await cmd.output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "wrk is not installed (Debian/Ubuntu: apt-get install wrk)",
      );
    }
    throw error;
  }
  const text = new TextDecoder().decode(output.stdout);
  const err = new TextDecoder().decode(output.stderr);
  const line = text.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (!output.success || !line) {
    throw new Error(`wrk failed (exit ${output.code}):\n${text}${err}`);
  }
  return { result: JSON.parse(line.slice("BENCH_JSON ".length)), text };
}

// ---------------------------------------------------------------------------------------
// One scenario

interface Exactness {
  /** Responses wrk received (complete) during the measured run. */
  acknowledged: number;
  /** What the hits counter grew by over the same run. */
  counted: number;
  /** What the sessions' visit counters grew by, when the scenario has sessions. */
  visits: number | null;
  /** Requests the server may legitimately have answered after wrk stopped reading. */
  slack: number;
  ok: boolean;
}

interface Outcome {
  scenario: Scenario;
  wrk: WrkResult;
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
  };
  const ids = scenario.session === "returning" || scenario.counted
    ? await sessions()
    : [];
  if (scenario.session === "returning") {
    const file = `${tmp}/cookies-${scenario.id}.txt`;
    await Deno.writeTextFile(file, ids.join("\n") + "\n");
    env.BENCH_COOKIES = file;
  }
  const url = server.url + scenario.path;

  // One request by hand first: a scenario that fails should say why, not show 100% non-2xx.
  const probe = await fetch(url, {
    method: scenario.method ?? "GET",
    body: scenario.body,
    headers: {
      ...(scenario.contentType ? { "content-type": scenario.contentType } : {}),
      ...(scenario.session === "returning"
        ? { cookie: `${COOKIE_NAME}=${ids[0]}` }
        : {}),
    },
  });
  await probe.body?.cancel();
  if (probe.status < 200 || probe.status > 299) {
    throw new Error(`${scenario.id}: ${url} answered ${probe.status}`);
  }

  log(`  ${scenario.id}: warm-up ${opts.warmup} s`);
  await wrk(opts, url, opts.warmup, env);
  // Requests cut off when wrk stopped may still be finishing: let them land.
  await sleep(500);

  // Only the counting scenarios read counters; the "before" reads set the baseline.
  const checked = scenario.session === "returning" ? ids : ids.slice(0, 1);
  const before = scenario.counted
    ? await readCounters(server.url, checked, "before")
    : null;

  log(`  ${scenario.id}: measuring ${opts.duration} s`);
  const cpu0 = await cpuMs(server.child.pid);
  const threads0 = await threadCpu(server.child.pid);
  const m0 = await machineCpu();
  const self0 = await selfCpu();
  const t0 = performance.now();
  const { result } = await wrk(opts, url, opts.duration, env);
  const elapsed = performance.now() - t0;
  const cpu1 = await cpuMs(server.child.pid);
  const threads1 = await threadCpu(server.child.pid);
  const m1 = await machineCpu();
  const self1 = await selfCpu();
  await sleep(500);

  let exactness: Exactness | null = null;
  if (before) {
    const after = await readCounters(server.url, checked, "after");
    const counted = after.hits - before.hits;
    const visits = scenario.session === "returning"
      ? after.visits.reduce((a, b, i) => a + b - before.visits[i], 0)
      : null;
    // Up to one request per connection may be in flight when wrk stops (the server answers
    // and counts it, wrk no longer reads it); a timed-out or broken one may still have landed.
    const slack = opts.connections + result.timeout + result.read +
      result.write;
    const diff = counted - result.requests;
    exactness = {
      acknowledged: result.requests,
      counted,
      visits,
      slack,
      ok: diff >= 0 && diff <= slack && (visits === null || visits === counted),
    };
  }
  const rps = result.requests / (result.duration_us / 1e6);
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
  };
}

// ---------------------------------------------------------------------------------------
// Report

function log(line: string) {
  console.error(line);
}

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const cores = (n: number | null) => n === null ? "–" : n.toFixed(2);
/** Other processes using more than this many cores make a run's numbers doubtful. */
const NOISY = 0.25;

interface Machine {
  nproc: number;
  cpu: string;
  deno: string;
  wrk: string;
  loadavg: string;
  /** Share of the machine busy just before the start (other processes). */
  busyBefore: number | null;
}

async function machine(): Promise<Machine> {
  let cpu = "unknown";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? cpu;
  } catch { /* not Linux */ }
  let wrkVersion = "unknown";
  try {
    const out = await new Deno.Command("wrk", { args: ["-v"] }).output();
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    wrkVersion = text.match(/^wrk (\S+)/m)?.[1] ?? wrkVersion;
  } catch { /* reported when the run needs it */ }
  let loadavg = "unknown";
  try {
    loadavg = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3)
      .join(" ");
  } catch { /* not Linux */ }
  return {
    nproc: navigator.hardwareConcurrency,
    cpu,
    deno: Deno.version.deno,
    wrk: wrkVersion,
    loadavg,
    busyBefore: null,
  };
}

function report(
  opts: Options,
  outcomes: Outcome[],
  host: Machine,
  started: Date,
  command: string,
): string {
  const hello = outcomes.find((o) => o.scenario.server === "hello");
  const rows = outcomes.map((o) => {
    const ratio = hello ? o.rps / hello.rps : null;
    const target = o.scenario.target;
    const verdict = target === undefined || ratio === null
      ? ""
      : ratio >= target
      ? ` (≥ ${target} ✓)`
      : ` (< ${target} ✗)`;
    const sockets = o.wrk.connect + o.wrk.read + o.wrk.write + o.wrk.timeout;
    return `| ${o.scenario.label} | ${int(o.rps)} | ${ms(o.wrk.p50_us)} | ${
      ms(o.wrk.p99_us)
    } | ${
      ratio === null ? "–" : ratio.toFixed(3)
    }${verdict} | ${o.wrk.status} | ${sockets} | ${
      o.cpuPerRequestUs === null ? "–" : `${o.cpuPerRequestUs.toFixed(0)} µs`
    } | ${cores(o.serverCores)} | ${cores(o.jsCores)} | ${
      cores(o.wrkCores)
    } | ${cores(o.otherCores)}${(o.otherCores ?? 0) > NOISY ? " ⚠" : ""} |`;
  });
  const exact = outcomes.filter((o) => o.exactness).map((o) => {
    const e = o.exactness!;
    return `| ${o.scenario.label} | ${int(e.acknowledged)} | ${
      int(e.counted)
    } | ${e.counted - e.acknowledged} (≤ ${e.slack}) | ${
      e.visits === null ? "–" : int(e.visits)
    } | ${e.ok ? "exact ✓" : "MISMATCH ✗"} |`;
  });
  return [
    `## Latest run`,
    ``,
    `- date: ${started.toISOString()}`,
    `- machine: ${host.nproc} CPUs (nproc), ${host.cpu}; load average at start ${host.loadavg}, ${
      host.busyBefore === null
        ? "busy share unknown"
        : `${(host.busyBefore * 100).toFixed(0)} % busy just before`
    }`,
    `- deno ${host.deno}, wrk ${host.wrk}`,
    `- command: \`${command}\``,
    `- load: \`wrk -t${opts.threads} -c${opts.connections} -d${opts.duration}s --latency -s bench/wrk.lua\`, after a ${opts.warmup} s warm-up per scenario; wrk runs on the same machine`,
    `- servers: ${
      Object.values(SERVERS).map((s) => s.describe).join("; ")
    }; stdout/stderr to a file`,
    ``,
    `| scenario | req/s | p50 | p99 | ratio to hello (target) | non-2xx | socket errors | server CPU / req | server CPU (cores) | its JS thread (cores) | wrk CPU (cores) | other processes (cores) |`,
    `| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...rows,
    ``,
    `Returning visitors: ${opts.connections} sessions are opened first (one first visit each);`,
    `each wrk thread sends its share of them round-robin (wrk has no per-connection hook), so`,
    `each session has about one request in flight at a time. "server CPU / req" is the server`,
    `process's user+system time (all its threads) over the run divided by the requests wrk`,
    `completed. "other processes" is machine CPU time used by neither the server, wrk nor the`,
    `bench; above ${NOISY} cores (⚠) the machine was shared and the numbers are doubtful.`,
    `"its JS thread" is the server's main thread alone: JavaScript runs only there, so near`,
    `1.00 the server is bound by its JavaScript whatever the number of cores.`,
    ``,
    `Server CPU per request by thread (µs; "main (JS)" runs all JavaScript and the HTTP`,
    `server, the other names are Deno's worker threads, e.g. KV's SQLite work):`,
    ``,
    ...outcomes.map((o) =>
      `- ${o.scenario.label}: ${
        o.threads.filter(([, us]) => us >= 1).map(([name, us]) =>
          `${name} ${us.toFixed(0)}`
        ).join(", ") || "–"
      }`
    ),
    ``,
    `### Exactness`,
    ``,
    `Counters read through \`GET /api/me\` just before and after each measured run (after the`,
    `warm-up has settled). "acknowledged" is what wrk received; "counted" is what the site's hits`,
    `counter grew by. The server may count up to one request per connection more: requests in`,
    `flight when wrk stopped are answered and counted but never read by wrk. Fewer counted than`,
    `acknowledged would be a lost count; more than that slack, a double count.`,
    ``,
    `| scenario | acknowledged (wrk) | counted (hits) | difference | visits counted | verdict |`,
    `| --- | ---: | ---: | ---: | ---: | --- |`,
    ...exact,
    ``,
  ].join("\n");
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
    !opts.only || opts.only.includes(s.id) || s.server === "hello"
  );
  const tmp = await Deno.makeTempDir({ prefix: "mcq-bench-" });
  const outcomes: Outcome[] = [];
  let failed = false;
  try {
    log(
      `bench: ${host.nproc} CPUs, load average ${host.loadavg}; ${opts.duration} s per scenario, ${opts.connections} connections`,
    );
    const servers = new Map<ServerName, Running>();
    const sessions = new Map<ServerName, string[]>();
    for (const scenario of scenarios) {
      let server = servers.get(scenario.server);
      if (!server) {
        log(`starting ${scenario.server}`);
        server = await startServer(scenario.server, tmp);
        servers.set(scenario.server, server);
      }
      const s = server;
      const getSessions = async () => {
        let ids = sessions.get(s.name);
        if (!ids) {
          ids = await openSessions(s.url, opts.connections);
          sessions.set(s.name, ids);
        }
        return ids;
      };
      log(`${scenario.id}: ${scenario.label}`);
      const outcome = await runScenario(opts, scenario, s, getSessions, tmp);
      outcomes.push(outcome);
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
    }
  } finally {
    await stopAll();
    if (opts.keep) log(`kept ${tmp} (server logs, KV file)`);
    else await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }

  const command = ["deno task bench", ...args].join(" ");
  const text = report(opts, outcomes, host, started, command);
  console.log(text);
  if (opts.out) {
    await Deno.writeTextFile(
      opts.out,
      withReport(await readOr(opts.out), text),
    );
    log(`written to ${opts.out}`);
  }
  const hello = outcomes.find((o) => o.scenario.server === "hello");
  for (const o of outcomes) {
    const errors = o.wrk.status + o.wrk.connect + o.wrk.read + o.wrk.write +
      o.wrk.timeout;
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
