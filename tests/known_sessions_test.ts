/**
 * Sessions served from memory (lib/sessions/memory.ts, lib/sessions/kv_store.ts): a GET of a
 * session this process saw less than a second ago reads nothing, and its commit checks
 * that the stored session is unchanged. Whatever changes it behind the app's back (another
 * process, the sessions task, an admin) is seen at once, never served stale.
 */
import assert from "node:assert/strict";
import { createApp } from "../lib/server/app.ts";
import { sha256Hex } from "../lib/base/crypto.ts";
import {
  type BlindWrite,
  createGroupCommitter,
  StaleRead,
} from "../lib/sessions/group_commit.ts";
import {
  KNOWN_TTL_MS,
  KnownSessions,
  MAX_KNOWN,
} from "../lib/sessions/memory.ts";
import {
  HANDLES_KEPT,
  HITS_KEY,
  SessionHandles,
} from "../lib/sessions/session.ts";
import { endSession } from "../lib/sessions/kv_store.ts";
import {
  APP_PARTS,
  buildRequest,
  cookieFrom,
  counter,
  type KvSpy,
  spyKv,
  testApp,
} from "./helpers.ts";

/** The session id in a `name=value` cookie pair. */
const idOf = (pair: string | null) => pair?.slice(pair.indexOf("=") + 1);

