/**
 * `SESSION_MODE=cookie`: the session sealed in the cookie, through the app (cookies as a
 * browser sees them) and through `createCookieSessionStore` directly (logged-in sessions,
 * rotation, revocation, the size limit).
 */
import assert from "node:assert/strict";
import type { Quiz } from "../lib/quiz/bank.ts";
import { createApp } from "../lib/server/app.ts";
import { type Config, testConfig } from "../lib/base/config.ts";
import { createCookieCodec } from "../lib/sessions/cookie_codec.ts";
import { sha256Hex } from "../lib/base/crypto.ts";
import { createGroupCommitter } from "../lib/sessions/group_commit.ts";
import { HttpError } from "../lib/base/http_error.ts";
import { KNOWN_TTL_MS } from "../lib/sessions/memory.ts";
import type { Session, SessionStore } from "../lib/sessions/session.ts";
import {
  cookieRevokedKey,
  createCookieSessionStore,
  revokeCookieSession,
  revokeUserCookieSessions,
  userValidAfterKey,
} from "../lib/sessions/cookie_store.ts";
import {
  APP_PARTS,
  buildRequest,
  type Clock,
  cookieFrom,
  counter,
  csrfFrom,
  dumpKv,
  fakeClock,
  idFrom,
  type KvSpy,
  sessionSetCookies,
  setCookies,
  spyKv,
  testApp,
  UUID_V4,
} from "./helpers.ts";

const SECRET_A = "a".repeat(32);
const SECRET_B = "b".repeat(32);
const COOKIE_MODE: Partial<Config> = { mode: "cookie", secrets: [SECRET_A] };

/** name=v1.<kid>.<iv>.<sealed>; attributes exactly as in kv mode. */
const COOKIE_RE = (name: string, maxAge: number, secure = false) =>
  new RegExp(
    `^${name}=(v1\\.[A-Za-z0-9_-]{8}\\.[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]+); Max-Age=${maxAge}; Path=/; HttpOnly; ${
      secure ? "Secure; " : ""
    }SameSite=Lax$`,
  );

const kidOf = (pair: string) => pair.split("=")[1].split(".")[1];

type T = Awaited<ReturnType<typeof testApp>>;

/** Visits `/api/me` and returns the response with its parsed body. */
async function me(t: T, cookie?: string, path = "/api/me") {
  const res = await t.request(path, { cookie });
  const body = res.status === 200 ? await res.json() : await res.text();
  return { res, body };
}

async function answer(
  t: T,
  cookie: string | undefined,
  questionId: string,
  choice: number,
) {
  const res = await t.request("/api/quizzes/http/answers", {
    method: "POST",
    cookie,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ questionId, choice }),
  });
  return { res, body: await res.json() };
}

async function keysOf(kv: Deno.Kv): Promise<string[]> {
  return (await dumpKv(kv)).map((e) => JSON.stringify(e.key));
}

Deno.test("cookie mode: a first visit gets a sealed cookie with the contract's attributes and writes only the hit to KV", async () => {
  await using t = await testApp(COOKIE_MODE);
  const res = await t.request("/");
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const cookies = setCookies(res);
  assert.equal(cookies.length, 1);
  assert.match(cookies[0], COOKIE_RE("sessionId", 1800));
  assert.deepEqual(await keysOf(t.kv), ['["hits"]']);
  assert.equal(await counter(t.kv, ["hits"]), 1);
});

Deno.test("cookie mode: over HTTPS the cookie is Secure with the __Host- prefix, and bound to that name", async () => {
  await using t = await testApp(COOKIE_MODE);
  const res = await t.request("https://localhost/api/me");
  await res.body?.cancel();
  const [cookie] = setCookies(res);
  assert.match(cookie, COOKIE_RE("__Host-sessionId", 1800, true));
  const value = cookie.split(";")[0].split("=")[1];
  // The same value under the plain name does not open: the name is sealed in.
  const moved = await me(t, `sessionId=${value}`);
  assert.equal(moved.body.visits, 1);
  const kept = await t.request("https://localhost/api/me", {
    cookie: `__Host-sessionId=${value}`,
  });
  assert.equal((await kept.json()).visits, 2);
});

