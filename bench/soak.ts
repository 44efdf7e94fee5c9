/**
 * `deno task soak [--minutes N] [--seed S]`: the soak test of docs/RELIABILITY.md (section 5).
 *
 * Starts the real server (`deno run -A main.ts`, a temporary KV file, short session timeouts
 * so expired sessions pile up unless something removes them) and drives it with a seeded random
 * mix of real flows (first and returning visits, API and form answers, likes, register, login,
 * logout, forget, restart) and the hostile inputs the app must answer with a clear 4xx. Every answer's
 * status is checked against what that request may get; a 5xx, a network error or an unexpected
 * status fails the run. Every `--sample` seconds it records the server's RSS (VmRSS from
 * /proc/<pid>/status), the KV file's size and the store's key counts per prefix (through the
 * admin API); per minute it reports requests, p50, p99 and max latency. The report is printed
 * as Markdown (and written as JSON with `--json FILE`).
 *
 *   deno task soak [--minutes 10] [--seed 1] [--concurrency 16] [--sample 30]
 *                  [--json FILE] [--keep]
 *
 * Exit status: 0 when every answer was as expected, 1 otherwise, 2 for bad arguments.
 */
import { parseArgs } from "node:util";
import { type Rng, rng, weighted } from "../tests/support/rng.ts";
import { startProcess } from "../tests/support/server.ts";

const ADMIN_TOKEN = "soak-admin-token-".padEnd(48, "x");
const IDLE = 60;
const ABSOLUTE = 120;
const MAX_BODY = 16 * 1024;

// ---------------------------------------------------------------------------------------
// Arguments

export interface SoakOptions {
  minutes: number;
  seed: number;
  concurrency: number;
  sampleSeconds: number;
  json?: string;
  keep: boolean;
  /** Progress lines on stderr. */
  quiet: boolean;
}

const USAGE =
  "deno task soak [--minutes 10] [--seed 1] [--concurrency 16] [--sample 30] [--json FILE] [--keep] [--quiet]";

function parseOptions(argv: string[]): SoakOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        minutes: { type: "string", default: "10" },
        seed: { type: "string", default: "1" },
        concurrency: { type: "string", default: "16" },
        sample: { type: "string", default: "30" },
        json: { type: "string" },
        keep: { type: "boolean", default: false },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`soak: ${(error as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const number = (name: string, raw: string, min: number) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) {
      console.error(`soak: --${name} must be a number ≥ ${min}, not ${raw}`);
      Deno.exit(2);
    }
    return n;
  };
  return {
    minutes: number("minutes", values.minutes, 0.05),
    seed: Math.floor(number("seed", values.seed, 0)),
    concurrency: Math.floor(number("concurrency", values.concurrency, 1)),
    sampleSeconds: number("sample", values.sample, 1),
    json: values.json,
    keep: values.keep,
    quiet: values.quiet,
  };
}

// ---------------------------------------------------------------------------------------
// The server

function rssKiB(pid: number): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** Key counts per first key part, paging through `GET /admin/kv`. */
async function keyCounts(url: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ prefix: "", limit: "1000" });
    if (cursor) q.set("cursor", cursor);
    const res = await fetch(`${url}/admin/kv?${q}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    if (!res.ok) {
      throw new Error(`GET /admin/kv: ${res.status} ${await res.text()}`);
    }
    const page = await res.json() as { keys: string[]; cursor: string | null };
    for (const key of page.keys) {
      const first = key.split("/")[0];
      counts[first] = (counts[first] ?? 0) + 1;
    }
    cursor = page.cursor;
  } while (cursor);
  return counts;
}

// ---------------------------------------------------------------------------------------
// Traffic

interface QuizInfo {
  id: string;
  questions: { id: string; choices: number }[];
}

interface User {
  /** `sessionId=<value>` or null. */
  cookie: string | null;
  /** Set once registered. */
  username?: string;
  password: string;
  /** The X-Forwarded-For address this user comes from (TRUST_PROXY is on). */
  address: string;
}

interface Outcome {
  /** What was done, e.g. "api-answer" or "bad:oversized-cookie". */
  action: string;
  status: number | "network";
  ms: number;
  /** When the status was not one of those allowed. */
  unexpected?: string;
}

interface Ctx {
  url: string;
  r: Rng;
  quizzes: QuizInfo[];
  users: User[];
  record(o: Outcome): void;
  nextName(): string;
}

const CSRF = /name="_csrf" value="([^"]+)"/;

