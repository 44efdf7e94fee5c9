/**
 * The app as a `(Request) => Promise<Response>` function: routing, methods, CSRF, bodies,
 * headers, static files, health, exact counters and store faults. No port is opened.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../lib/base/crypto.ts";
import { KNOWN_TTL_MS } from "../lib/sessions/memory.ts";
import { HITS_KEY, type SessionRecord } from "../lib/sessions/session.ts";
import { sessionKey, visitsKey } from "../lib/sessions/kv_store.ts";
import {
  ADMIN_TOKEN,
  cookieFrom,
  counter,
  csrfFrom,
  idFrom,
  type KvSpy,
  sessionSetCookies,
  setCookies,
  spyKv,
  storedVisits,
  type TestApp,
  testApp,
} from "./helpers.ts";

const CSP =
  "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
const CLEARED = "sessionId=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax";

/** A first visit to the home page: its cookie and the form token in it. */
async function visitHome(t: TestApp) {
  const res = await t.request("/");
  assert.equal(res.status, 200);
  const csrf = csrfFrom(await res.text());
  return { cookie: cookieFrom(res)!, csrf };
}

function form(fields: Record<string, string>, cookie?: string): RequestInit & {
  cookie?: string;
} {
  return {
    method: "POST",
    cookie,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  };
}

async function visitsOf(t: TestApp, cookie: string): Promise<number> {
  const id = cookie.slice(cookie.indexOf("=") + 1);
  return await storedVisits(t.kv, sha256Hex(id));
}

Deno.test("POST /forget without the form's _csrf token is refused with 403", async () => {
  await using t = await testApp();
  const { cookie, csrf } = await visitHome(t);
  const wrong: Record<string, string>[] = [
    {},
    { _csrf: "" },
    { _csrf: csrf.slice(1) + "x" },
  ];
  for (const fields of wrong) {
    const res = await t.request("/forget", form(fields, cookie));
    assert.equal(res.status, 403);
    await res.body?.cancel();
    assert.deepEqual(setCookies(res), []);
  }
  // A token is bound to its session: a new visitor cannot reuse it.
  const stranger = await t.request("/forget", form({ _csrf: csrf }));
  assert.equal(stranger.status, 403);
  await stranger.body?.cancel();
  // Still the same session.
  const me = await t.request("/api/me", { cookie });
  assert.equal((await me.json()).visits, 2);
});

Deno.test("POST /forget with the form's token answers 303 and clears the cookie", async () => {
  await using t = await testApp();
  const { cookie, csrf } = await visitHome(t);
  const res = await t.request("/forget", form({ _csrf: csrf }, cookie));
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/");
  assert.deepEqual(setCookies(res, "sessionId"), [CLEARED]);
  const next = await t.request("/api/me", { cookie });
  assert.equal((await next.json()).visits, 1);
  assert.notEqual(cookieFrom(next), cookie);
});

