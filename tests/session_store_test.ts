/**
 * KV sessions, through the app (cookies as a browser sees them) and through
 * `createKvSessionStore` directly (rotate, destroy and update races).
 */
import assert from "node:assert/strict";
import { type Config, testConfig } from "../lib/base/config.ts";
import { sha256Hex } from "../lib/base/crypto.ts";
import {
  createGroupCommitter,
  StaleRead,
} from "../lib/sessions/group_commit.ts";
import { HttpError } from "../lib/base/http_error.ts";
import type {
  Session,
  SessionRecord,
  SessionStore,
} from "../lib/sessions/session.ts";
import {
  createKvSessionStore,
  sessionKey,
  visitsKey,
} from "../lib/sessions/kv_store.ts";
import {
  buildRequest,
  type Clock,
  cookieFrom,
  dumpKv,
  fakeClock,
  idFrom,
  sessionSetCookies,
  setCookies,
  spyKv,
  storedVisits,
  testApp,
  UUID_V4,
} from "./helpers.ts";

const COOKIE_RE = (name: string, maxAge: number, secure = false) =>
  new RegExp(
    `^${name}=([0-9a-f-]{36}); Max-Age=${maxAge}; Path=/; HttpOnly; ${
      secure ? "Secure; " : ""
    }SameSite=Lax$`,
  );

/** Visits `/api/me` and returns the response with its parsed body. */
async function me(
  t: Awaited<ReturnType<typeof testApp>>,
  cookie?: string,
  init: RequestInit = {},
  path = "/api/me",
) {
  const res = await t.request(path, { ...init, cookie });
  const body = res.status === 200 ? await res.json() : await res.text();
  return { res, body };
}

Deno.test("a first visit gets a sessionId cookie holding a UUID v4 with the contract's attributes", async () => {
  await using t = await testApp();
  const res = await t.request("/");
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const cookies = setCookies(res);
  assert.equal(cookies.length, 1);
  const match = cookies[0].match(COOKIE_RE("sessionId", 1800));
  assert.ok(match, cookies[0]);
  assert.match(match[1], UUID_V4);
});

Deno.test("a returning cookie keeps its id and gets no Set-Cookie", async () => {
  await using t = await testApp();
  const first = await me(t);
  const cookie = cookieFrom(first.res)!;
  t.clock.advance(60);
  const second = await me(t, cookie);
  assert.equal(second.res.status, 200);
  assert.deepEqual(sessionSetCookies(second.res), []);
  assert.equal(second.body.visits, 2);
});

Deno.test("visits grow by one per request of the same session", async () => {
  await using t = await testApp();
  const first = await me(t);
  assert.equal(first.body.visits, 1);
  const cookie = cookieFrom(first.res)!;
  for (let n = 2; n <= 5; n++) {
    const { body } = await me(t, cookie);
    assert.equal(body.visits, n);
  }
  const other = await me(t);
  assert.equal(other.body.visits, 1);
});

Deno.test("a forged session id is never adopted", async () => {
  await using t = await testApp();
  const forged = crypto.randomUUID();
  const { res, body } = await me(t, `sessionId=${forged}`);
  assert.equal(body.visits, 1);
  const id = idFrom(res);
  assert.ok(id && id !== forged);
  assert.equal(
    (await t.kv.get(sessionKey(await sha256Hex(forged)))).versionstamp,
    null,
  );
});

Deno.test("malformed, duplicated, oversized or prototype-named cookies get a fresh session, never a 5xx", async () => {
  await using t = await testApp();
  const real = idFrom((await me(t)).res)!;
  const bad = [
    "sessionId=",
    "sessionId",
    "sessionId=not-a-uuid",
    "sessionId=;;;==;",
    `sessionId=${real.toUpperCase()}`,
    `sessionId=${real} `.repeat(3).trim().replaceAll(" ", "x"),
    `sessionId=${real.slice(0, 35)}`,
    `sessionId=${real}0`,
    `sessionId=${real.replace(/-4/, "-1")}`, // UUID v1 shape
    `sessionId=${crypto.randomUUID()}; sessionId=${crypto.randomUUID()}`,
    `sessionId=${"a".repeat(8192)}`,
    `big=${"x".repeat(8192)}; sessionId=${crypto.randomUUID()}`,
    `sessionId=${"y".repeat(20000)}`,
    `__proto__=${real}; constructor=${real}; prototype=1; toString=2`,
    `__proto__=1; sessionId=__proto__`,
    `sessionid=${real}`, // names are case-sensitive
    `sessionId=%${real}`,
    `sessionId="${real}`,
    "\u00ff=\u00ff; sessionId=\u00e9",
  ];
  for (const cookie of bad) {
    const { res, body } = await me(t, cookie);
    assert.equal(res.status, 200, cookie.slice(0, 80));
    assert.equal(body.visits, 1, cookie.slice(0, 80));
    const id = idFrom(res);
    assert.ok(id && UUID_V4.test(id) && id !== real, cookie.slice(0, 80));
  }
  // Pages too, not just the API.
  const page = await t.request("/", { cookie: bad.at(-6) });
  assert.equal(page.status, 200);
  await page.body?.cancel();
});