const JSON_POST = (body: unknown, cookie?: string) => ({
  method: "POST",
  cookie,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

async function me(
  app: (req: Request) => Promise<Response>,
  cookie: string,
) {
  const res = await app(buildRequest("/api/me", { cookie }));
  assert.equal(res.status, 200);
  return { body: await res.json(), cookie: cookieFrom(res) };
}

Deno.test("a remembered session's page view reads nothing from the store and still counts exactly", async () => {
  let spy!: KvSpy;
  await using t = await testApp({}, { wrapKv: (kv) => (spy = spyKv(kv)).kv });
  const first = await t.request("/api/me");
  await first.body?.cancel();
  const cookie = cookieFrom(first)!;
  const reads = () => (spy.calls.getMany ?? 0) + (spy.calls.get ?? 0);
  const before = reads();
  for (let i = 2; i <= 6; i++) {
    const { body, cookie: set } = await me(t.app, cookie);
    assert.equal(body.visits, i);
    assert.equal(body.hits, i);
    assert.equal(set, null, "the same session, no new cookie");
  }
  assert.equal(reads(), before, "no reads");
  assert.equal(await counter(t.kv, HITS_KEY), 6);
  // Past the memory's second: read again, same counts.
  t.clock.advance(KNOWN_TTL_MS / 1000);
  assert.equal((await me(t.app, cookie)).body.visits, 7);
  assert.equal(reads(), before + 1);
});

Deno.test("a first visit just after another request reads nothing: the hit counter is remembered", async () => {
  let spy!: KvSpy;
  await using t = await testApp({}, { wrapKv: (kv) => (spy = spyKv(kv)).kv });
  const first = await t.request("/api/me");
  await first.body?.cancel();
  const reads = () => (spy.calls.getMany ?? 0) + (spy.calls.get ?? 0);
  const before = reads();
  const second = await t.request("/api/me");
  assert.ok(cookieFrom(second), "a new session");
  assert.equal((await second.json()).hits, 2);
  assert.equal(reads(), before);
  assert.equal(await counter(t.kv, HITS_KEY), 2);
  // The new session is remembered too: its next view reads nothing either.
  const third = await me(t.app, cookieFrom(second)!);
  assert.equal(third.body.visits, 2);
  assert.equal(third.body.hits, 3);
  assert.equal(reads(), before);
});

Deno.test("a remembered session ended behind the app's back (another process, the sessions task) is never adopted", async () => {
  await using t = await testApp();
  const first = await t.request("/api/me");
  await first.body?.cancel();
  const cookie = cookieFrom(first)!;
  assert.equal((await me(t.app, cookie)).body.visits, 2);
  // As `deno task sessions --revoke` or a second server on the same file would do it.
  assert.ok(await endSession(t.kv, sha256Hex(idOf(cookie)!)));
  const after = await me(t.app, cookie);
  assert.ok(after.cookie, "a fresh session is issued");
  assert.notEqual(idOf(after.cookie), idOf(cookie));
  assert.equal(after.body.visits, 1);
  assert.equal(await counter(t.kv, HITS_KEY), 3);
});

Deno.test("two apps on one store: a logout or an answer in one is seen at once by the other", async () => {
  await using t = await testApp();
  const other = await createApp({
    ...APP_PARTS,
    config: t.config,
    kv: t.kv,
    now: t.clock.now,
    log: () => {},
  });
  // An anonymous visitor's answer through the other app: this one shows it at once.
  const first = await t.request("/api/me");
  await first.body?.cancel();
  const anon = cookieFrom(first)!;
  assert.deepEqual((await me(t.app, anon)).body.scores, {});
  const quiz = await (await t.request("/api/quizzes/http", { cookie: anon }))
    .json();
  const answer = await other(buildRequest(
    "/api/quizzes/http/answers",
    JSON_POST({ questionId: quiz.questions[0].id, choice: 0 }, anon),
  ));
  assert.equal(answer.status, 200);
  await answer.body?.cancel();
  assert.equal((await me(t.app, anon)).body.scores.http.answered, 1);

  const reg = await t.request(
    "/api/register",
    JSON_POST({ username: "alice", password: "correct horse battery" }),
  );
  assert.equal(reg.status, 200);
  await reg.body?.cancel();
  const alice = cookieFrom(reg)!;
  assert.deepEqual((await me(t.app, alice)).body.user, { username: "alice" });
  assert.deepEqual((await me(t.app, alice)).body.user, { username: "alice" });

  // A logout through the other app: this one no longer knows alice by that cookie.
  const out = await other(
    buildRequest("/api/logout", { method: "POST", cookie: alice }),
  );
  assert.equal(out.status, 200);
  await out.body?.cancel();
  const after = await me(t.app, alice);
  assert.equal(after.body.user, null);
  assert.ok(after.cookie);
  assert.notEqual(idOf(after.cookie), idOf(alice));
});

Deno.test("reads failing: a remembered session is served (its commit verifies it); one ended meanwhile gets 503, not a page", async () => {
  let spy!: KvSpy;
  await using t = await testApp({}, { wrapKv: (kv) => (spy = spyKv(kv)).kv });
  const first = await t.request("/api/me");
  await first.body?.cancel();
  const cookie = cookieFrom(first)!;
  spy.fail("getMany", Infinity);
  spy.fail("get", Infinity);
  assert.equal((await me(t.app, cookie)).body.visits, 2);
  await endSession(t.kv, sha256Hex(idOf(cookie)!));
  const res = await t.request("/api/me", { cookie });
  assert.equal(res.status, 503);
  assert.deepEqual(res.headers.getSetCookie(), []);
  await res.body?.cancel();
  spy.heal();
  assert.equal(await counter(t.kv, HITS_KEY), 2, "the 503 was not counted");
});

Deno.test("an error answer from memory is not counted, and its retry from a fresh read is not counted either", async () => {
  await using t = await testApp();
  const first = await t.request("/api/me");
  await first.body?.cancel();
  const cookie = cookieFrom(first)!;
  const missing = await t.request("/api/quizzes/nope", { cookie });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  assert.equal((await me(t.app, cookie)).body.visits, 2);
  assert.equal(await counter(t.kv, HITS_KEY), 2);
});

Deno.test("group commit: a failed check refuses only its own writer; the others land", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const committer = createGroupCommitter(kv);
    const { versionstamp } = await kv.set(["session"], "v1");
    const sum: BlindWrite = { kind: "sum", key: ["hits"], n: 1n };
    // Same tick: one batch. The first check holds, the second does not.
    const ok = committer.write([sum], [{ key: ["session"], versionstamp }]);
    const stale = committer.write([sum], [{
      key: ["session"],
      versionstamp: "00000000000000000000",
    }]);
    const blind = committer.write([sum]);
    await assert.rejects(stale, StaleRead);
    assert.match((await ok)!, /^[0-9a-f]{20}$/);
    assert.match((await blind)!, /^[0-9a-f]{20}$/);
    assert.equal(await counter(kv, ["hits"]), 2);
    assert.equal(committer.stats().staleCommits, 1);
  } finally {
    kv.close();
  }
});