function updateCookie(user: User, res: Response) {
  for (const c of res.headers.getSetCookie()) {
    if (!c.startsWith("sessionId=")) continue;
    const pair = c.split(";")[0];
    user.cookie = /Max-Age=0(;|$)/i.test(c) || pair === "sessionId="
      ? null
      : pair;
  }
}

type Body = BodyInit | null;

interface Call {
  action: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Body;
  /** Send the user's cookie (default true). */
  withCookie?: boolean;
  /** A Cookie header to send instead of the user's. */
  cookie?: string;
  expect: number[];
  /** Extra check on the response; returns a problem or null. */
  check?: (res: Response, text: string) => string | null;
}

async function call(ctx: Ctx, user: User, c: Call): Promise<string | null> {
  const headers = new Headers(c.headers);
  headers.set("x-forwarded-for", user.address);
  const cookie = c.cookie ?? (c.withCookie === false ? null : user.cookie);
  if (cookie) headers.set("cookie", cookie);
  const started = performance.now();
  let res: Response;
  try {
    res = await fetch(ctx.url + c.path, {
      method: c.method ?? "GET",
      headers,
      body: c.body ?? null,
      redirect: "manual",
    });
  } catch (error) {
    ctx.record({
      action: c.action,
      status: "network",
      ms: performance.now() - started,
      unexpected: `${c.method ?? "GET"} ${c.path.slice(0, 80)}: ${error}`,
    });
    return null;
  }
  let text = "";
  try {
    text = await res.text();
  } catch (error) {
    ctx.record({
      action: c.action,
      status: "network",
      ms: performance.now() - started,
      unexpected: `reading ${c.path.slice(0, 80)}: ${error}`,
    });
    return null;
  }
  const ms = performance.now() - started;
  if (c.cookie === undefined && c.withCookie !== false) updateCookie(user, res);
  let unexpected: string | undefined;
  if (!c.expect.includes(res.status)) {
    unexpected = `${c.method ?? "GET"} ${
      c.path.slice(0, 80)
    } → ${res.status} (expected ${c.expect.join("|")}): ${text.slice(0, 160)}`;
  } else if (c.check) {
    const problem = c.check(res, text);
    if (problem) unexpected = `${c.method ?? "GET"} ${c.path}: ${problem}`;
  }
  ctx.record({ action: c.action, status: res.status, ms, unexpected });
  return text;
}

const json = (value: unknown) => JSON.stringify(value);
const JSON_HEADERS = { "content-type": "application/json" };
const FORM_HEADERS = { "content-type": "application/x-www-form-urlencoded" };

/** GETs a page and returns its form token (null if the page did not come). */
async function csrfOf(ctx: Ctx, user: User, path: string, action: string) {
  const html = await call(ctx, user, { action, path, expect: [200] });
  return html?.match(CSRF)?.[1] ?? null;
}

function randomQuestion(ctx: Ctx) {
  const quiz = ctx.r.pick(ctx.quizzes);
  const question = ctx.r.pick(quiz.questions);
  return { quiz, question };
}

const noHeaderInjection = (res: Response) => {
  const location = res.headers.get("location") ?? "";
  if (/[\r\n]/.test(location)) return `Location holds CR/LF: ${location}`;
  if (res.headers.getSetCookie().some((c) => /^evil=/i.test(c))) {
    return "an injected Set-Cookie came through";
  }
  if (location && !location.startsWith("/")) {
    return `redirect off-site: ${location}`;
  }
  if (location.startsWith("//")) return `redirect off-site: ${location}`;
  return null;
};

