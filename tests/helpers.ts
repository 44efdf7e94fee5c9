/**
 * Shared test factories: an app on an in-memory KV with a clock the test moves by hand,
 * cookie helpers, and a real server process for e2e. The KV wrappers (spyKv, limitedKv)
 * and the server start come from tests/support/ (kv_proxy.ts, server.ts), which bench/
 * uses too.
 */
import type { SessionRecord } from "../lib/sessions/session.ts";
import assert from "node:assert/strict";
import { type App, createApp } from "../lib/server/app.ts";
import { type Config, testConfig } from "../lib/base/config.ts";
import { sha256Hex } from "../lib/base/crypto.ts";
import { REMOTE_LIMITS, type StoreLimits } from "../lib/base/store_limits.ts";
import { type KvSpy, limitedKv, spyKv } from "./support/kv_proxy.ts";
import { freePort, ROOT, type Server, startProcess } from "./support/server.ts";
import { routes } from "../routes/_table.ts";
import { loadQuizDir } from "../lib/quiz/files.ts";
import type { Quiz } from "../lib/quiz/bank.ts";

export { freePort, type KvSpy, limitedKv, ROOT, type Server, spyKv };

/** The tests' own quizzes (copies of the shipped ones, so editing those breaks no test). */
export const FIXTURE_QUIZ_DIR = `${ROOT}tests/fixtures/quizzes`;
const FIXTURE_BANK = await loadQuizDir(FIXTURE_QUIZ_DIR);

/** The fixture bank (a fresh copy of the list). */
export function loadBank(): Quiz[] {
  return [...FIXTURE_BANK];
}

/** The app's own routes and the fixture bank, for tests that build the app with createApp. */
export const APP_PARTS = { routes, bank: loadBank() };

export const ORIGIN = "http://localhost";
/** A fixed start so tests never depend on the real date. */
export const T0 = Date.UTC(2025, 0, 1);
export const ADMIN_TOKEN = "t".repeat(40);
export const UUID_V4 =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A clock the test moves by hand: `now()` is what the app is given. */
export interface Clock {
  now: () => number;
  /** Moves the clock by `seconds` (negative moves it backwards). */
  advance(seconds: number): void;
  set(ms: number): void;
}

export function fakeClock(start = T0): Clock {
  let t = start;
  return {
    now: () => t,
    advance: (seconds) => void (t += seconds * 1000),
    set: (ms) => void (t = ms),
  };
}

export type RequestOptions = RequestInit & {
  /** The whole Cookie header to send. */
  cookie?: string;
};

export interface TestApp extends AsyncDisposable {
  app: App;
  /** The real KV under any wrapper, for looking at what was stored. */
  kv: Deno.Kv;
  clock: Clock;
  config: Config;
  logs: string[];
  /** Calls the app with `path` (or a full URL) and the given options. */
  request(path: string, init?: RequestOptions): Promise<Response>;
  close(): void;
}

export interface TestAppOptions {
  /** Wraps the KV handed to the app (fault injection, call counting). */
  wrapKv?: (kv: Deno.Kv) => Deno.Kv;
  clock?: Clock;
  /**
   * The store limits the app works within and the KV enforces (default: KV Connect's and
   * Deno Deploy's, the strictest, so every test's session paths stay within them).
   */
  limits?: StoreLimits;
}