Deno.test("group commit: two checked writes of one key never share a commit, so neither is lost", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const committer = createGroupCommitter(kv);
    const { versionstamp } = await kv.set(["session"], "v1");
    const write = (value: string) =>
      committer.write(
        [{ kind: "set", key: ["session"], value }],
        [{ key: ["session"], versionstamp }],
      );
    // Both read v1: the first lands, the second must be refused, not silently overwrite.
    const [a, b] = await Promise.allSettled([write("a"), write("b")]);
    assert.equal(a.status, "fulfilled");
    assert.equal(b.status, "rejected");
    assert.ok((b as PromiseRejectedResult).reason instanceof StaleRead);
    assert.equal((await kv.get(["session"])).value, "a");
    // Alone, a check that holds lands, and the commit's versionstamp comes back.
    const { versionstamp: now } = await kv.get(["session"]);
    const again = await committer.write(
      [{ kind: "set", key: ["session"], value: "c" }],
      [{ key: ["session"], versionstamp: now! }],
    );
    assert.equal((await kv.get(["session"])).versionstamp, again);
  } finally {
    kv.close();
  }
});

/** A session record for the memory's own tests (its content does not matter to them). */
const RECORD = {
  createdAt: 0,
  lastSeenAt: 0,
  user: null,
  csrf: "x",
  data: {},
};

Deno.test("what is remembered is bounded and forgotten after its second", () => {
  const known = new KnownSessions();
  for (let i = 0; i <= MAX_KNOWN; i++) {
    known.remember(`h${i}`, {
      record: RECORD,
      versionstamp: "v",
      visits: 1,
      visitsVersionstamp: null,
      at: 0,
    });
  }
  assert.ok(known.size <= MAX_KNOWN && known.size >= MAX_KNOWN / 2);
  assert.equal(known.session("h0", 0), undefined, "the oldest went first");
  assert.ok(known.session(`h${MAX_KNOWN}`, KNOWN_TTL_MS - 1));
  assert.equal(known.session(`h${MAX_KNOWN}`, KNOWN_TTL_MS), undefined);
  assert.equal(
    known.session(`h${MAX_KNOWN - 1}`, -1),
    undefined,
    "a clock that went back",
  );
  known.rememberHits(5, null, 0, []);
  known.landed({ versionstamp: "01", hit: true, handle: null });
  assert.equal(known.hits(10), 6);
  assert.equal(known.hits(KNOWN_TTL_MS), undefined);
});

Deno.test("a session's handle is the SHA-256 of its id, whether remembered or not", () => {
  const handles = new SessionHandles();
  const ids = Array.from(
    { length: HANDLES_KEPT + 2 },
    () => crypto.randomUUID(),
  );
  // Twice over more ids than are kept: the second round finds some remembered, some not.
  for (let round = 0; round < 2; round++) {
    for (const id of ids) assert.equal(handles.of(id), sha256Hex(id));
  }
  // A cookie value has a handle only if it is a session id, remembered or not.
  assert.equal(handles.ofCookieValue(ids[0]), sha256Hex(ids[0]));
  const unseen = crypto.randomUUID();
  assert.equal(handles.ofCookieValue(unseen), sha256Hex(unseen));
  for (
    const value of [
      "",
      ids[0].toUpperCase(),
      ids[0] + " ",
      "00000000-0000-0000-0000-000000000000",
      "constructor",
      "__proto__",
    ]
  ) {
    assert.equal(handles.ofCookieValue(value), undefined, value);
  }
});