/** The real flows a browser or API client makes. */
const FLOWS: [number, (ctx: Ctx, user: User) => Promise<void>][] = [
  [10, async function firstVisit(ctx, user) {
    user.cookie = null;
    user.username = undefined;
    await call(ctx, user, {
      action: "first-visit",
      path: "/",
      expect: [200],
      check: (res) =>
        res.headers.getSetCookie().some((c) => c.startsWith("sessionId="))
          ? null
          : "a first visit got no session cookie",
    });
  }],
  [25, async function returningVisit(ctx, user) {
    const quiz = ctx.r.pick(ctx.quizzes);
    const path = ctx.r.pick([
      "/",
      `/quiz/${quiz.id}`,
      `/quiz/${quiz.id}/result`,
      "/likes",
      "/api/me",
      "/api/quizzes",
      `/api/quizzes/${quiz.id}`,
    ]);
    await call(ctx, user, { action: "visit", path, expect: [200] });
    if (ctx.r.chance(0.1)) {
      await call(ctx, user, {
        action: "account",
        path: "/account",
        expect: [200, 303],
      });
    }
  }],
  [20, async function apiAnswer(ctx, user) {
    const { quiz, question } = randomQuestion(ctx);
    await call(ctx, user, {
      action: "api-answer",
      path: `/api/quizzes/${quiz.id}/answers`,
      method: "POST",
      headers: JSON_HEADERS,
      body: json({
        questionId: question.id,
        choice: ctx.r.int(question.choices),
      }),
      expect: [200, 409],
    });
  }],
  [8, async function formAnswer(ctx, user) {
    const { quiz, question } = randomQuestion(ctx);
    const csrf = await csrfOf(ctx, user, `/quiz/${quiz.id}`, "quiz-page");
    if (!csrf) return;
    await call(ctx, user, {
      action: "form-answer",
      path: `/quiz/${quiz.id}/answer`,
      method: "POST",
      headers: FORM_HEADERS,
      body: new URLSearchParams({
        _csrf: csrf,
        questionId: question.id,
        choice: String(ctx.r.int(question.choices)),
      }).toString(),
      expect: [303],
      check: noHeaderInjection,
    });
  }],
  [5, async function like(ctx, user) {
    const { quiz, question } = randomQuestion(ctx);
    const csrf = await csrfOf(ctx, user, `/quiz/${quiz.id}`, "quiz-page");
    if (!csrf) return;
    await call(ctx, user, {
      action: "like",
      path: "/likes",
      method: "POST",
      headers: FORM_HEADERS,
      body: new URLSearchParams({
        _csrf: csrf,
        item: `${quiz.id}/${question.id}`,
        back: `/quiz/${quiz.id}`,
      }).toString(),
      expect: [303],
      check: noHeaderInjection,
    });
  }],
  [3, async function register(ctx, user) {
    const username = ctx.nextName();
    const text = await call(ctx, user, {
      action: "register",
      path: "/api/register",
      method: "POST",
      headers: JSON_HEADERS,
      body: json({ username, password: user.password }),
      // 429 once this address has registered its allowance for the hour.
      expect: [200, 429],
    });
    if (text?.startsWith('{"user":')) user.username = username;
  }],
  [3, async function login(ctx, user) {
    if (!user.username) return;
    const right = ctx.r.chance(0.85);
    await call(ctx, user, {
      action: right ? "login" : "login-wrong",
      path: "/api/login",
      method: "POST",
      headers: JSON_HEADERS,
      body: json({
        username: user.username,
        password: right ? user.password : "wrong-password!",
      }),
      // 429 once this account or address has failed too often.
      expect: right ? [200, 429] : [401, 429],
    });
  }],
  [2, async function formLogin(ctx, user) {
    if (!user.username) return;
    const csrf = await csrfOf(ctx, user, "/login?next=/account", "login-page");
    if (!csrf) return;
    await call(ctx, user, {
      action: "form-login",
      path: "/login?next=/account",
      method: "POST",
      headers: FORM_HEADERS,
      body: new URLSearchParams({
        _csrf: csrf,
        username: user.username,
        password: user.password,
      }).toString(),
      expect: [303, 429],
      check: noHeaderInjection,
    });
  }],
  [3, async function logout(ctx, user) {
    await call(ctx, user, {
      action: "logout",
      path: ctx.r.chance(0.5) ? "/api/logout" : "/api/forget",
      method: "POST",
      expect: [200],
      check: (res) =>
        res.headers.getSetCookie().some((c) => /^sessionId=;/.test(c))
          ? null
          : "the cookie was not cleared",
    });
  }],
  [2, async function formForget(ctx, user) {
    const csrf = await csrfOf(ctx, user, "/", "home");
    if (!csrf) return;
    await call(ctx, user, {
      action: "form-forget",
      path: ctx.r.chance(0.5) ? "/forget" : "/logout",
      method: "POST",
      headers: FORM_HEADERS,
      body: new URLSearchParams({ _csrf: csrf }).toString(),
      expect: [303],
    });
  }],
  [1, async function restart(ctx, user) {
    const quiz = ctx.r.pick(ctx.quizzes);
    const csrf = await csrfOf(ctx, user, `/quiz/${quiz.id}`, "quiz-page");
    if (!csrf) return;
    await call(ctx, user, {
      action: "restart",
      path: `/quiz/${quiz.id}/restart`,
      method: "POST",
      headers: FORM_HEADERS,
      body: new URLSearchParams({ _csrf: csrf }).toString(),
      expect: [303],
    });
  }],
];

function streamOf(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  const chunk = new TextEncoder().encode(`{"x":"${"a".repeat(4090)}`);
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      controller.enqueue(chunk);
      sent += chunk.length;
    },
  });
}