export function buildRequest(path: string, init: RequestOptions = {}): Request {
  const { cookie, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (cookie !== undefined) headers.set("cookie", cookie);
  const url = /^https?:/.test(path) ? path : ORIGIN + path;
  return new Request(url, { ...rest, headers });
}

/**
 * `createApp` on a fresh `:memory:` KV with a fake clock and a silent log. Use it with
 * `await using t = await testApp()` so the KV is closed whatever happens.
 */
export async function testApp(
  overrides: Partial<Config> = {},
  opts: TestAppOptions = {},
): Promise<TestApp> {
  const kv = await Deno.openKv(":memory:");
  const clock = opts.clock ?? fakeClock();
  const config = testConfig(overrides);
  const logs: string[] = [];
  let app: App;
  try {
    const limits = opts.limits ?? REMOTE_LIMITS;
    app = await createApp({
      ...APP_PARTS,
      config,
      kv: limitedKv(opts.wrapKv ? opts.wrapKv(kv) : kv, limits).kv,
      limits,
      now: clock.now,
      log: (line) => void logs.push(line),
    });
  } catch (error) {
    kv.close();
    throw error;
  }
  let closed = false;
  const close = () => {
    if (!closed) kv.close();
    closed = true;
  };
  return {
    app,
    kv,
    clock,
    config,
    logs,
    request: (path, init) => app(buildRequest(path, init)),
    close,
    [Symbol.asyncDispose]: () => Promise.resolve(close()),
  };
}

/**
 * The `Set-Cookie` headers of `response` but the marker that a browser had a session
 * (`<name>-seen`, see lib/sessions/mod.ts).
 */
export function sessionSetCookies(response: Response): string[] {
  return response.headers.getSetCookie().filter((c) =>
    !/^(__Host-)?[^=]+-seen=/.test(c)
  );
}

/** All `Set-Cookie` headers of `response` whose cookie name is `name` (default: any). */
export function setCookies(response: Response, name?: string): string[] {
  return sessionSetCookies(response).filter((c) =>
    name === undefined || c.startsWith(`${name}=`)
  );
}

/**
 * The `name=value` pair to send back for the session cookie `response` sets, or null
 * when it sets none. Fails the test if it sets two.
 */
export function cookieFrom(
  response: Response,
  name = "sessionId",
): string | null {
  const found = setCookies(response, name);
  if (found.length > 1) {
    throw new Error(`two Set-Cookie headers for ${name}: ${found.join(" | ")}`);
  }
  return found.length ? found[0].split(";")[0] : null;
}

/** The session id (cookie value) `response` sets, or null. */
export function idFrom(response: Response, name = "sessionId"): string | null {
  const pair = cookieFrom(response, name);
  return pair === null ? null : pair.slice(pair.indexOf("=") + 1);
}

/** Every key and value in the store. */
export async function dumpKv(kv: Deno.Kv): Promise<Deno.KvEntry<unknown>[]> {
  const entries: Deno.KvEntry<unknown>[] = [];
  for await (const entry of kv.list({ prefix: [] })) entries.push(entry);
  return entries;
}

/** A kv-mode session's stored visits: the first (in its record) plus its counter. */
export async function storedVisits(
  kv: Deno.Kv,
  handle: string,
): Promise<number> {
  const [record, visits] = await kv.getMany<[SessionRecord, Deno.KvU64]>([
    ["sessions", handle],
    ["visits", handle],
  ]);
  return (record.value?.visitsAtStart ?? 0) +
    (visits.value === null ? 0 : Number(visits.value.value));
}

/** A KV counter's value as a number, 0 when absent. */
export async function counter(kv: Deno.Kv, key: Deno.KvKey): Promise<number> {
  const entry = await kv.get<Deno.KvU64>(key);
  return entry.value === null ? 0 : Number(entry.value.value);
}

/** The `_csrf` value of the first form in an HTML page. */
export function csrfFrom(html: string): string {
  const match = html.match(/name="_csrf" value="([^"]+)"/);
  if (!match) throw new Error("no _csrf field in the page");
  return match[1];
}

/**
 * Starts `deno run -A main.ts` on a free port and waits until `/healthz` answers; its
 * output is kept in memory. Always `stop()` it in a `finally`.
 */