Deno.test("cookie mode: the cookie round-trips, visits grow and every counted answer re-issues it", async () => {
  await using t = await testApp(COOKIE_MODE);
  let cookie: string | undefined;
  for (let n = 1; n <= 4; n++) {
    t.clock.advance(10);
    const { res, body } = await me(t, cookie);
    assert.equal(body.visits, n);
    assert.equal(body.hits, n);
    const next = cookieFrom(res);
    assert.ok(next, `request ${n} re-issues the cookie`);
    assert.notEqual(next, cookie);
    cookie = next;
  }
  assert.deepEqual(await keysOf(t.kv), ['["hits"]']);
});

Deno.test("cookie mode: the quiz progress lives in the cookie; an old cookie does not know later answers", async () => {
  await using t = await testApp(COOKIE_MODE);
  const first = await me(t);
  const before = cookieFrom(first.res)!;
  const ok = await answer(t, before, "safe-methods", 2);
  assert.equal(ok.res.status, 200);
  const after = cookieFrom(ok.res)!;
  assert.equal((await answer(t, after, "safe-methods", 2)).res.status, 409);
  const { body } = await me(t, after);
  assert.equal(body.scores.http.score, 1);
  assert.equal(body.scores.http.answered, 1);
  // Replaying the pre-answer cookie: the documented trade-off of cookie mode.
  const replay = await me(t, before);
  assert.deepEqual(replay.body.scores, {});
  // No session state in KV: only the hit counter and the instructors' statistics.
  const stats = /^\["(stats|quiz_stats|results)",/;
  assert.deepEqual(
    (await keysOf(t.kv)).filter((k) => !stats.test(k)),
    ['["hits"]'],
  );
});

Deno.test("cookie mode: tampered, truncated, re-ordered, foreign and garbage cookies start a new session", async () => {
  await using t = await testApp(COOKIE_MODE);
  const first = await me(t);
  const good = cookieFrom(first.res)!;
  const kept = await answer(t, good, "safe-methods", 2);
  const pair = cookieFrom(kept.res)!;
  const value = pair.slice("sessionId=".length);
  const [v, kid, iv, sealed] = value.split(".");
  const flip = (s: string, i: number) =>
    s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  const foreign = await createCookieCodec({
    secrets: [SECRET_B],
    context: "sessionId",
  });
  const otherContext = await createCookieCodec({
    secrets: [SECRET_A],
    context: "otherName",
  });
  const stolenPayload = {
    sid: crypto.randomUUID(),
    record: {
      createdAt: t.clock.now(),
      lastSeenAt: t.clock.now(),
      user: "admin",
      csrf: "x",
      data: {},
    },
    visits: 100,
  };
  const bad = [
    `${v}.${kid}.${iv}.${flip(sealed, 5)}`,
    `${v}.${kid}.${iv}.${flip(sealed, sealed.length - 2)}`,
    `${v}.${kid}.${flip(iv, 0)}.${sealed}`,
    `${v}.${kid}.${iv}.${sealed.slice(0, -4)}`,
    value.slice(0, 40),
    `${v}.${kid}.${sealed}.${iv}`,
    `v2.${kid}.${iv}.${sealed}`,
    await foreign.seal(stolenPayload, t.clock.now() + 60_000),
    await otherContext.seal(stolenPayload, t.clock.now() + 60_000),
    crypto.randomUUID(),
    "",
    "%00%ff",
  ];
  for (const forged of bad) {
    const { res, body } = await me(t, `sessionId=${forged}`);
    assert.equal(res.status, 200, forged);
    assert.equal(body.visits, 1, forged);
    assert.equal(body.user, null, forged);
    assert.deepEqual(body.scores, {}, forged);
    const issued = idFrom(res);
    assert.ok(issued && issued !== forged, forged);
  }
  // The genuine cookie still works afterwards.
  const again = await me(t, pair);
  assert.equal(again.body.visits, 3);
  assert.equal(again.body.scores.http.score, 1);
});

Deno.test("cookie mode: of duplicate cookies the first that opens is used", async () => {
  await using t = await testApp(COOKIE_MODE);
  const first = await me(t);
  const pair = cookieFrom(first.res)!;
  const { body } = await me(t, `sessionId=v1.garbage; ${pair}`);
  assert.equal(body.visits, 2);
});

Deno.test("cookie mode: the idle timeout ends a session (sealed expiry and the record's timestamps)", async () => {
  await using t = await testApp(COOKIE_MODE);
  const first = await me(t);
  let cookie = cookieFrom(first.res)!;
  t.clock.advance(1799);
  const alive = await me(t, cookie);
  assert.equal(alive.body.visits, 2);
  cookie = cookieFrom(alive.res)!;
  t.clock.advance(1800);
  const dead = await me(t, cookie);
  assert.equal(dead.body.visits, 1);
  assert.notEqual(cookieFrom(dead.res), cookie);
});

Deno.test("cookie mode: the absolute timeout ends a session however active, and Max-Age shrinks before it", async () => {
  await using t = await testApp({
    ...COOKIE_MODE,
    idleTimeout: 1800,
    absoluteTimeout: 3600,
  });
  let cookie = cookieFrom((await me(t)).res)!;
  for (let n = 2; n <= 4; n++) {
    t.clock.advance(1000);
    const { res, body } = await me(t, cookie);
    assert.equal(body.visits, n);
    cookie = cookieFrom(res)!;
    if (n === 4) {
      // 3000 s in: 600 s left before the absolute deadline.
      assert.match(setCookies(res)[0], /; Max-Age=600;/);
    }
  }
  t.clock.advance(600);
  const dead = await me(t, cookie);
  assert.equal(dead.body.visits, 1);
});

Deno.test("cookie mode: SESSION_SECRET=new,old opens old cookies and re-issues them under the new key", async () => {
  const clock = fakeClock();
  await using before = await testApp({ mode: "cookie", secrets: [SECRET_A] }, {
    clock,
  });
  const old = cookieFrom((await me(before)).res)!;
  await using rotated = await testApp({
    mode: "cookie",
    secrets: [SECRET_B, SECRET_A],
  }, { clock });
  await using only = await testApp({ mode: "cookie", secrets: [SECRET_B] }, {
    clock,
  });
  const reissuedRes = await me(rotated, old);
  assert.equal(reissuedRes.body.visits, 2);
  const reissued = cookieFrom(reissuedRes.res)!;
  assert.notEqual(kidOf(reissued), kidOf(old));
  // A cookie under the new key opens where only the new secret is left...
  assert.equal((await me(only, reissued)).body.visits, 3);
  // ...and one that never came back while both were configured does not.
  assert.equal((await me(only, old)).body.visits, 1);
});

Deno.test("cookie mode: POST /api/forget clears the cookie with Max-Age=0 and the old cookie stops working", async () => {
  await using t = await testApp(COOKIE_MODE);
  const cookie = cookieFrom((await me(t)).res)!;
  const res = await t.request("/api/forget", { method: "POST", cookie });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual(setCookies(res), [
    "sessionId=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
  ]);
  const handle = await t.kv.get(
    cookieRevokedKey(await handleOf(cookie, COOKIE_MODE.secrets!)),
  );
  assert.notEqual(handle.value, null);
  const replay = await me(t, cookie);
  assert.equal(replay.body.visits, 1);
});

/** The handle of a cookie's session (the test opens it with the same secrets). */
async function handleOf(pair: string, secrets: string[], name = "sessionId") {
  const codec = await createCookieCodec({ secrets, context: name });
  const opened = await codec.open<{ sid: string }>(
    pair.slice(pair.indexOf("=") + 1),
    0,
  );
  assert.ok(opened);
  return await sha256Hex(opened.payload.sid);
}

Deno.test("cookie mode: with KV getMany failing the app answers 503 without Set-Cookie, then recovers", async () => {
  let spy: KvSpy | undefined;
  await using t = await testApp(COOKIE_MODE, {
    wrapKv: (kv) => (spy = spyKv(kv)).kv,
  });
  const cookie = cookieFrom((await me(t)).res)!;
  // Past what the app remembers (the hit counter, revocations): each request reads.
  t.clock.advance(KNOWN_TTL_MS / 1000);
  spy!.fail("getMany", Infinity);
  for (const c of [undefined, cookie]) {
    const res = await t.request("/api/me", { cookie: c });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "2");
    assert.deepEqual(sessionSetCookies(res), []);
    await res.body?.cancel();
  }
  spy!.heal();
  assert.equal((await me(t, cookie)).body.visits, 2);
});

