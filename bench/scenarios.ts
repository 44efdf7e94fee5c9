/**
 * The wrk scenarios (SCENARIOS, in their order) and one scenario's run: warm-up, the
 * measured run with the server's CPU around it, and the exactness checks after it.
 */
import type { Options } from "./options.ts";
import { PEERS, type Running, type ServerName } from "./servers.ts";
import {
  cpuMs,
  log,
  machineCpu,
  selfCpu,
  sleep,
  threadCpu,
  wrk,
  type WrkResult,
} from "./load.ts";
import {
  type AnswerPlan,
  answerPlan,
  type AnswersCheck,
  checkAnswers,
  COOKIE_NAME,
  type QuizInfo,
  quizzesOf,
  readCounters,
} from "./visits.ts";
import { int } from "./format.ts";

/** Answers per second the first answer list is sized for (a generous upper bound). */
export const ANSWER_RATE_CAP = 6000;

export interface Scenario {
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
export const PEER_FACTOR = 3;

/**
 * Run in this order. For each app process, first visits go last: each one stores a new
 * session (about 20,000 in a 10 s run), and a store that just grew that much made the
 * scenarios after it about a third slower in trials, which would measure the order, not them.
 */
export const SCENARIOS: Scenario[] = [
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
export function peerScenarios(server: ServerName): Scenario[] {
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
export const CHOOSABLE: readonly ServerName[] = ["app", "app-cookie", ...PEERS];
/** The servers of the lost-update check, in its table's order. */
export const LOST_UPDATE_SERVERS: readonly ServerName[] = CHOOSABLE;

/** The parts after the wrk scenarios; `--only`/`--skip` take their ids too. */
export const PHASES = [
  "lost-updates",
  "kv-ops",
  "group-commit",
  "rss",
  "remote",
  "growth",
] as const;
export type Phase = typeof PHASES[number];

export interface Exactness {
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

export interface Outcome {
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

/** wrk's environment for a scenario (the lists of cookies or requests are added later). */
function scenarioEnv(scenario: Scenario): Record<string, string> {
  return {
    BENCH_COOKIE_NAME: COOKIE_NAME,
    BENCH_METHOD: scenario.method ?? "",
    BENCH_BODY: scenario.body ?? "",
    BENCH_CONTENT_TYPE: scenario.contentType ?? "",
    BENCH_COOKIES: "",
    BENCH_REQUESTS: "",
  };
}

/** One request by hand first: a scenario that fails should say why, not show 100% non-2xx. */
async function probe(scenario: Scenario, url: string, ids: string[]) {
  const res = await fetch(url, {
    method: scenario.method ?? "GET",
    body: scenario.body,
    headers: {
      ...(scenario.contentType ? { "content-type": scenario.contentType } : {}),
      ...(scenario.session === "returning"
        ? { cookie: `${COOKIE_NAME}=${ids[0]}` }
        : {}),
    },
  });
  await res.body?.cancel();
  if (res.status < 200 || res.status > 299) {
    throw new Error(`${scenario.id}: ${url} answered ${res.status}`);
  }
}

/** What a scenario's runs send: its URL, wrk's environment, the sessions it uses. */
interface Setup {
  opts: Options;
  scenario: Scenario;
  server: Running;
  url: string;
  env: Record<string, string>;
  ids: string[];
  quizzes: QuizInfo[];
  tmp: string;
}

async function setUp(
  opts: Options,
  scenario: Scenario,
  server: Running,
  sessions: () => Promise<string[]>,
  tmp: string,
): Promise<Setup> {
  const env = scenarioEnv(scenario);
  const ids = scenario.session !== "none" || scenario.counted
    ? await sessions()
    : [];
  if (scenario.session === "returning") {
    const file = `${tmp}/cookies-${scenario.id}.txt`;
    await Deno.writeTextFile(file, ids.join("\n") + "\n");
    env.BENCH_COOKIES = file;
  }
  const answers = scenario.session === "answers";
  const url = server.url + (answers ? "" : scenario.path);
  let quizzes: QuizInfo[] = [];
  if (answers) quizzes = await quizzesOf(server.url);
  else await probe(scenario, url, ids);
  return { opts, scenario, server, url, env, ids, quizzes, tmp };
}

/**
 * The warm-up; for the answer stream, then the list of the measured run: twice the
 * warm-up's rate, so it does not run out.
 */
async function warmUp(s: Setup): Promise<AnswerPlan | null> {
  const { opts, scenario, server, url, env, quizzes, tmp } = s;
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
  if (scenario.session !== "answers") return null;
  const count = Math.ceil(Math.max(500, 2 * answerRate) * opts.duration);
  log(
    `  ${scenario.id}: ${count} answers listed (warm-up ran at ${
      int(answerRate)
    }/s)`,
  );
  const plan = await answerPlan(server, quizzes, count, `${tmp}/answers.txt`);
  env.BENCH_REQUESTS = plan.file;
  return plan;
}

/** CPU counters of the server, this process and the machine at one moment. */
async function cpuSample(server: Running) {
  const mainName = server.spec.noJsThread ? "main" : "main (JS)";
  return {
    cpu: await cpuMs(server.child.pid),
    threads: await threadCpu(server.child.pid, mainName),
    machine: await machineCpu(),
    self: await selfCpu(),
    at: performance.now(),
  };
}
type CpuSample = Awaited<ReturnType<typeof cpuSample>>;

/**
 * The measured wrk run, with the CPU counters just before and just after it (the run's
 * time is taken before the counters after it are read).
 */
async function measure(s: Setup) {
  log(`  ${s.scenario.id}: measuring ${s.opts.duration} s`);
  const before = await cpuSample(s.server);
  const { result } = await wrk(s.opts, s.url, s.opts.duration, s.env);
  const end = performance.now();
  const after = { ...await cpuSample(s.server), at: end };
  await sleep(500);
  return { result, before, after };
}

/** Where the CPU went over the run (see Outcome). */
function cpuShares(result: WrkResult, a: CpuSample, b: CpuSample) {
  const elapsed = b.at - a.at;
  const server = a.cpu !== null && b.cpu !== null ? b.cpu - a.cpu : null;
  // Machine CPU time (jiffies of 10 ms, summed over CPUs) not used by the server, wrk or us.
  let otherCores: number | null = null;
  if (a.machine && b.machine && server !== null && a.self && b.self) {
    const machineMs = (b.machine.busy - a.machine.busy) * 10;
    const ours = server + (b.self.self - a.self.self) +
      (b.self.children - a.self.children);
    otherCores = Math.max(0, machineMs - ours) / elapsed;
  }
  // Per request, by thread name (threads that ended during the run are not counted).
  const threads: [string, number][] = [];
  for (const [name, ms] of b.threads) {
    const used = ms - (a.threads.get(name) ?? 0);
    if (used > 0 && result.requests > 0) {
      threads.push([name, (used * 1000) / result.requests]);
    }
  }
  threads.sort((x, y) => y[1] - x[1]);
  const main = b.threads.get("main (JS)");
  return {
    threads,
    jsCores: main === undefined
      ? null
      : (main - (a.threads.get("main (JS)") ?? 0)) / elapsed,
    cpuPerRequestUs: server !== null && result.requests > 0
      ? (server * 1000) / result.requests
      : null,
    serverCores: server !== null ? server / elapsed : null,
    otherCores,
    wrkCores: a.self && b.self
      ? (b.self.children - a.self.children) / elapsed
      : null,
  };
}

/** The counters after the run against those before it and what wrk saw acknowledged. */
async function exactnessOf(
  s: Setup,
  checked: string[],
  before: { hits: number; visits: number[] },
  acknowledged: number,
  slack: number,
): Promise<Exactness> {
  const after = await readCounters(s.server, checked, "after");
  const counted = after.hits - before.hits;
  const visits =
    s.scenario.session === "returning" && !s.server.spec.visitsInCookie
      ? after.visits.reduce((a, b, i) => a + b - before.visits[i], 0)
      : null;
  const diff = counted - acknowledged;
  return {
    acknowledged,
    counted,
    visits,
    slack,
    ok: diff >= 0 && diff <= slack && (visits === null || visits === counted),
  };
}

/** One scenario: warm-up, the measured run, then its exactness checks. */
export async function runScenario(
  opts: Options,
  scenario: Scenario,
  server: Running,
  sessions: () => Promise<string[]>,
  tmp: string,
): Promise<Outcome> {
  const s = await setUp(opts, scenario, server, sessions, tmp);
  const plan = await warmUp(s);
  // Only the counting scenarios read counters; the "before" reads set the baseline.
  const checked = scenario.session === "returning" ? s.ids : s.ids.slice(0, 1);
  const before = scenario.counted
    ? await readCounters(server, checked, "before")
    : null;
  const { result, before: cpu0, after: cpu1 } = await measure(s);
  // Up to one request per connection may be in flight when wrk stops (the server answers
  // and counts it, wrk no longer reads it); a timed-out or broken one may still have landed.
  const slack = opts.connections + result.timeout + result.read + result.write;
  const acknowledged = plan ? result.ok2xx : result.requests - result.status;
  const exactness = before
    ? await exactnessOf(s, checked, before, acknowledged, slack)
    : null;
  const answers = plan
    ? await checkAnswers(server, plan, result, opts.threads, slack)
    : null;
  const rps = (plan ? result.ok2xx : result.requests) /
    (result.duration_us / 1e6);
  return {
    scenario,
    ...cpuShares(result, cpu0, cpu1),
    wrk: result,
    rps,
    exactness,
    answers,
  };
}