export async function startServer(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<Server> {
  // Never the default data/kv/ file: a KV folder of its own unless the test names one.
  const kvDir = env.KV_PATH === undefined
    ? await Deno.makeTempDir({ prefix: "mcq-server-" })
    : undefined;
  const server = await startProcess({
    env: { ...(kvDir ? { KV_PATH: `${kvDir}/kv.sqlite3` } : {}), ...env },
    timeoutMs,
  }).catch(async (error) => {
    if (kvDir) await Deno.remove(kvDir, { recursive: true }).catch(() => {});
    throw error;
  });
  if (!kvDir) return server;
  const stop = server.stop.bind(server);
  server.stop = async (signal, killAfterMs) => {
    const status = await stop(signal, killAfterMs);
    await Deno.remove(kvDir, { recursive: true }).catch(() => {});
    return status;
  };
  return server;
}

/** Keeps the cookies `res` sets in `jar` (name to value), as a browser does: `Max-Age=0` drops one. */
export function keepSetCookies(jar: Map<string, string>, res: Response): void {
  for (const header of res.headers.getSetCookie()) {
    const [pair, ...attributes] = header.split(";").map((s) => s.trim());
    const eq = pair.indexOf("=");
    const name = pair.slice(0, eq);
    if (attributes.some((a) => /^max-age=0$/i.test(a))) jar.delete(name);
    else jar.set(name, pair.slice(eq + 1));
  }
}

/**
 * A browser in miniature: keeps the cookies the app sets (dropping those cleared with
 * `Max-Age=0`), sends them back, remembers the last page's form token, and calls the app
 * from a client address of its own.
 */
export class Visitor {
  readonly jar = new Map<string, string>();
  csrf = "";

  constructor(private readonly t: TestApp, readonly address = "192.0.2.1") {}

  /** The session id this visitor holds, or undefined. */
  get id(): string | undefined {
    return this.jar.get("sessionId");
  }

  async handle(): Promise<string> {
    assert.ok(this.id, "this visitor has no session cookie");
    return await sha256Hex(this.id);
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const req = buildRequest(path, {
      ...init,
      cookie: cookie === "" ? undefined : cookie,
    });
    const res = await this.t.app(req, {
      remoteAddr: { hostname: this.address },
    });
    keepSetCookies(this.jar, res);
    return res;
  }

  /** GETs a page that must answer `expected`; keeps the form token of a 200 page. */
  async page(path: string, expected = 200): Promise<string> {
    const res = await this.fetch(path);
    const html = await res.text();
    assert.equal(res.status, expected, `GET ${path}: ${html.slice(0, 300)}`);
    if (expected === 200) this.csrf = csrfFrom(html);
    return html;
  }

  /** POSTs a form; the last page's token is added unless `_csrf` is given (or null to omit it). */
  form(
    path: string,
    fields: Record<string, string>,
    init: { csrf?: string | null; headers?: HeadersInit } = {},
  ): Promise<Response> {
    const body = new URLSearchParams(fields);
    const csrf = init.csrf === undefined ? this.csrf : init.csrf;
    if (csrf !== null) body.set("_csrf", csrf);
    const headers = new Headers(init.headers);
    headers.set("content-type", "application/x-www-form-urlencoded");
    return this.fetch(path, {
      method: "POST",
      headers,
      body: body.toString(),
    });
  }

  postJson(
    path: string,
    body: unknown,
    headers: HeadersInit = {},
  ): Promise<Response> {
    const h = new Headers(headers);
    if (!h.has("content-type")) h.set("content-type", "application/json");
    return this.fetch(path, {
      method: "POST",
      headers: h,
      body: JSON.stringify(body),
    });
  }

  async me(): Promise<
    {
      user: { username: string } | null;
      visits: number;
      scores: Record<
        string,
        { score: number; answered: number; total: number }
      >;
    }
  > {
    const res = await this.fetch("/api/me");
    assert.equal(res.status, 200);
    return await res.json();
  }

  /** The logged-in username, or null. */
  async user(): Promise<string | null> {
    return (await this.me()).user?.username ?? null;
  }
}