Deno.test("cookie mode: a failing hit commit answers 503 without Set-Cookie", async () => {
  let spy: KvSpy | undefined;
  await using t = await testApp(COOKIE_MODE, {
    wrapKv: (kv) => (spy = spyKv(kv)).kv,
  });
  const cookie = cookieFrom((await me(t)).res)!;
  spy!.fail("commit", Infinity);
  const res = await t.request("/api/me", { cookie });
  assert.equal(res.status, 503);
  assert.deepEqual(sessionSetCookies(res), []);
  await res.body?.cancel();
  spy!.heal();
  assert.equal((await me(t, cookie)).body.visits, 2);
});

Deno.test("cookie mode: a GET costs one commit that checks the cookie is not revoked, and a read once the memory is a second old", async () => {
  let spy: KvSpy | undefined;
  await using t = await testApp(COOKIE_MODE, {
    wrapKv: (kv) => (spy = spyKv(kv)).kv,
  });
  const cookie = cookieFrom((await me(t)).res)!;
  const handle = await handleOf(cookie, COOKIE_MODE.secrets!);
  const ops = async () => {
    const before = { ...spy!.calls };
    spy!.reads.length = 0;
    await me(t, cookie);
    const delta = (m: string) => (spy!.calls[m] ?? 0) - (before[m] ?? 0);
    return {
      getMany: delta("getMany"),
      get: delta("get"),
      commit: delta("commit"),
    };
  };
  assert.deepEqual(await ops(), { getMany: 0, get: 0, commit: 1 });
  t.clock.advance(KNOWN_TTL_MS / 1000);
  assert.deepEqual(await ops(), { getMany: 1, get: 0, commit: 1 });
  assert.deepEqual(spy!.reads, [[["hits"], ["cookie_revoked", handle]]]);
});