const PROTO_COOKIES = [
  "__proto__=x",
  "constructor=1",
  "toString=2",
  "hasOwnProperty=3",
  "sessionId=__proto__",
  "__proto__=sessionId",
  "valueOf=4; sessionId=constructor",
];

const TRAVERSALS = [
  "/static/%2e%2e/deno.json",
  "/static/%2e%2e%2fdeno.json",
  "/static/..%2fmain.ts",
  "/static/..%2F..%2Fetc%2Fpasswd",
  "/static/%252e%252e%252fdeno.json",
  "/static/..%5cdeno.json",
  "/static/%c0%ae%c0%ae/deno.json",
  "/static/style.css%00.js",
  "/static//etc/passwd",
  "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "/static/build/..%2f..%2fmain.ts",
];

const CRLF_NEXTS = [
  "/%0d%0aSet-Cookie:%20evil=1",
  "%0d%0aLocation:%20http://evil.example",
  "/x%0aSet-Cookie:evil=1",
  "//evil.example/%0d%0a",
  "/%E2%80%A8x",
  "/ok%00",
  "/\u00e9t\u00e9",
];

/** The hostile inputs: each a clear 4xx (or a fresh session), never a 5xx. */
const BAD: [number, (ctx: Ctx, user: User) => Promise<void>][] = [
  [3, async function malformedCookie(ctx, user) {
    const value = ctx.r.pick([
      "sessionId=not-a-uuid",
      "sessionId=",
      "sessionId",
      "=;;=;",
      'sessionId="00000000-0000-4000-8000-000000000000"',
      "sessionId=00000000-0000-4000-8000-000000000000",
      `sessionId=${crypto.randomUUID().toUpperCase()}`,
      "sessionId=%00%0d%0a",
      "sessionId=\u00ff\u00fe",
      ";;;;;;",
    ]);
    await call(ctx, user, {
      action: "bad:malformed-cookie",
      path: ctx.r.pick(["/", "/api/me"]),
      cookie: value,
      expect: [200],
    });
  }],
  [2, async function duplicateCookies(ctx, user) {
    const own = user.cookie ?? "sessionId=x";
    await call(ctx, user, {
      action: "bad:duplicate-cookie",
      path: "/api/me",
      cookie:
        `sessionId=${crypto.randomUUID()}; ${own}; sessionId=${crypto.randomUUID()}; ${own}`,
      expect: [200],
    });
  }],
  [2, async function oversizedCookie(ctx, user) {
    await call(ctx, user, {
      action: "bad:oversized-cookie",
      path: "/",
      cookie: ctx.r.chance(0.5)
        ? `sessionId=${"a".repeat(8000)}`
        : Array.from({ length: 300 }, (_, i) => `c${i}=${"v".repeat(20)}`)
          .join("; "),
      expect: [200, 431],
    });
  }],
  [2, async function protoCookie(ctx, user) {
    await call(ctx, user, {
      action: "bad:proto-cookie",
      path: ctx.r.pick(["/", "/api/me", "/likes"]),
      cookie: ctx.r.pick(PROTO_COOKIES),
      expect: [200],
    });
  }],
  [1, async function hugeHeaderSet(ctx, user) {
    const headers: Record<string, string> = {};
    for (let i = 0; i < 90; i++) headers[`x-h-${i}`] = "v".repeat(100);
    await call(ctx, user, {
      action: "bad:huge-headers",
      path: "/",
      headers,
      expect: [200, 431],
    });
  }],
  [2, async function bodyTooLargeDeclared(ctx, user) {
    const { quiz, question } = randomQuestion(ctx);
    await call(ctx, user, {
      action: "bad:body-over-limit",
      path: `/api/quizzes/${quiz.id}/answers`,
      method: "POST",
      headers: JSON_HEADERS,
      body: json({
        questionId: question.id,
        choice: 0,
        pad: "p".repeat(MAX_BODY + 10),
      }),
      expect: [413],
    });
  }],
  [2, async function bodyTooLargeStreamed(ctx, user) {
    await call(ctx, user, {
      action: "bad:body-over-limit-chunked",
      path: ctx.r.pick(["/api/forget", "/api/login", "/api/register"]),
      method: "POST",
      headers: JSON_HEADERS,
      body: streamOf(MAX_BODY * 2),
      expect: [413],
    });
  }],
  [2, async function wrongContentType(ctx, user) {
    const { quiz, question } = randomQuestion(ctx);
    const type = ctx.r.pick([
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonx",
      "",
    ]);
    await call(ctx, user, {
      action: "bad:content-type",
      path: `/api/quizzes/${quiz.id}/answers`,
      method: "POST",
      headers: type ? { "content-type": type } : {},
      body: json({ questionId: question.id, choice: 0 }),
      expect: [415],
    });
    const csrf = await csrfOf(ctx, user, `/quiz/${quiz.id}`, "quiz-page");
    if (!csrf) return;
    await call(ctx, user, {
      action: "bad:form-content-type",
      path: `/quiz/${quiz.id}/answer`,
      method: "POST",
      headers: JSON_HEADERS,
      body: json({ _csrf: csrf, questionId: question.id, choice: 0 }),
      expect: [415],
    });
  }],
  [2, async function malformedJson(ctx, user) {
    const { quiz } = randomQuestion(ctx);
    const body = ctx.r.pick([
      "{",
      '{"questionId":',
      "[1,2]",
      "null",
      '"text"',
      "{'a':1}",
      '{"questionId": 1e999999, "choice": NaN}',
    ]);
    await call(ctx, user, {
      action: "bad:malformed-json",
      path: ctx.r.pick([
        `/api/quizzes/${quiz.id}/answers`,
        "/api/login",
        "/api/register",
      ]),
      method: "POST",
      headers: JSON_HEADERS,
      body,
      expect: [400],
    });
  }],
  [2, async function malformedForm(ctx, user) {
    const quiz = ctx.r.pick(ctx.quizzes);
    await call(ctx, user, {
      action: "bad:malformed-form",
      path: ctx.r.pick([`/quiz/${quiz.id}/answer`, "/likes", "/forget"]),
      method: "POST",
      headers: FORM_HEADERS,
      body: ctx.r.pick(["a=%zz", "%", "x=%e9", "_csrf=%c3%28", "a=%%41"]),
      expect: [400],
    });
  }],
  [2, async function invalidUtf8(ctx, user) {
    const quiz = ctx.r.pick(ctx.quizzes);
    const form = ctx.r.chance(0.5);
    await call(ctx, user, {
      action: "bad:invalid-utf8",
      path: form ? "/likes" : `/api/quizzes/${quiz.id}/answers`,
      method: "POST",
      headers: form ? FORM_HEADERS : JSON_HEADERS,
      body: new Uint8Array([
        ...new TextEncoder().encode(form ? "item=" : '{"questionId":"'),
        0xff,
        0xfe,
        0xc3,
        0x28,
        ...new TextEncoder().encode(form ? "" : '"}'),
      ]),
      expect: [400],
    });
  }],
  [2, async function duplicateFormFields(ctx, user) {
    const { quiz, question } = randomQuestion(ctx);
    const csrf = await csrfOf(ctx, user, `/quiz/${quiz.id}`, "quiz-page");
    if (!csrf) return;
    await call(ctx, user, {
      action: "bad:duplicate-field",
      path: `/quiz/${quiz.id}/answer`,
      method: "POST",
      headers: FORM_HEADERS,
      body: `_csrf=${csrf}&questionId=${question.id}&choice=0&choice=1`,
      expect: [400],
    });
  }],
  [3, async function outOfRangeChoice(ctx, user) {
    const { quiz, question } = randomQuestion(ctx);
    const choice = ctx.r.pick<unknown>([
      question.choices,
      99,
      -1,
      1.5,
      "1e3",
      null,
      [0],
      { n: 0 },
      "0x1",
      9007199254740993,
      "",
    ]);
    await call(ctx, user, {
      action: "bad:choice",
      path: `/api/quizzes/${quiz.id}/answers`,
      method: "POST",
      headers: JSON_HEADERS,
      body: json({ questionId: question.id, choice }),
      expect: [400],
    });
  }],
  [2, async function unknownQuiz(ctx, user) {
    const { quiz } = randomQuestion(ctx);
    const pick = ctx.r.int(4);
    if (pick === 0) {
      await call(ctx, user, {
        action: "bad:unknown-question",
        path: `/api/quizzes/${quiz.id}/answers`,
        method: "POST",
        headers: JSON_HEADERS,
        body: json({ questionId: "no-such-question", choice: 0 }),
        expect: [404],
      });
      return;
    }
    await call(ctx, user, {
      action: "bad:unknown-quiz",
      path: ctx.r.pick([
        "/api/quizzes/no-such-quiz",
        "/quiz/no-such-quiz",
        "/quiz/__proto__",
        "/api/quizzes/constructor",
        "/quiz/%2e%2e%2fapi",
        "/quiz/no-such-quiz/result",
      ]),
      expect: [404],
    });
  }],
  [2, async function traversal(ctx, user) {
    await call(ctx, user, {
      action: "bad:static-traversal",
      path: ctx.r.pick(TRAVERSALS),
      expect: [404],
      check: (_res, text) =>
        /"tasks"|Deno\.serve|root:x:0/.test(text)
          ? "a file outside static/ was served"
          : null,
    });
  }],
  [3, async function crlfRedirect(ctx, user) {
    const next = ctx.r.pick(CRLF_NEXTS);
    const which = ctx.r.int(3);
    if (which === 0) {
      await call(ctx, user, {
        action: "bad:crlf-next-get",
        path: `/login?next=${next}`,
        expect: [200],
        check: noHeaderInjection,
      });
      return;
    }
    if (which === 1) {
      // A logged-out POST /login with the bad `next`: wrong or right credentials.
      const csrf = await csrfOf(ctx, user, "/login", "login-page");
      if (!csrf) return;
      const good = user.username !== undefined && ctx.r.chance(0.5);
      await call(ctx, user, {
        action: "bad:crlf-next-post",
        path: `/login?next=${next}`,
        method: "POST",
        headers: FORM_HEADERS,
        body: new URLSearchParams({
          _csrf: csrf,
          username: user.username ?? "nobody-here",
          password: good ? user.password : "not-the-password",
        }).toString(),
        expect: good ? [303, 429] : [401, 429],
        check: noHeaderInjection,
      });
      return;
    }
    const { quiz, question } = randomQuestion(ctx);
    const csrf = await csrfOf(ctx, user, `/quiz/${quiz.id}`, "quiz-page");
    if (!csrf) return;
    await call(ctx, user, {
      action: "bad:crlf-back",
      path: "/likes",
      method: "POST",
      headers: FORM_HEADERS,
      body: `_csrf=${csrf}&item=${quiz.id}%2F${question.id}&back=${next}`,
      expect: [303, 400],
      check: noHeaderInjection,
    });
  }],
  [1, async function wrongMethodOrSite(ctx, user) {
    if (ctx.r.chance(0.5)) {
      await call(ctx, user, {
        action: "bad:method",
        path: ctx.r.pick(["/", "/api/me", "/api/logout", "/likes"]),
        method: ctx.r.pick(["PUT", "DELETE", "PATCH"]),
        expect: [405],
      });
      return;
    }
    await call(ctx, user, {
      action: "bad:cross-site",
      path: "/api/logout",
      method: "POST",
      headers: ctx.r.chance(0.5)
        ? { "sec-fetch-site": "cross-site" }
        : { origin: ctx.r.pick(["null", "https://evil.example"]) },
      expect: [403],
    });
  }],
];