Deno.test("POST /api/forget clears the cookie and the next request gets a new id", async () => {
  await using t = await testApp();
  for (
    const init of [
      {},
      { headers: { "content-type": "application/json" }, body: "{}" },
    ]
  ) {
    const first = await t.request("/api/me");
    await first.body?.cancel();
    const cookie = cookieFrom(first)!;
    const res = await t.request("/api/forget", {
      ...init,
      method: "POST",
      cookie,
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
    assert.deepEqual(sessionSetCookies(res), [CLEARED]);
    const next = await t.request("/api/me", { cookie });
    assert.equal((await next.json()).visits, 1);
    assert.notEqual(cookieFrom(next), cookie);
  }
});

Deno.test("a wrong method gets 405 with Allow", async () => {
  await using t = await testApp();
  const cases: [string, string, string][] = [
    ["GET", "/forget", "POST"],
    ["HEAD", "/forget", "POST"],
    ["DELETE", "/", "GET, HEAD"],
    ["POST", "/", "GET, HEAD"],
    ["PUT", "/api/me", "GET, HEAD"],
    ["GET", "/api/forget", "POST"],
    ["POST", "/healthz", "GET, HEAD"],
    ["PATCH", "/static/style.css", "GET, HEAD"],
  ];
  for (const [method, path, allow] of cases) {
    const res = await t.request(path, { method });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
    if (path.startsWith("/api/")) {
      assert.match(res.headers.get("content-type")!, /^application\/json/);
      assert.ok((await res.json()).error);
    } else await res.body?.cancel();
  }
});

Deno.test("methods named like Object.prototype members get 405, never a 5xx", async () => {
  await using t = await testApp();
  const methods = [
    "constructor",
    "toString",
    "valueOf",
    "hasOwnProperty",
    "__proto__",
    "__defineGetter__",
    "OPTIONS",
    "get",
  ];
  for (const path of ["/", "/forget", "/api/me", "/healthz"]) {
    for (const method of methods) {
      const res = await t.request(path, { method });
      await res.body?.cancel();
      assert.ok(
        res.status === 405 || (method === "get" && res.status === 200),
        `${method} ${path}: ${res.status}`,
      );
    }
  }
});

Deno.test("an unknown route is 404, as JSON under /api/", async () => {
  await using t = await testApp();
  const api = await t.request("/api/nope");
  assert.equal(api.status, 404);
  assert.match(api.headers.get("content-type")!, /^application\/json/);
  assert.deepEqual(Object.keys(await api.json()), ["error"]);
  for (const path of ["/nope", "/api", "/forget/x", "/static/", "/static"]) {
    const page = await t.request(path);
    assert.equal(page.status, 404, path);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    await page.body?.cancel();
  }
  const wantsJson = await t.request("/nope", {
    headers: { accept: "application/json" },
  });
  assert.equal(wantsJson.status, 404);
  assert.ok((await wantsJson.json()).error);
});

Deno.test("a cross-site POST is refused with 403 before anything changes", async () => {
  await using t = await testApp();
  const { cookie, csrf } = await visitHome(t);
  const hostile: Record<string, string>[] = [
    { "sec-fetch-site": "cross-site" },
    { origin: "https://evil.example" },
    { origin: "null" },
    { origin: "http://localhost:8080" },
    { origin: "https://localhost" },
  ];
  for (const headers of hostile) {
    for (const path of ["/forget", "/api/forget"]) {
      const res = await t.request(path, {
        method: "POST",
        cookie,
        headers: {
          ...headers,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: `_csrf=${encodeURIComponent(csrf)}`,
      });
      assert.equal(res.status, 403, `${path} ${JSON.stringify(headers)}`);
      await res.body?.cancel();
      assert.deepEqual(setCookies(res), []);
    }
  }
  const me = await t.request("/api/me", { cookie });
  assert.equal((await me.json()).visits, 2, "the session survived");
  // Same-origin requests pass.
  const ok = await t.request("/forget", {
    ...form({ _csrf: csrf }, cookie),
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: "http://localhost",
      "sec-fetch-site": "same-origin",
    },
  });
  assert.equal(ok.status, 303);
});

function stream(bytes: number, chunk = 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const n = Math.min(chunk, bytes - sent);
      controller.enqueue(new Uint8Array(n).fill(0x20));
      sent += n;
    },
  });
}

Deno.test("a body over the limit gets 413, with or without Content-Length", async () => {
  await using t = await testApp({ maxBodyBytes: 4096 });
  const big = `{"x":"${"a".repeat(5000)}"}`;
  const declared = await t.request("/api/forget", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": String(big.length),
    },
    body: big,
  });
  assert.equal(declared.status, 413);
  assert.ok((await declared.json()).error);

  const streamed = await t.request("/api/forget", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: stream(100_000),
  });
  assert.equal(streamed.headers.get("content-length"), null);
  assert.equal(streamed.status, 413);
  await streamed.body?.cancel();

  const { cookie, csrf } = await visitHome(t);
  const longForm = await t.request("/forget", {
    method: "POST",
    cookie,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `_csrf=${csrf}&pad=${"b".repeat(10_000)}`,
  });
  assert.equal(longForm.status, 413);
  await longForm.body?.cancel();
  assert.deepEqual(setCookies(longForm), []);
  // A lying Content-Length that is not a number is a 400, not a crash.
  const lying = await t.request("/api/forget", {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": "1e9" },
    body: "{}",
  });
  assert.ok(lying.status === 400 || lying.status === 413);
  await lying.body?.cancel();
});

Deno.test("a wrong content type gets 415", async () => {
  await using t = await testApp();
  const api = await t.request("/api/forget", {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "{}",
  });
  assert.equal(api.status, 415);
  assert.ok((await api.json()).error);
  const formAsJson = await t.request("/api/forget", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "a=1",
  });
  assert.equal(formAsJson.status, 415);
  await formAsJson.body?.cancel();
  const { cookie, csrf } = await visitHome(t);
  const page = await t.request("/forget", {
    method: "POST",
    cookie,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ _csrf: csrf }),
  });
  assert.equal(page.status, 415);
  await page.body?.cancel();
});