Deno.test("cookie mode: a remembered cookie revoked behind the app's back (another instance) is refused at once", async () => {
  await using t = await testApp(COOKIE_MODE);
  const cookie = cookieFrom((await me(t)).res)!;
  assert.equal((await me(t, cookie)).body.visits, 2);
  // Another instance logs this cookie out: its revocation lands in the shared KV.
  const other = await createApp({
    ...APP_PARTS,
    config: t.config,
    kv: t.kv,
    now: t.clock.now,
    log: () => {},
  });
  const out = await other(
    buildRequest("/api/logout", { method: "POST", cookie }),
  );
  assert.equal(out.status, 200);
  await out.body?.cancel();
  const after = await me(t, cookie);
  assert.equal(after.body.visits, 1, "a fresh session, not the revoked one");
  assert.notEqual(cookieFrom(after.res), null);
});

Deno.test("cookie mode: a missing SESSION_SECRET stops the app at start", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await assert.rejects(
      createApp({
        ...APP_PARTS,
        config: testConfig({ mode: "cookie", secrets: [] }),
        kv,
      }),
      /SESSION_SECRET/,
    );
  } finally {
    kv.close();
  }
});

// --- The store directly: logged-in sessions, rotation, revocation, the size limit ---

interface StoreFixture extends AsyncDisposable {
  kv: Deno.Kv;
  clock: Clock;
  config: Config;
  store: SessionStore;
  /** load → act → finish, like the app; returns the Set-Cookie pair (or null) and the session. */
  visit(
    cookie: string | null,
    act?: (s: Session) => Promise<unknown>,
    count?: boolean,
  ): Promise<{ session: Session; cookie: string | null; header?: string }>;
}

