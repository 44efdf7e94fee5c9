/**
 * The parts of `deno task bench` after the wrk scenarios: lost updates (many concurrent
 * requests of ONE session), KV operations per request by route and the group commit's
 * batches (both from bench/instrumented.ts), and RSS after many sessions.
 */
import type { GroupCommitStats } from "../lib/sessions/group_commit.ts";
import { KNOWN_TTL_MS } from "../lib/sessions/memory.ts";
import { tail } from "../tests/support/server.ts";
import {
  keyBytes,
  type StoreCounts,
  type StoreLimitsName,
  valueBytes,
} from "./instrumented.ts";
import type { Options } from "./options.ts";
import {
  type Running,
  type ServerName,
  startServer,
  stop,
  WHO,
} from "./servers.ts";
import { log, rssMiB, sleep, wrk, type WrkResult, wrkUntil } from "./load.ts";
import {
  answerPlan,
  COOKIE_NAME,
  me,
  openSessions,
  type QuizInfo,
  quizzesOf,
  sessionCookieOf,
} from "./visits.ts";
import { ANSWER_RATE_CAP } from "./scenarios.ts";

/** Concurrent requests with one cookie in the lost-update check. */
export const LOST_UPDATE_REQUESTS = 200;

export interface LostUpdates {
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

export async function storeStats(server: Running): Promise<{
  counts: StoreCounts;
  committer: GroupCommitStats | null;
  limits: StoreLimitsName;
  refused: number;
}> {
  return await (await fetch(`${server.url}/__bench/stats`)).json();
}

export async function resetStats(server: Running) {
  const res = await fetch(`${server.url}/__bench/reset`, { method: "POST" });
  await res.body?.cancel();
}

export interface RouteOps {
  label: string;
  status: number;
  counts: StoreCounts;
}

export interface SessionBytes {
  label: string;
  cookieBytes: number;
  keys: { key: string; keyBytes: number; valueBytes: number }[];
}

export interface KvOps {
  mode: "kv" | "cookie";
  routes: RouteOps[];
  bytes: SessionBytes[];
}

const JSON_TYPE = "application/json";
const FORM_TYPE = "application/x-www-form-urlencoded";

/**
 * One client of the instrumented server: it keeps the session cookie and the last form
 * token, and records what each measured step asked of the store and each session's size.
 */
function routeClient(server: Running) {
  let cookie = "";
  let csrf = "";
  const routes: RouteOps[] = [];
  const bytes: SessionBytes[] = [];
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
  /** A request with the store's counts reset before it; its status must be `expect`. */
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
  const measureBytes = async (label: string) => {
    const res = await fetch(`${server.url}/__bench/session-bytes`, {
      headers: { cookie: `${COOKIE_NAME}=${cookie}` },
    });
    bytes.push({ label, ...(await res.json()) });
  };
  return { call, step, measureBytes, csrf: () => csrf, routes, bytes };
}
type RouteClient = ReturnType<typeof routeClient>;

const answerBody = (id: string) => () =>
  JSON.stringify({ questionId: id, choice: 0 });

/** Anonymous: visits, pages and the three kinds of answer and like. */
async function anonymousSteps(c: RouteClient, http: QuizInfo) {
  const [q0, q1] = http.questions;
  await c.step("first visit `GET /`", 200, "GET", "/");
  await c.measureBytes("new session (first visit)");
  await c.step("returning `GET /` (session remembered)", 200, "GET", "/");
  // Past what the app remembers (lib/sessions/memory.ts): the store is read again.
  await new Promise((resolve) => setTimeout(resolve, KNOWN_TTL_MS + 50));
  await c.step("returning `GET /` (memory older than 1 s)", 200, "GET", "/");
  await c.step("`GET /api/me`", 200, "GET", "/api/me");
  await c.step("`GET /quiz/http`", 200, "GET", "/quiz/http");
  await c.step(
    "answer `POST /api/quizzes/http/answers` (JSON)",
    200,
    "POST",
    "/api/quizzes/http/answers",
    answerBody(q0.id),
    JSON_TYPE,
  );
  await c.step(
    "answer `POST /quiz/http/answer` (form, `_csrf`)",
    303,
    "POST",
    "/quiz/http/answer",
    () =>
      new URLSearchParams({ questionId: q1.id, choice: "1", _csrf: c.csrf() })
        .toString(),
    FORM_TYPE,
  );
  await c.step(
    "like `POST /likes` (form, `_csrf`)",
    303,
    "POST",
    "/likes",
    () =>
      new URLSearchParams({ item: `${http.id}/${q0.id}`, _csrf: c.csrf() })
        .toString(),
    FORM_TYPE,
  );
}

/** The rest of the 30 questions, unmeasured, for the size of a session that did them all. */
async function answerTheRest(
  c: RouteClient,
  quizzes: QuizInfo[],
  http: QuizInfo,
) {
  const [q0, q1] = http.questions;
  for (const quiz of quizzes) {
    for (const q of quiz.questions) {
      if (quiz === http && (q === q0 || q === q1)) continue;
      const { status } = await c.call(
        "POST",
        `/api/quizzes/${quiz.id}/answers`,
        answerBody(q.id)(),
        JSON_TYPE,
      );
      if (status !== 200) throw new Error(`kv-ops: answering gave ${status}`);
    }
  }
}

/** An account: register, logout, login, and the same pages logged in. */
async function accountSteps(c: RouteClient, http: QuizInfo) {
  const username = `bench${Date.now().toString(36)}`;
  const password = "correct horse battery staple";
  const credentials = () => JSON.stringify({ username, password });
  await c.step(
    "register `POST /api/register` (rotates the id)",
    200,
    "POST",
    "/api/register",
    credentials,
    JSON_TYPE,
  );
  await c.measureBytes("logged in (progress moved to the user record)");
  await c.step(
    "logout `POST /api/logout`",
    200,
    "POST",
    "/api/logout",
    () => "",
    JSON_TYPE,
  );
  await c.call("GET", "/");
  await c.step(
    "login `POST /api/login` (rotates the id)",
    200,
    "POST",
    "/api/login",
    credentials,
    JSON_TYPE,
  );
  await c.step("returning `GET /` (logged in)", 200, "GET", "/");
  await c.step("`GET /api/me` (logged in)", 200, "GET", "/api/me");
  await c.step("`GET /quiz/http` (logged in)", 200, "GET", "/quiz/http");
  await c.step(
    "answer `POST /api/quizzes/http/answers` (logged in: 409, answered before)",
    409,
    "POST",
    "/api/quizzes/http/answers",
    answerBody(http.questions[0].id),
    JSON_TYPE,
  );
}

/**
 * One request per route kind, in order, on one client, with the store's counts reset
 * before each: what each request asked of the store. Requests run one at a time, so no
 * read or commit is shared with another request's.
 */
export async function kvOpsByRoute(server: Running): Promise<KvOps> {
  const quizzes = await quizzesOf(server.url);
  const http = quizzes.find((q) => q.id === "http") ?? quizzes[0];
  const c = routeClient(server);
  await anonymousSteps(c, http);
  await answerTheRest(c, quizzes, http);
  await c.measureBytes("anonymous, all 30 questions answered, 1 like");
  await accountSteps(c, http);
  return {
    mode: server.spec.visitsInCookie ? "cookie" : "kv",
    routes: c.routes,
    bytes: c.bytes,
  };
}

/** The backends whose limits the group-commit phase runs under, in this order. */
export const BATCH_LIMITS: StoreLimitsName[] = ["local", "remote"];
export const LIMITS_LABEL: Record<StoreLimitsName, string> = {
  local: "local SQLite",
  remote: "KV Connect / Deno Deploy",
};

export type BatchLoad = "returning" | "first" | "answers";
export const BATCH_LOADS: { load: BatchLoad; label: string }[] = [
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
export async function groupCommit(
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
export async function batchLoadEnv(
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
export function failuresOf(r: WrkResult, answers: boolean) {
  return {
    non2xx: answers ? r.conflict + r.other : r.status,
    sockets: r.connect + r.read + r.write + r.timeout,
  };
}

/** A 1 s warm-up, then `seconds` of the load, with the committer's stats around it. */
export async function batchRun(
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

export interface RssRun {
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

export async function fileSize(path: string): Promise<number> {
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
export async function rssAfterRequests(
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