// ---------------------------------------------------------------------------------------
// Statistics

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

interface Sample {
  atSeconds: number;
  rssMiB: number | null;
  kvFileMiB: number;
  keys: Record<string, number>;
  totalKeys: number;
  requests: number;
}

interface Minute {
  minute: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  status4xx: number;
  status5xx: number;
}

export interface SoakReport {
  options: SoakOptions;
  seconds: number;
  requests: number;
  byAction: Record<string, number>;
  byStatus: Record<string, number>;
  fiveXx: number;
  network: number;
  unexpected: number;
  problems: string[];
  minutes: Minute[];
  samples: Sample[];
  serverErrors: string[];
  exitCode: number | null;
  ok: boolean;
}

// ---------------------------------------------------------------------------------------
// The run

/** The real server, its request log dropped: a long soak must not hold it in memory. */
async function startSoakServer(kvPath: string) {
  return await startProcess({
    env: {
      KV_PATH: kvPath,
      PBKDF2_ITERATIONS: "1000",
      SESSION_IDLE_TIMEOUT: String(IDLE),
      SESSION_ABSOLUTE_TIMEOUT: String(ABSOLUTE),
      ADMIN_TOKEN,
      TRUST_PROXY: "true",
      MAX_BODY_BYTES: String(MAX_BODY),
    },
    output: "stderr",
  });
}