Deno.test("among duplicated session cookies the live one is used (browsers send one per matching path)", async () => {
  await using t = await testApp();
  const real = idFrom((await me(t)).res)!;
  const { res, body } = await me(
    t,
    `sessionId=junk; sessionId=${crypto.randomUUID()}; sessionId=${real}`,
  );
  assert.equal(body.visits, 2);
  assert.deepEqual(sessionSetCookies(res), []);
});

Deno.test("a malformed id costs no KV call beyond what a cookie-less request makes", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const spy = spyKv(kv);
    const config = testConfig();
    const store = createKvSessionStore({
      kv: spy.kv,
      config,
      now: () => 0,
      committer: createGroupCommitter(spy.kv),
    });
    await store.load(buildRequest("/"), false);
    const baseline = { ...spy.calls };
    const baseReads = spy.reads.length;
    await store.load(
      buildRequest("/", { cookie: "sessionId=ABC; sessionId=1234" }),
      false,
    );
    await store.load(
      buildRequest("/", {
        cookie: `sessionId=${crypto.randomUUID().toUpperCase()}`,
      }),
      false,
    );
    for (const [method, n] of Object.entries(spy.calls)) {
      assert.equal(n, 3 * (baseline[method] ?? 0), method);
    }
    assert.equal(spy.reads.length, 3 * baseReads);
    assert.ok(
      spy.reads.flat().every((key) => key[0] !== "sessions"),
      "no session key was read",
    );
  } finally {
    kv.close();
  }
});

Deno.test("a session ends after the idle timeout: clock +1801 s gives a new id", async () => {
  await using t = await testApp();
  const first = await me(t);
  const id = idFrom(first.res)!;
  t.clock.advance(1799);
  const kept = await me(t, `sessionId=${id}`);
  assert.equal(kept.body.visits, 2);
  t.clock.advance(1801);
  const { res, body } = await me(t, `sessionId=${id}`);
  assert.equal(body.visits, 1);
  assert.notEqual(idFrom(res), id);
});

Deno.test("a session ends at the absolute timeout even when kept busy every 10 minutes", async () => {
  await using t = await testApp();
  const id = idFrom((await me(t)).res)!;
  let visits = 1;
  for (let elapsed = 600; elapsed < 86400; elapsed += 600) {
    t.clock.advance(600);
    const { res, body } = await me(t, `sessionId=${id}`);
    assert.equal(body.visits, ++visits, `at ${elapsed} s`);
    const cookie = setCookies(res, "sessionId");
    assert.equal(cookie.length, 1, `renewed at ${elapsed} s`);
    const maxAge = Math.min(1800, 86400 - elapsed);
    assert.match(cookie[0], COOKIE_RE("sessionId", maxAge), `at ${elapsed} s`);
    assert.equal(idFrom(res), id);
  }
  t.clock.advance(600); // exactly 86400 s after creation
  const { res, body } = await me(t, `sessionId=${id}`);
  assert.equal(body.visits, 1);
  assert.notEqual(idFrom(res), id);
});

Deno.test("renewal: no write under a tenth of the idle window, then one renewal with a fresh Max-Age", async () => {
  await using t = await testApp();
  const id = idFrom((await me(t)).res)!;
  const key = sessionKey(await sha256Hex(id));
  const stored = await t.kv.get<SessionRecord>(key);
  t.clock.advance(179);
  const quiet = await me(t, `sessionId=${id}`);
  assert.deepEqual(sessionSetCookies(quiet.res), []);
  assert.equal((await t.kv.get(key)).versionstamp, stored.versionstamp);
  t.clock.advance(1);
  const renewed = await me(t, `sessionId=${id}`);
  const cookies = setCookies(renewed.res);
  assert.equal(cookies.length, 1);
  assert.match(cookies[0], COOKIE_RE("sessionId", 1800));
  assert.equal(idFrom(renewed.res), id);
  const after = await t.kv.get<SessionRecord>(key);
  assert.equal(after.value!.lastSeenAt, t.clock.now());
  assert.equal(after.value!.createdAt, stored.value!.createdAt);
  // The renewed window counts from now: 1799 s later it is still alive.
  t.clock.advance(1799);
  assert.equal((await me(t, `sessionId=${id}`)).body.visits, 4);
});