async function storeFixture(
  overrides: Partial<Config> = {},
): Promise<StoreFixture> {
  const kv = await Deno.openKv(":memory:");
  const clock = fakeClock();
  const config = testConfig({ ...COOKIE_MODE, ...overrides });
  const store = await createCookieSessionStore({
    kv,
    config,
    now: clock.now,
    committer: createGroupCommitter(kv),
  });
  return {
    kv,
    clock,
    config,
    store,
    async visit(cookie, act, count = true) {
      const req = buildRequest("/", { cookie: cookie ?? undefined });
      const { session } = await store.load(req, false, count);
      if (act) await act(session);
      const headers = new Headers();
      await store.finish(session, headers, count);
      const [header] = headers.getSetCookie();
      return {
        session,
        cookie: header ? header.split(";")[0] : null,
        header,
      };
    },
    [Symbol.asyncDispose]: () => Promise.resolve(kv.close()),
  };
}

const logIn = (user: string) => (s: Session) =>
  s.rotate((r) => ({ ...r, user }));

Deno.test("cookie store: a session carries a random sid; its handle is the SHA-256 hex of it", async () => {
  await using f = await storeFixture();
  const { session, cookie } = await f.visit(null);
  assert.ok(session.isNew);
  assert.match(session.handle, /^[0-9a-f]{64}$/);
  assert.equal(await handleOf(cookie!, f.config.secrets), session.handle);
  const codec = await createCookieCodec({
    secrets: f.config.secrets,
    context: "sessionId",
  });
  const opened = await codec.open<{ sid: string; visits: number }>(
    cookie!.slice("sessionId=".length),
    f.clock.now(),
  );
  assert.match(opened!.payload.sid, UUID_V4);
  assert.equal(opened!.payload.visits, 1);
  const again = await f.visit(cookie);
  assert.equal(again.session.isNew, false);
  assert.equal(again.session.handle, session.handle);
  assert.equal(again.session.visits, 2);
});

Deno.test("cookie store: a request that does not count, change or renew sends no cookie", async () => {
  await using f = await storeFixture();
  const { cookie } = await f.visit(null);
  f.clock.advance(1);
  const quiet = await f.visit(cookie, undefined, false);
  assert.equal(quiet.cookie, null);
  const changed = await f.visit(
    cookie,
    (s) => s.update((r) => ({ ...r, data: { flash: "hi" } })),
    false,
  );
  assert.ok(changed.cookie);
  const next = await f.visit(changed.cookie);
  assert.equal(next.session.record.data.flash, "hi");
  // Not counted: the visit count stayed at 1, this one makes 2.
  assert.equal(next.session.visits, 2);
  // Renewal due (a tenth of the idle window): re-issued even when not counted.
  f.clock.advance(200);
  assert.ok((await f.visit(next.cookie, undefined, false)).cookie);
});