Deno.test("malformed JSON and invalid UTF-8 get 400", async () => {
  await using t = await testApp();
  const bodies: BodyInit[] = [
    "{",
    "[1]",
    '"x"',
    "null",
    new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    new Uint8Array([0x7b, 0x7d, 0xc3]),
  ];
  for (const body of bodies) {
    const res = await t.request("/api/forget", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    assert.equal(res.status, 400, String(body));
    assert.ok((await res.json()).error);
  }
  const { cookie, csrf } = await visitHome(t);
  for (
    const body of [
      new Uint8Array([...new TextEncoder().encode(`_csrf=${csrf}&x=`), 0xff]),
      `_csrf=${csrf}&x=%ff`,
      `_csrf=${csrf}&x=%zz`,
      `_csrf=${csrf}&_csrf=${csrf}`,
    ]
  ) {
    const res = await t.request("/forget", {
      method: "POST",
      cookie,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    assert.equal(res.status, 400, String(body));
    await res.body?.cancel();
  }
});

Deno.test("every response carries the security headers, errors and static files included", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const requests: [string, RequestInit][] = [
    ["/", {}],
    ["/api/me", {}],
    ["/nope", {}],
    ["/api/nope", {}],
    ["/static/style.css", {}],
    ["/static/nope.css", {}],
    ["/healthz", {}],
    ["/forget", {}],
    ["/forget", { method: "POST" }],
    ["/api/forget", { method: "POST", headers: { origin: "null" } }],
    ["/api/forget", { method: "POST", body: "x" }],
    ["/admin/kv", {}],
    ["/", { method: "HEAD" }],
  ];
  for (const [path, init] of requests) {
    const res = await t.request(path, init);
    await res.body?.cancel();
    const what = `${init.method ?? "GET"} ${path} (${res.status})`;
    assert.equal(res.headers.get("content-security-policy"), CSP, what);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", what);
    assert.equal(
      res.headers.get("referrer-policy"),
      "strict-origin-when-cross-origin",
      what,
    );
    assert.equal(
      res.headers.get("cross-origin-opener-policy"),
      "same-origin",
      what,
    );
    const type = res.headers.get("content-type");
    if (type?.startsWith("text/")) assert.match(type, /charset=utf-8/, what);
    assert.equal(res.headers.get("strict-transport-security"), null, what);
  }
});

Deno.test("session responses carry Cache-Control: no-store and Vary: Cookie", async () => {
  await using t = await testApp();
  for (const path of ["/", "/api/me", "/forget"]) {
    const res = await t.request(path);
    await res.body?.cancel();
    assert.equal(res.headers.get("cache-control"), "no-store", path);
    assert.match(res.headers.get("vary") ?? "", /\bCookie\b/, path);
  }
});

Deno.test("no response ever has two Set-Cookie headers for the session cookie", async () => {
  await using t = await testApp();
  const { cookie, csrf } = await visitHome(t);
  const attempts: [string, RequestInit & { cookie?: string }][] = [
    ["/", {}],
    ["/", { cookie }],
    ["/api/forget", { method: "POST" }],
    ["/api/forget", { method: "POST", cookie: `${cookie}; ${cookie}` }],
    ["/forget", form({ _csrf: csrf }, cookie)],
    ["/api/me", { cookie: "sessionId=a; sessionId=b; sessionId=c" }],
  ];
  for (const [path, init] of attempts) {
    t.clock.advance(400); // renewals due
    const res = await t.request(path, init);
    await res.body?.cancel();
    assert.ok(setCookies(res, "sessionId").length <= 1, path);
    assert.ok(setCookies(res, "__Host-sessionId").length === 0, path);
  }
});

Deno.test("HEAD works like GET without a body", async () => {
  await using t = await testApp();
  for (const path of ["/", "/api/me", "/static/style.css", "/healthz"]) {
    const get = await t.request(path);
    await get.body?.cancel();
    const head = await t.request(path, { method: "HEAD" });
    assert.equal(head.status, 200, path);
    assert.equal(head.body, null, path);
    assert.equal(
      head.headers.get("content-type"),
      get.headers.get("content-type"),
      path,
    );
  }
});

Deno.test("static files are served from memory; traversal attempts are 404 in every encoding", async () => {
  await using t = await testApp();
  const css = await t.request("/static/style.css");
  assert.equal(css.status, 200);
  assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
  assert.ok((await css.text()).length > 0);
  const etag = css.headers.get("etag")!;
  const cached = await t.request("/static/style.css", {
    headers: { "if-none-match": etag },
  });
  assert.equal(cached.status, 304);
  const attempts = [
    "/static/../deno.json",
    "/static/%2e%2e/deno.json",
    "/static/%2E%2E/deno.json",
    "/static/..%2fdeno.json",
    "/static/..%2Fdeno.json",
    "/static/%252e%252e/x",
    "/static/%252e%252e/deno.json",
    "/static/....//deno.json",
    "/static/..\\deno.json",
    "/static/%5c..%5cdeno.json",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/style.css%00.js",
    "/static/./style.css/..",
    "/static/build/../../main.ts",
  ];
  for (const path of attempts) {
    const res = await t.request(path);
    assert.equal(res.status, 404, path);
    const body = await res.text();
    assert.ok(!body.includes('"imports"'), path);
  }
});

Deno.test("/healthz answers 200 {ok:true} and 503 when the store throws", async () => {
  let spy!: KvSpy;
  await using t = await testApp({}, { wrapKv: (kv) => (spy = spyKv(kv)).kv });
  {
    const ok = await t.request("/healthz");
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { ok: true });
    spy.fail("get", Infinity);
    const down = await t.request("/healthz");
    assert.equal(down.status, 503);
    assert.equal((await down.json()).ok, false);
    assert.ok(down.headers.get("retry-after"));
    spy.heal();
    const back = await t.request("/healthz");
    assert.equal(back.status, 200);
    await back.body?.cancel();
  }
});

Deno.test("a few 'database is locked' errors on read or commit are retried: 200", async () => {
  let spy!: KvSpy;
  await using t = await testApp({}, { wrapKv: (kv) => (spy = spyKv(kv)).kv });
  {
    spy.fail("getMany", 2);
    const read = await t.request("/api/me");
    assert.equal(read.status, 200);
    const cookie = cookieFrom(read)!;
    assert.equal((await read.json()).visits, 1);
    spy.fail("commit", 2);
    const write = await t.request("/api/me", { cookie });
    assert.equal(write.status, 200);
    assert.equal((await write.json()).visits, 2);
    assert.equal(await counter(t.kv, HITS_KEY), 2);
    assert.equal(await visitsOf(t, cookie), 2);
  }
});

Deno.test("a store that keeps failing gets 503 with Retry-After and no Set-Cookie, then recovers", async () => {
  let spy!: KvSpy;
  await using t = await testApp({}, { wrapKv: (kv) => (spy = spyKv(kv)).kv });
  {
    const first = await t.request("/api/me");
    await first.body?.cancel();
    const cookie = cookieFrom(first)!;
    // Past what the app remembers of the session: each request reads the store.
    t.clock.advance(KNOWN_TTL_MS / 1000);
    for (const method of ["getMany", "commit"]) {
      spy.fail(method, Infinity);
      for (const init of [{}, { cookie }]) {
        for (const path of ["/", "/api/me"]) {
          const res = await t.request(path, init);
          assert.equal(res.status, 503, `${method} ${path}`);
          assert.ok(Number(res.headers.get("retry-after")) > 0);
          assert.deepEqual(sessionSetCookies(res), []);
          assert.equal(res.headers.get("cache-control"), "no-store");
          await res.body?.cancel();
        }
      }
      spy.heal();
    }
    assert.equal(
      await counter(t.kv, HITS_KEY),
      1,
      "failed requests not counted",
    );
    const back = await t.request("/api/me", { cookie });
    assert.equal(back.status, 200);
    assert.equal((await back.json()).visits, 2);
    const fresh = await t.request("/api/me");
    assert.equal(fresh.status, 200);
    await fresh.body?.cancel();
    assert.ok(cookieFrom(fresh));
  }
});

async function burst(t: TestApp, cookie: string, n: number) {
  const responses = await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        t.request(i % 3 === 0 ? "/" : "/api/me", {
          cookie: i % 2 === 0 ? cookie : undefined,
        }),
    ),
  );
  for (const res of responses) {
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
}