Deno.test("a renewal near the absolute deadline caps Max-Age at the time left", async () => {
  await using t = await testApp({ idleTimeout: 600, absoluteTimeout: 1000 });
  const id = idFrom((await me(t)).res)!;
  t.clock.advance(500);
  const res = (await me(t, `sessionId=${id}`)).res;
  assert.match(setCookies(res)[0], COOKIE_RE("sessionId", 500));
  t.clock.advance(400);
  const late = (await me(t, `sessionId=${id}`)).res;
  assert.match(setCookies(late)[0], COOKIE_RE("sessionId", 100));
  t.clock.advance(100);
  assert.notEqual(idFrom((await me(t, `sessionId=${id}`)).res), id);
});

Deno.test("a clock moved backwards does not keep a session past its absolute deadline", async () => {
  await using t = await testApp();
  const id = idFrom((await me(t)).res)!;
  const key = sessionKey(await sha256Hex(id));
  const { createdAt } = (await t.kv.get<SessionRecord>(key)).value!;
  for (let i = 0; i < 143; i++) {
    t.clock.advance(600);
    await me(t, `sessionId=${id}`);
  }
  t.clock.advance(-7200); // NTP step back by two hours
  const back = await me(t, `sessionId=${id}`);
  assert.equal(idFrom(back.res) ?? id, id);
  const cookie = setCookies(back.res)[0];
  if (cookie) {
    const maxAge = Number(cookie.match(/Max-Age=(\d+)/)![1]);
    assert.ok(t.clock.now() + maxAge * 1000 <= createdAt + 86400_000);
  }
  assert.equal(
    (await t.kv.get<SessionRecord>(key)).value!.createdAt,
    createdAt,
  );
  t.clock.set(createdAt + 86400_000);
  const { res, body } = await me(t, `sessionId=${id}`);
  assert.equal(body.visits, 1);
  assert.notEqual(idFrom(res), id);
});

Deno.test("COOKIE_SECURE=true names the cookie __Host-sessionId and marks it Secure", async () => {
  await using t = await testApp({ cookieSecure: "true" });
  const res = (await me(t)).res;
  const cookies = sessionSetCookies(res);
  assert.equal(cookies.length, 1);
  assert.match(cookies[0], COOKIE_RE("__Host-sessionId", 1800, true));
  const cookie = cookieFrom(res, "__Host-sessionId")!;
  assert.equal((await me(t, cookie)).body.visits, 2);
  // The unprefixed name is not the session cookie in this mode.
  const id = idFrom(res, "__Host-sessionId");
  assert.equal((await me(t, `sessionId=${id}`)).body.visits, 1);
});

Deno.test("behind TRUST_PROXY, X-Forwarded-Proto: https makes the cookie Secure and adds HSTS", async () => {
  const headers = { "x-forwarded-proto": "https" };
  await using trusted = await testApp({ trustProxy: true });
  const res = (await me(trusted, undefined, { headers })).res;
  assert.match(setCookies(res)[0], COOKIE_RE("__Host-sessionId", 1800, true));
  assert.match(res.headers.get("strict-transport-security") ?? "", /max-age=/);

  await using direct = await testApp();
  const plain = (await me(direct, undefined, { headers })).res;
  assert.match(setCookies(plain)[0], COOKIE_RE("sessionId", 1800));
  assert.equal(plain.headers.get("strict-transport-security"), null);

  // A request that really arrived over HTTPS is Secure in auto mode.
  const https = await direct.app(new Request("https://localhost/api/me"));
  await https.body?.cancel();
  assert.match(setCookies(https)[0], COOKIE_RE("__Host-sessionId", 1800, true));
  assert.ok(https.headers.get("strict-transport-security"));
});

// ---------------------------------------------------------------------------
// The store itself.

interface StoreEnv {
  kv: Deno.Kv;
  store: SessionStore;
  clock: Clock;
  config: Config;
}

async function withStore(
  fn: (env: StoreEnv) => Promise<void>,
  overrides: Partial<Config> = {},
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    const clock = fakeClock();
    const config = testConfig(overrides);
    const store = createKvSessionStore({
      kv,
      config,
      now: clock.now,
      committer: createGroupCommitter(kv),
    });
    await fn({ kv, store, clock, config });
  } finally {
    kv.close();
  }
}