async function readQuizzes(url: string): Promise<QuizInfo[]> {
  const list = await (await fetch(`${url}/api/quizzes`)).json() as {
    id: string;
  }[];
  const quizzes: QuizInfo[] = [];
  for (const { id } of list) {
    const q = await (await fetch(`${url}/api/quizzes/${id}`)).json() as {
      questions: { id: string; choices: unknown[] }[];
    };
    quizzes.push({
      id,
      questions: q.questions.map((x) => ({
        id: x.id,
        choices: x.choices.length,
      })),
    });
  }
  return quizzes;
}

/** Every request's outcome, counted overall and per minute of the run. */
class Tally {
  readonly started = performance.now();
  readonly latencies: number[][] = [];
  readonly status4xx: number[] = [];
  readonly status5xx: number[] = [];
  readonly byAction: Record<string, number> = {};
  readonly byStatus: Record<string, number> = {};
  readonly problems: string[] = [];
  requests = 0;
  fiveXx = 0;
  network = 0;
  unexpected = 0;

  elapsed(): number {
    return (performance.now() - this.started) / 1000;
  }

  record(o: Outcome) {
    this.requests++;
    const minute = Math.floor(this.elapsed() / 60);
    (this.latencies[minute] ??= []).push(o.ms);
    this.byAction[o.action] = (this.byAction[o.action] ?? 0) + 1;
    const status = String(o.status);
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
    if (o.status === "network") this.network++;
    else if (o.status >= 500) {
      this.fiveXx++;
      this.status5xx[minute] = (this.status5xx[minute] ?? 0) + 1;
    } else if (o.status >= 400) {
      this.status4xx[minute] = (this.status4xx[minute] ?? 0) + 1;
    }
    if (o.unexpected) {
      this.unexpected++;
      if (this.problems.length < 30) {
        this.problems.push(`[${o.action}] ${o.unexpected}`);
      }
    }
  }