Deno.test("300 concurrent requests count exactly 300 hits and the session's exact visits", async () => {
  await using t = await testApp();
  const first = await t.request("/api/me");
  await first.body?.cancel();
  const cookie = cookieFrom(first)!;
  await burst(t, cookie, 300);
  assert.equal(await counter(t.kv, HITS_KEY), 301);
  assert.equal(await visitsOf(t, cookie), 151);
});

Deno.test("counts stay exact when a burst of one session's requests all find a renewal due", async () => {
  await using t = await testApp();
  const first = await t.request("/api/me");
  await first.body?.cancel();
  const cookie = cookieFrom(first)!;
  t.clock.advance(600);
  await burst(t, cookie, 300);
  assert.equal(await counter(t.kv, HITS_KEY), 301);
  assert.equal(await visitsOf(t, cookie), 151);
  const me = await t.request("/api/me", { cookie });
  assert.equal((await me.json()).visits, 152);
});

Deno.test("4xx answers, static files, /healthz and /admin are not counted", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const { cookie } = await visitHome(t);
  const uncounted: [string, RequestInit & { cookie?: string }][] = [
    ["/forget", { method: "POST", cookie }],
    ["/forget", { cookie }],
    ["/api/forget", { method: "POST", cookie, body: "x" }],
    ["/api/forget", {
      method: "POST",
      cookie,
      headers: { origin: "https://evil.example" },
    }],
    ["/api/nope", { cookie }],
    ["/static/style.css", { cookie }],
    ["/healthz", { cookie }],
    ["/admin", { cookie }],
    ["/admin/kv", { cookie }],
    ["/admin/kv", {
      cookie,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }],
    ["/admin/sessions", {
      cookie,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }],
  ];
  for (const [path, init] of uncounted) {
    const res = await t.request(path, init);
    await res.body?.cancel();
  }
  assert.equal(await counter(t.kv, HITS_KEY), 1);
  assert.equal(await visitsOf(t, cookie), 1);
  const me = await t.request("/api/me", { cookie });
  const body = await me.json();
  assert.equal(body.hits, 2);
  assert.equal(body.visits, 2);
});