/** One request of the session `id` (none: a first visit): load. */
async function load(store: SessionStore, id?: string): Promise<Session> {
  const cookie = id ? `sessionId=${id}` : undefined;
  return (await store.load(buildRequest("/", { cookie }), false)).session;
}

/** Finishes a request; returns its Set-Cookie headers. */
async function finish(store: SessionStore, session: Session) {
  const headers = new Headers();
  await store.finish(session, headers, true);
  return headers.getSetCookie();
}

async function newSession(store: SessionStore): Promise<string> {
  const cookies = await finish(store, await load(store));
  return cookies[0].split(";")[0].split("=")[1];
}

Deno.test("rotate() gives a new id and the old id stops working", async () => {
  await withStore(async ({ kv, store }) => {
    const oldId = await newSession(store);
    await finish(store, await load(store, oldId)); // visits = 2
    const session = await load(store, oldId);
    const oldHandle = session.handle;
    await session.rotate();
    const cookies = await finish(store, session);
    assert.equal(cookies.length, 1);
    assert.match(cookies[0], COOKIE_RE("sessionId", 1800));
    const newId = cookies[0].split(";")[0].split("=")[1];
    assert.notEqual(newId, oldId);
    assert.equal(session.handle, await sha256Hex(newId));
    assert.equal((await kv.get(sessionKey(oldHandle))).versionstamp, null);
    assert.equal((await kv.get(visitsKey(oldHandle))).versionstamp, null);
    assert.equal(await storedVisits(kv, session.handle), 3);

    const stale = await load(store, oldId);
    assert.equal(stale.isNew, true);
    assert.notEqual(stale.handle, oldHandle);
    const fresh = await load(store, newId);
    assert.equal(fresh.isNew, false);
    assert.equal(fresh.visits, 4);
  });
});

Deno.test("rotate() on a request that is not counted keeps the stored visit count", async () => {
  await withStore(async ({ kv, store }) => {
    const id = await newSession(store);
    await finish(store, await load(store, id)); // 2 visits stored
    // e.g. entering the admin token on /admin, a page that is not counted
    const { session } = await store.load(
      buildRequest("/admin", { cookie: `sessionId=${id}` }),
      false,
      false,
    );
    assert.equal(session.visits, 2);
    await session.rotate();
    await store.finish(session, new Headers(), false);
    assert.equal(await storedVisits(kv, session.handle), 2);
  });
});

Deno.test("a rotation whose commit finds visits counted meanwhile writes nothing; run again, it carries them all over", async () => {
  await withStore(async ({ kv, store }) => {
    const id = await newSession(store); // 1
    const login = await load(store, id); // e.g. a login, hashing its password
    for (let i = 0; i < 3; i++) await finish(store, await load(store, id)); // 4
    await login.rotate();
    await assert.rejects(finish(store, login), StaleRead);
    // Nothing of the rotation landed: the old id still works, with its 4 visits.
    assert.equal(await storedVisits(kv, (await load(store, id)).handle), 4);
    const again = await load(store, id); // the request's second run
    await again.rotate();
    const [cookie] = await finish(store, again); // 5
    assert.equal(await storedVisits(kv, again.handle), 5);
    const newId = cookie.split(";")[0].split("=")[1];
    assert.equal((await load(store, newId)).visits, 6);
    assert.equal((await load(store, id)).isNew, true);
  });
});

Deno.test("rotate() on a first visit sends one cookie, for the rotated id", async () => {
  await withStore(async ({ kv, store }) => {
    const session = await load(store);
    const before = session.handle;
    await session.rotate((r) => ({ ...r, user: "alice" }));
    const cookies = await finish(store, session);
    assert.equal(cookies.length, 1);
    const id = cookies[0].split(";")[0].split("=")[1];
    assert.equal(session.handle, await sha256Hex(id));
    assert.notEqual(session.handle, before);
    const stored = await kv.get<SessionRecord>(sessionKey(session.handle));
    assert.equal(stored.value?.user, "alice");
  });
});