Deno.test("cookie store: rotation gives a new sid and csrf token and the pre-rotation cookie stops working", async () => {
  await using f = await storeFixture();
  const anon = await f.visit(
    null,
    (s) => s.update((r) => ({ ...r, data: { likes: ["http/host-header"] } })),
  );
  const loaded = await f.visit(anon.cookie);
  const oldCsrf = loaded.session.record.csrf;
  f.clock.advance(5);
  const alice = await f.visit(anon.cookie, logIn("alice"));
  assert.notEqual(alice.session.handle, anon.session.handle);
  assert.notEqual(alice.session.record.csrf, oldCsrf);
  assert.equal(alice.session.record.createdAt, f.clock.now());
  const back = await f.visit(alice.cookie);
  assert.equal(back.session.record.user, "alice");
  assert.deepEqual(back.session.record.data.likes, ["http/host-header"]);
  // anon (1), alice (2: counted from the anonymous cookie), back (3).
  assert.equal(back.session.visits, 3);
  // The anonymous cookie cannot be replayed.
  const replay = await f.visit(anon.cookie);
  assert.ok(replay.session.isNew);
  assert.equal(replay.session.record.user, null);
});

Deno.test("cookie store: a logged-in cookie replayed after logout is a new anonymous session", async () => {
  await using f = await storeFixture();
  const alice = await f.visit(null, logIn("alice"));
  const stolen = alice.cookie!;
  const used = await f.visit(stolen);
  assert.equal(used.session.record.user, "alice");
  const out = await f.visit(used.cookie, (s) => s.destroy());
  assert.equal(
    out.header,
    "sessionId=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
  );
  for (const c of [stolen, used.cookie]) {
    const replay = await f.visit(c);
    assert.ok(replay.session.isNew);
    assert.equal(replay.session.record.user, null);
  }
  // The revocation entry expires with the session's absolute deadline (plus a margin).
  const entries = await dumpKv(f.kv);
  assert.deepEqual(
    entries.map((e) => e.key[0]).sort(),
    ["cookie_revoked", "hits"],
  );
});

Deno.test("cookie store: destroy then update answers 409; a destroyed new session writes nothing", async () => {
  await using f = await storeFixture();
  await f.visit(null, async (s) => {
    await s.destroy();
    await assert.rejects(
      s.update((r) => r),
      (e) => e instanceof HttpError && e.status === 409,
    );
  }, false);
  assert.deepEqual(await dumpKv(f.kv), []);
});

Deno.test("cookie store: revokeUserCookieSessions ends that user's older cookies, not newer ones or other users'", async () => {
  await using f = await storeFixture();
  const phone = await f.visit(null, logIn("alice"));
  const laptop = await f.visit(null, logIn("alice"));
  const bob = await f.visit(null, logIn("bob"));
  f.clock.advance(10);
  // "Log out everywhere else", from the laptop: revoke, then rotate the current session.
  const kept = await f.visit(laptop.cookie, async (s) => {
    await revokeUserCookieSessions(f.kv, "alice", f.clock.now());
    await s.rotate();
  });
  const stored = await f.kv.get(userValidAfterKey("alice"));
  assert.equal(stored.value, f.clock.now());
  const phoneNow = await f.visit(phone.cookie);
  assert.ok(phoneNow.session.isNew);
  assert.equal(phoneNow.session.record.user, null);
  assert.ok((await f.visit(laptop.cookie)).session.isNew);
  const keptNow = await f.visit(kept.cookie);
  assert.equal(keptNow.session.record.user, "alice");
  assert.equal(keptNow.session.isNew, false);
  assert.equal((await f.visit(bob.cookie)).session.record.user, "bob");
  // A later login is not affected.
  f.clock.advance(1);
  const later = await f.visit(null, logIn("alice"));
  assert.equal((await f.visit(later.cookie)).session.record.user, "alice");
});

Deno.test("cookie store: revokeCookieSession ends one session by its handle; garbage in user_valid_after fails closed", async () => {
  await using f = await storeFixture();
  const a = await f.visit(null);
  const alice = await f.visit(null, logIn("alice"));
  await revokeCookieSession(f.kv, a.session.handle, f.config, f.clock.now());
  assert.ok((await f.visit(a.cookie)).session.isNew);
  await f.kv.set(userValidAfterKey("alice"), "not a number");
  assert.ok((await f.visit(alice.cookie)).session.isNew);
});