Deno.test("a new visitor's failed request stores no session", async () => {
  await using t = await testApp();
  const res = await t.request("/forget", form({ _csrf: "x" }));
  assert.equal(res.status, 403);
  await res.body?.cancel();
  const stored = [];
  for await (const e of t.kv.list({ prefix: ["sessions"] })) stored.push(e);
  assert.equal(stored.length, 0);
  assert.equal(idFrom(res), null);
});

Deno.test("behind a trusted proxy that rewrites Host, a same-site POST (Origin = X-Forwarded-Host) is accepted and a foreign one refused", async () => {
  await using t = await testApp({ trustProxy: true });
  const post = (origin: string) =>
    t.app(
      new Request("http://backend:8000/api/forget", {
        method: "POST",
        headers: {
          origin,
          "x-forwarded-host": "quiz.example",
          "x-forwarded-proto": "https",
          "content-type": "application/json",
        },
        body: "{}",
      }),
    );
  assert.equal((await post("https://quiz.example")).status, 200);
  assert.equal((await post("https://evil.example")).status, 403);
});

Deno.test("a cached page still shows each visitor their own hits, visits and form token", async () => {
  await using t = await testApp();
  const first = await t.request("/");
  const a = cookieFrom(first)!;
  await t.request("/", { cookie: a });
  const pageA = await (await t.request("/", { cookie: a })).text();
  const second = await t.request("/");
  const b = cookieFrom(second)!;
  const pageB = await (await t.request("/", { cookie: b })).text();
  const token = (html: string) =>
    html.match(/name="_csrf" value="([^"]+)"/)![1];
  const count = (html: string, id: string) =>
    html.match(new RegExp(`data-testid="${id}">(\\d+)<`))![1];
  assert.notEqual(token(pageA), token(pageB));
  assert.equal(count(pageA, "visits"), "3");
  assert.equal(count(pageB, "visits"), "2");
  assert.equal(count(pageB, "hits"), "5");
  assert.ok(!pageA.includes("@@") && !pageB.includes("@@"));
  // And the token each page shows is the one its session accepts.
  const forget = await t.request("/forget", {
    method: "POST",
    cookie: b,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `_csrf=${encodeURIComponent(token(pageB))}`,
  });
  assert.equal(forget.status, 303);
});

Deno.test("a first visit is counted in the new record: one row written, the counter row comes with the second visit", async () => {
  await using t = await testApp();
  const first = await t.request("/api/me");
  assert.equal((await first.json()).visits, 1);
  const cookie = cookieFrom(first)!;
  const handle = sha256Hex(cookie.slice(cookie.indexOf("=") + 1));
  const record = await t.kv.get<SessionRecord>(sessionKey(handle));
  assert.equal(record.value?.visitsAtStart, 1);
  assert.equal((await t.kv.get(visitsKey(handle))).versionstamp, null);
  for (const expected of [2, 3]) {
    const res = await t.request("/api/me", { cookie });
    assert.equal((await res.json()).visits, expected);
  }
  assert.equal(await counter(t.kv, visitsKey(handle)), 2);
  // Read back from the store (past the memory): the same count.
  t.clock.advance(KNOWN_TTL_MS / 1000);
  const res = await t.request("/api/me", { cookie });
  assert.equal((await res.json()).visits, 4);
});