  minutes(): Minute[] {
    return this.latencies.map((ms, minute) => {
      const sorted = [...(ms ?? [])].sort((a, b) => a - b);
      const span = Math.min(60, Math.max(1, this.elapsed() - minute * 60));
      const round = (x: number) => Math.round(x * 10) / 10;
      return {
        minute: minute + 1,
        requests: sorted.length,
        rps: Math.round(sorted.length / span),
        p50: round(quantile(sorted, 0.5)),
        p99: round(quantile(sorted, 0.99)),
        max: round(sorted.at(-1) ?? 0),
        status4xx: this.status4xx[minute] ?? 0,
        status5xx: this.status5xx[minute] ?? 0,
      };
    }).filter((m) => m.requests > 0);
  }
}

/** One sample of the server's RSS, the KV file's size and the store's keys. */
async function takeSample(
  tally: Tally,
  url: string,
  pid: number,
  kvPath: string,
): Promise<Sample> {
  let keys: Record<string, number> = {};
  try {
    keys = await keyCounts(url);
  } catch (error) {
    tally.problems.push(`sampling keys failed: ${error}`);
  }
  const rss = rssKiB(pid);
  return {
    atSeconds: Math.round(tally.elapsed()),
    rssMiB: rss === null ? null : Math.round(rss / 102.4) / 10,
    kvFileMiB: Math.round(
      (fileSize(kvPath) + fileSize(`${kvPath}-wal`)) / 104857.6,
    ) / 10,
    keys,
    totalKeys: Object.values(keys).reduce((a, b) => a + b, 0),
    requests: tally.requests,
  };
}

/** `--concurrency` workers, each with its own seeded generator and 25 users, until `endAt`. */
async function runWorkers(
  options: SoakOptions,
  url: string,
  quizzes: QuizInfo[],
  tally: Tally,
  endAt: number,
) {
  let names = 0;
  const workers = Array.from({ length: options.concurrency }, async (_, w) => {
    const r = rng(options.seed * 1000 + w);
    const users: User[] = Array.from({ length: 25 }, (_, i) => ({
      cookie: null,
      password: `pw-${w}-${i}-${r.int(1e9)}`,
      address: `10.${w}.${i}.${1 + r.int(250)}`,
    }));
    const ctx: Ctx = {
      url,
      r,
      quizzes,
      users,
      record: (o) => tally.record(o),
      nextName: () => `soak${options.seed}w${w}n${names++}`,
    };
    while (performance.now() < endAt) {
      const user = r.pick(users);
      const flow = r.chance(0.2) ? weighted(r, BAD) : weighted(r, FLOWS);
      await flow(ctx, user);
    }
  });
  await Promise.all(workers);
}

