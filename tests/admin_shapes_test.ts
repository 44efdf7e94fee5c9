/**
 * Bad input through the admin KV API and bad values in the store: keys past Deno KV's 2 KiB
 * limit, values of the wrong shape for the app's own key families, and readers meeting
 * malformed stored values. All are clear 4xx or read as empty, never a 5xx.
 */
import assert from "node:assert/strict";
import { HITS_KEY } from "../lib/sessions/session.ts";
import { sessionKey } from "../lib/sessions/kv_store.ts";
import { userKey } from "../lib/accounts/records.ts";
import {
  ADMIN_TOKEN,
  type RequestOptions,
  spyKv,
  type TestApp,
  testApp,
  Visitor,
} from "./helpers.ts";

const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function admin(t: TestApp, path: string, init: RequestOptions = {}) {
  const res = await t.request(path, {
    ...init,
    headers: { ...AUTH, ...init.headers as Record<string, string> },
  });
  return { status: res.status, body: await res.json() };
}

function post(value: unknown): RequestOptions {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(value),
  };
}

const LONG = "k".repeat(2100);

Deno.test("an admin KV key over the store's 2 KiB limit gets a 400 saying so, for every method", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const calls: [string, RequestOptions][] = [
    [`/admin/kv/notes/${LONG}`, {}],
    [`/admin/kv/notes/${LONG}`, { method: "DELETE" }],
    ["/admin/kv", post({ [`notes/${LONG}`]: 1 })],
    [`/admin/kv?prefix=notes/${LONG}`, {}],
    // Multi-byte characters count by their UTF-8 bytes: 1,100 "é" are 2,200 bytes.
    [`/admin/kv/notes/${encodeURIComponent("é".repeat(1100))}`, {}],
  ];
  for (const [path, init] of calls) {
    const { status, body } = await admin(t, path, init);
    assert.equal(status, 400, `${init.method ?? "GET"} ${path.slice(0, 40)}`);
    assert.match(body.error, /key is too long.*2048/);
  }
  // Just under the limit still works.
  const fits = `notes/${"k".repeat(2048 - 7 - 2)}`;
  assert.equal((await admin(t, "/admin/kv", post({ [fits]: 1 }))).status, 200);
  assert.equal((await admin(t, `/admin/kv/${fits}`)).status, 200);
});

const HANDLE = "a".repeat(64);
const RECORD = {
  createdAt: 1,
  lastSeenAt: 1,
  user: null,
  csrf: "x",
  data: {},
};
const USER = {
  username: "alice",
  passwordHash: "h",
  createdAt: 1,
  data: {},
  history: [],
};

const wrong: [string, unknown][] = [
  ["hits", "12"],
  ["hits", 12],
  ["hits", { $u64: "x" }],
  [`visits/${HANDLE}`, "3"],
  [`sessions/${HANDLE}`, "garbage"],
  [`sessions/${HANDLE}`, { ...RECORD, csrf: 1 }],
  [`sessions/${HANDLE}`, { ...RECORD, data: { likes: "q/1" } }],
  [`sessions/${HANDLE}`, { ...RECORD, data: { quizzes: { q: "x" } } }],
  [`sessions/${HANDLE}/extra`, RECORD],
  ["users/alice", { ...USER, history: "none" }],
  ["users/alice", { ...USER, data: { likes: [1] } }],
  ["users/alice", { ...USER, username: "bob" }],
  ["users/alice", 42],
  [`user_sessions/alice/${HANDLE}`, { createdAt: "1", lastSeenAt: 1 }],
  [`cookie_revoked/${HANDLE}`, "yesterday"],
  ["user_valid_after/alice", null],
  ["throttle/login/account/alice", { count: 1, windowStart: 1 }],
  ["throttle/login/address/192.0.2.1", { failures: 1 }],
  ["throttle/nope/address/192.0.2.1", { count: 1, windowStart: 1 }],
];

Deno.test("the admin API refuses, naming the key, a value the app could not read back, and takes a well-shaped one", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  for (const [key, value] of wrong) {
    const { status, body } = await admin(
      t,
      "/admin/kv",
      post({ [key]: value }),
    );
    assert.equal(status, 400, `${key} = ${JSON.stringify(value)}`);
    assert.ok(body.error.startsWith(key), body.error);
    assert.equal((await t.kv.get(key.split("/"))).versionstamp, null, key);
  }
  const right: [string, unknown][] = [
    ["hits", { $u64: "12" }],
    [`visits/${HANDLE}`, { $u64: "3" }],
    [`sessions/${HANDLE}`, {
      ...RECORD,
      data: { likes: ["q/1"], quizzes: { q: { answers: { a: 1 } } } },
    }],
    ["users/alice", {
      ...USER,
      history: [{ quizId: "q", score: 1, total: 2, at: 3 }],
    }],
    [`user_sessions/alice/${HANDLE}`, { createdAt: 1, lastSeenAt: 2 }],
    [`cookie_revoked/${HANDLE}`, 5],
    ["user_valid_after/alice", 5],
    ["throttle/login/account/alice", { failures: 1, lastFailureAt: 1 }],
    ["throttle/admin/address/192.0.2.1", { count: 1, windowStart: 1 }],
    ["notes/x", "anything"],
    ["hitsx", "free-form"],
  ];
  for (const [key, value] of right) {
    const { status, body } = await admin(
      t,
      "/admin/kv",
      post({ [key]: value }),
    );
    assert.equal(status, 200, `${key}: ${JSON.stringify(body)}`);
  }
});

Deno.test("a malformed likes list in a visitor's session reads as no likes, logged once", async () => {
  await using t = await testApp();
  const v = new Visitor(t);
  await v.page("/");
  const key = sessionKey(await v.handle());
  const stored = await t.kv.get<typeof RECORD>(key);
  const data = { likes: "q/1", quizzes: { q: 7 } };
  await t.kv.set(key, { ...stored.value!, data });
  for (const path of ["/likes", "/likes", "/", "/api/me"]) {
    const res = await v.fetch(path);
    await res.body?.cancel();
    assert.equal(res.status, 200, path);
  }
  const reports = t.logs.filter((l) => l.includes("malformed likes"));
  assert.equal(reports.length, 1, t.logs.join("\n"));
});

Deno.test("a malformed user record reads as empty progress, likes and history, not a 500", async () => {
  await using t = await testApp();
  const v = new Visitor(t);
  await v.page("/register");
  const res = await v.form("/register", {
    username: "alice",
    password: "correct horse battery",
  });
  assert.equal(res.status, 303);
  const stored = await t.kv.get<typeof USER>(userKey("alice"));
  await t.kv.set(userKey("alice"), {
    ...stored.value!,
    data: { likes: 3, quizzes: [] },
    history: "lost",
  });
  for (const path of ["/likes", "/account", "/", "/api/me"]) {
    const page = await v.fetch(path);
    await page.body?.cancel();
    assert.equal(page.status, 200, path);
  }
});

Deno.test("a string stored under hits fails a counted page at once, without four commits in a row", async () => {
  let spy!: ReturnType<typeof spyKv>;
  await using t = await testApp({}, {
    wrapKv: (kv) => (spy = spyKv(kv)).kv,
  });
  await t.kv.set(HITS_KEY, "12");
  const before = spy.calls.commit ?? 0;
  const res = await t.request("/");
  await res.body?.cancel();
  assert.equal((spy.calls.commit ?? 0) - before, 1);
  // Not "store unavailable, retry in 2 s": retrying cannot help until the value is fixed.
  assert.equal(res.status, 500);
  assert.equal(res.headers.get("retry-after"), null);
});