Deno.test("cookie store: a session too large for a cookie gets 413 and the previous cookie keeps everything", async () => {
  await using f = await storeFixture();
  const small = await f.visit(
    null,
    (s) => s.update((r) => ({ ...r, data: { flash: "kept" } })),
  );
  await assert.rejects(
    f.visit(
      small.cookie,
      (s) => s.update((r) => ({ ...r, data: { flash: "x".repeat(4000) } })),
    ),
    (e) =>
      e instanceof HttpError && e.status === 413 &&
      /too large for a cookie/.test(e.message),
  );
  // Nothing counted for the refused request: only the first visit's hit.
  assert.equal(await counter(f.kv, ["hits"]), 1);
  const after = await f.visit(small.cookie);
  assert.equal(after.session.record.data.flash, "kept");
  assert.equal(after.session.visits, 2);
});

Deno.test("cookie store: a rotation refused for size revokes nothing", async () => {
  await using f = await storeFixture();
  const big = await f.visit(
    null,
    (s) => s.update((r) => ({ ...r, data: { flash: "x".repeat(2400) } })),
  );
  assert.ok(big.cookie);
  await assert.rejects(
    f.visit(big.cookie, logIn("a".repeat(400))),
    (e) => e instanceof HttpError && e.status === 413,
  );
  const after = await f.visit(big.cookie);
  assert.equal(after.session.isNew, false);
  assert.equal(after.session.record.user, null);
});

/** A bank with long question ids, so likes fill the cookie quickly. */
function bigBank(): Quiz[] {
  return [{
    id: "big",
    title: "Big",
    description: "Many questions",
    questions: Array.from({ length: 200 }, (_, i) => ({
      id: `q-${String(i).padStart(3, "0")}-${"x".repeat(33)}`,
      text: `Question ${i}?`,
      choices: ["a", "b", "c"],
      choiceIds: ["aaaaaaaa", "bbbbbbbb", "cccccccc"],
      correct: 0,
      explanation: "Because.",
    })),
  }];
}

Deno.test("cookie mode: liking questions until the cookie is full gives a clear 413 and loses nothing", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const bank = bigBank();
    const app = await createApp({
      ...APP_PARTS,
      config: testConfig(COOKIE_MODE),
      kv,
      now: fakeClock().now,
      bank,
      log: () => {},
    });
    const get = (path: string, cookie: string) =>
      app(buildRequest(path, { cookie }));
    const page = await app(buildRequest("/quiz/big"));
    let cookie = cookieFrom(page)!;
    const csrf = csrfFrom(await page.text());
    let liked = 0;
    let refused: Response | undefined;
    for (const question of bank[0].questions) {
      const res = await app(buildRequest("/likes", {
        method: "POST",
        cookie,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          _csrf: csrf,
          item: `big/${question.id}`,
          back: "/likes",
        }),
      }));
      if (res.status !== 303) {
        refused = res;
        break;
      }
      await res.body?.cancel();
      cookie = cookieFrom(res)!;
      liked++;
    }
    assert.ok(refused, "the cookie never filled up");
    assert.ok(liked > 10, `only ${liked} likes fitted`);
    assert.equal(refused.status, 413);
    assert.deepEqual(sessionSetCookies(refused), []);
    assert.match(await refused.text(), /too large for a cookie/);
    const likes = await get("/likes", cookie);
    assert.equal(likes.status, 200);
    const html = await likes.text();
    assert.equal(html.match(/data-testid="liked"/g)?.length, liked);
  } finally {
    kv.close();
  }
});

Deno.test("cookie mode (trade-off): concurrent requests of one cookie each count from the same visit", async () => {
  await using t = await testApp(COOKIE_MODE);
  const cookie = cookieFrom((await me(t)).res)!;
  const [a, b] = await Promise.all([me(t, cookie), me(t, cookie)]);
  // Both saw visit 2; the hit counter, in KV, stays exact.
  assert.deepEqual([a.body.visits, b.body.visits], [2, 2]);
  assert.equal((await me(t, cookieFrom(b.res)!)).body.hits, 4);
});