export async function soak(options: SoakOptions): Promise<SoakReport> {
  const log = (line: string) => {
    if (!options.quiet) console.error(line);
  };
  const dir = await Deno.makeTempDir({ prefix: "mcq-soak-" });
  const kvPath = `${dir}/soak.sqlite3`;
  const server = await startSoakServer(kvPath);
  log(
    `soak: server pid ${server.child.pid} at ${server.url}, KV ${kvPath}, ${options.minutes} min, seed ${options.seed}, ${options.concurrency} workers`,
  );
  const quizzes = await readQuizzes(server.url);
  const tally = new Tally();
  const endAt = tally.started + options.minutes * 60_000;
  const samples: Sample[] = [];
  const sample = async () => {
    const s = await takeSample(tally, server.url, server.child.pid, kvPath);
    samples.push(s);
    log(
      `soak: t=${s.atSeconds}s requests=${tally.requests} rss=${s.rssMiB}MiB kv=${s.kvFileMiB}MiB keys=${
        json(s.keys)
      } 5xx=${tally.fiveXx} network=${tally.network} unexpected=${tally.unexpected}`,
    );
  };
  await sample();
  let sampling = Promise.resolve();
  const sampler = setInterval(() => {
    sampling = sampling.then(sample);
  }, options.sampleSeconds * 1000);
  await runWorkers(options, server.url, quizzes, tally, endAt);
  clearInterval(sampler);
  await sampling;
  await sample();

  const exit = await server.stop();
  const serverErrors = server.output().split("\n").filter((l) =>
    l.trim() !== ""
  );
  if (!options.keep) await Deno.remove(dir, { recursive: true });
  else log(`soak: kept ${dir}`);
  const ok = tally.fiveXx === 0 && tally.network === 0 &&
    tally.unexpected === 0 && exit.code === 0 &&
    !serverErrors.some((l) => /failed:|panic|Uncaught/.test(l));
  return {
    options,
    seconds: Math.round(tally.elapsed()),
    requests: tally.requests,
    byAction: tally.byAction,
    byStatus: tally.byStatus,
    fiveXx: tally.fiveXx,
    network: tally.network,
    unexpected: tally.unexpected,
    problems: tally.problems,
    minutes: tally.minutes(),
    samples,
    serverErrors: serverErrors.slice(0, 50),
    exitCode: exit.code,
    ok,
  };
}

export function markdown(report: SoakReport): string {
  const lines: string[] = [];
  const o = report.options;
  lines.push(
    `Soak: ${o.minutes} min, seed ${o.seed}, ${o.concurrency} workers, SESSION_IDLE_TIMEOUT=${IDLE}, SESSION_ABSOLUTE_TIMEOUT=${ABSOLUTE}, PBKDF2_ITERATIONS=1000, ${Deno.build.os}/${Deno.build.arch}, deno ${Deno.version.deno}`,
    "",
    `- requests: ${report.requests} in ${report.seconds} s; 5xx: ${report.fiveXx}; network errors: ${report.network}; unexpected statuses: ${report.unexpected}; server exit code after SIGTERM: ${report.exitCode}`,
    `- statuses: ${
      Object.entries(report.byStatus).sort().map(([s, n]) => `${s}×${n}`)
        .join(", ")
    }`,
    `- result: ${report.ok ? "PASS" : "FAIL"}`,
    "",
    "| minute | requests | req/s | p50 ms | p99 ms | max ms | 4xx | 5xx |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const m of report.minutes) {
    lines.push(
      `| ${m.minute} | ${m.requests} | ${m.rps} | ${m.p50} | ${m.p99} | ${m.max} | ${m.status4xx} | ${m.status5xx} |`,
    );
  }
  const prefixes = [
    ...new Set(report.samples.flatMap((s) => Object.keys(s.keys))),
  ].sort();
  lines.push(
    "",
    `| t (s) | RSS MiB | KV file MiB | keys | ${prefixes.join(" | ")} |`,
    `| ---: | ---: | ---: | ---: | ${prefixes.map(() => "---:").join(" | ")} |`,
  );
  for (const s of report.samples) {
    lines.push(
      `| ${s.atSeconds} | ${
        s.rssMiB ?? "?"
      } | ${s.kvFileMiB} | ${s.totalKeys} | ${
        prefixes.map((p) => s.keys[p] ?? 0).join(" | ")
      } |`,
    );
  }
  if (report.problems.length) {
    lines.push("", "Problems:", ...report.problems.map((p) => `- ${p}`));
  }
  if (report.serverErrors.length) {
    lines.push(
      "",
      "Server stderr (first lines):",
      ...report.serverErrors.slice(0, 20).map((l) => `    ${l}`),
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const options = parseOptions(Deno.args);
  const report = await soak(options);
  console.log(markdown(report));
  if (options.json) {
    await Deno.writeTextFile(options.json, JSON.stringify(report, null, 2));
  }
  Deno.exit(report.ok ? 0 : 1);
}