Deno.test("destroy() deletes the session and its counter and clears the cookie", async () => {
  await withStore(async ({ kv, store }) => {
    const id = await newSession(store);
    await finish(store, await load(store, id)); // a second visit: the counter row exists
    const session = await load(store, id);
    const handle = session.handle;
    assert.ok((await kv.get(visitsKey(handle))).versionstamp);
    await session.destroy();
    const cookies = await finish(store, session);
    assert.deepEqual(cookies, [
      "sessionId=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    ]);
    assert.equal((await kv.get(sessionKey(handle))).versionstamp, null);
    assert.equal((await kv.get(visitsKey(handle))).versionstamp, null);
    assert.equal((await load(store, id)).isNew, true);
  });
});

Deno.test("POST /api/forget deletes [sessions, handle] and [visits, handle] and the next request gets a new id", async () => {
  await using t = await testApp();
  const id = idFrom((await me(t)).res)!;
  await me(t, `sessionId=${id}`);
  const handle = await sha256Hex(id);
  const res = await t.request("/api/forget", {
    method: "POST",
    cookie: `sessionId=${id}`,
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual(sessionSetCookies(res), [
    "sessionId=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
  ]);
  assert.equal((await t.kv.get(sessionKey(handle))).versionstamp, null);
  assert.equal((await t.kv.get(visitsKey(handle))).versionstamp, null);
  const next = await me(t, `sessionId=${id}`);
  assert.equal(next.body.visits, 1);
  assert.notEqual(idFrom(next.res), id);
});

Deno.test("an update racing a destroy never resurrects the session", async () => {
  await withStore(async ({ kv, store }) => {
    for (let round = 0; round < 20; round++) {
      const id = await newSession(store);
      const a = await load(store, id);
      const b = await load(store, id);
      await a.destroy();
      await b.update((r) => ({ ...r, data: { likes: ["q/1"] } }));
      // Whichever commit goes first, the update never lands after the destroy.
      const [destroyed, updated] = await Promise.allSettled(
        round % 2 ? [finish(store, a), finish(store, b)] : [
          finish(store, b).then(() => finish(store, a)),
          Promise.reject(new StaleRead()),
        ],
      );
      assert.equal(destroyed.status, "fulfilled");
      if (updated.status === "rejected") {
        assert.ok(updated.reason instanceof StaleRead);
      }
      assert.equal((await kv.get(sessionKey(a.handle))).versionstamp, null);
      // Run again, the update finds no session: the id starts a new one.
      assert.equal((await load(store, id)).isNew, true);
      await assert.rejects(
        a.update((r) => r),
        (e) => e instanceof HttpError && e.status === 409,
      );
    }
  });
});

/** Runs a request of session `id` as the app does: again from a fresh read until it lands. */
async function runUntilLanded(
  store: SessionStore,
  id: string,
  change: (record: SessionRecord) => SessionRecord,
): Promise<number> {
  for (let run = 1;; run++) {
    const session = await load(store, id);
    await session.update(change);
    try {
      await finish(store, session);
      return run;
    } catch (error) {
      if (!(error instanceof StaleRead)) throw error;
    }
  }
}

Deno.test("200 concurrent updates appending to one session's list lose nothing", async () => {
  await withStore(async ({ kv, store }) => {
    const id = await newSession(store);
    const runs = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        runUntilLanded(store, id, (r) => ({
          ...r,
          data: { ...r.data, likes: [...(r.data.likes ?? []), `q/${i}`] },
        }))),
    );
    const handle = (await load(store, id)).handle;
    const stored = await kv.get<SessionRecord>(sessionKey(handle));
    const likes = stored.value!.data.likes!;
    assert.equal(likes.length, 200);
    assert.equal(new Set(likes).size, 200);
    assert.ok(runs.some((n) => n > 1), "no update ever conflicted");
    // Every visit counted once, however many runs it took.
    assert.equal(await storedVisits(kv, handle), 201);
  });
});

Deno.test("the store keys sessions by the SHA-256 hex of the id and never stores the raw id", async () => {
  await withStore(async ({ kv, store }) => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await newSession(store));
    const session = await load(store, ids[0]);
    await session.update((r) => ({ ...r, user: "alice" }));
    await finish(store, session);
    const rotated = await load(store, ids[1]);
    await rotated.rotate();
    const [cookie] = await finish(store, rotated);
    ids.push(cookie.split(";")[0].split("=")[1]);

    const entries = await dumpKv(kv);
    const dump = JSON.stringify(
      entries.map((e) => [e.key, e.value]),
      (_, v) => typeof v === "bigint" ? String(v) : v,
    );
    for (const id of ids) {
      assert.ok(!dump.includes(id), "raw id found in the store");
      assert.ok(!dump.includes(id.replaceAll("-", "")));
    }
    const handles = entries.filter((e) => e.key[0] === "sessions").map((e) =>
      e.key[1]
    );
    assert.equal(handles.length, 3);
    for (const handle of handles) {
      assert.match(String(handle), /^[0-9a-f]{64}$/);
    }
    assert.ok(handles.includes(await sha256Hex(ids[0])));
    assert.ok(handles.includes(await sha256Hex(ids[3])));
  });
});