Deno.test("counts that land while a read is in flight are added to it exactly once, by versionstamp", async () => {
  const known = new KnownSessions();
  const v = (n: number) => n.toString(16).padStart(20, "0");
  known.rememberHits(10, null, 0, []);
  let answer!: (entries: Deno.KvEntryMaybe<unknown>[]) => void;
  const reading = known.read(
    () => new Promise((resolve) => (answer = resolve)),
    0,
    (_entries, hits, landed) => {
      const visits = known.remember("a", {
        record: RECORD,
        versionstamp: v(5),
        visits: 1,
        visitsVersionstamp: v(12),
        at: 0,
      }, landed);
      return { hits, visits };
    },
  );
  // Its snapshot, taken now, holds everything up to v(20): the hit counter at v(12).
  known.landed({ versionstamp: v(12), hit: true, handle: "a" }); // in the snapshot
  known.landed({ versionstamp: v(21), hit: true, handle: "a" }); // not in it
  known.landed({ versionstamp: v(22), hit: true, handle: "b" }); // not in it
  assert.equal(known.hits(0), 13, "the old memory counted all three");
  answer([{
    key: HITS_KEY,
    value: new Deno.KvU64(11n),
    versionstamp: v(12),
  }]);
  assert.deepEqual(await reading, { hits: 13, visits: 2 });
  assert.equal(known.hits(0), 13);
  // A landing answered late but committed before the snapshot is not counted again.
  known.landed({ versionstamp: v(11), hit: true, handle: "a" });
  known.landed({ versionstamp: v(23), hit: true, handle: "a" });
  assert.equal(known.hits(0), 14);
  assert.equal(known.session("a", 0)?.visits, 3);
  // With no read in flight nothing is logged: a read begun now sees only what follows.
  const landed = await known.read(
    () => Promise.resolve([{ key: HITS_KEY, value: null, versionstamp: null }]),
    0,
    (_entries, _hits, landed) => landed,
  );
  assert.deepEqual(landed, []);
});

/** A KV whose next getMany takes its snapshot at once but answers only on release(). */
function holdingKv(real: Deno.Kv) {
  let armed = false;
  let release = () => {};
  const kv = new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop !== "getMany") return value.bind(target);
      return async (...args: unknown[]) => {
        const entries = await value.apply(target, args);
        if (armed) {
          armed = false;
          await new Promise<void>((resolve) => (release = resolve));
        }
        return entries;
      };
    },
  });
  return { kv, arm: () => void (armed = true), release: () => release() };
}

Deno.test("a read answered after another request's count landed does not hide that count", async () => {
  let hold!: ReturnType<typeof holdingKv>;
  await using t = await testApp({}, {
    wrapKv: (kv) => (hold = holdingKv(kv)).kv,
  });
  const a = cookieFrom(await t.request("/api/me"))!;
  const b = cookieFrom(await t.request("/api/me"))!;
  // Both sessions and the hit counter are read afresh by the next requests.
  t.clock.advance(KNOWN_TTL_MS / 1000);
  hold.arm();
  const slow = t.app(buildRequest("/api/me", { cookie: a })); // snapshot now, answer later
  await new Promise((resolve) => setTimeout(resolve, 20));
  // Meanwhile b's read, commit and count land; a's snapshot does not hold that hit.
  assert.equal((await me(t.app, b)).body.hits, 3);
  hold.release();
  assert.equal((await (await slow).json()).hits, 4, "a's page counts b's hit");
  const stored = await counter(t.kv, HITS_KEY);
  assert.equal(stored, 4);
  // What is remembered now is the store's count: the next page shows it plus itself.
  assert.equal((await me(t.app, b)).body.hits, stored + 1);
  assert.equal((await me(t.app, a)).body.visits, 3);
});
