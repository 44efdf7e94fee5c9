/** The bearer-token admin API: /admin/kv and /admin/sessions. */
import assert from "node:assert/strict";
import { sha256Hex } from "../lib/base/crypto.ts";
import { HITS_KEY } from "../lib/sessions/session.ts";
import { sessionKey } from "../lib/sessions/kv_store.ts";
import {
  ADMIN_TOKEN,
  cookieFrom,
  idFrom,
  type RequestOptions,
  type TestApp,
  testApp,
} from "./helpers.ts";

const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** An authorised admin call, answering its status and parsed JSON body. */
async function admin(
  t: TestApp,
  path: string,
  init: RequestOptions = {},
): Promise<{ status: number; body: Record<string, unknown>; res: Response }> {
  const res = await t.request(path, {
    ...init,
    headers: { ...AUTH, ...init.headers as Record<string, string> },
  });
  const body = await res.json();
  return { status: res.status, body, res };
}

function post(value: unknown): RequestOptions {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(value),
  };
}

/** A new visitor's session id, created through the app. */
async function newVisitor(t: TestApp): Promise<string> {
  const res = await t.request("/api/me");
  await res.body?.cancel();
  return idFrom(res)!;
}

async function fill(kv: Deno.Kv, prefix: string, n: number) {
  for (let i = 0; i < n; i += 100) {
    const atomic = kv.atomic();
    for (let j = i; j < Math.min(n, i + 100); j++) {
      atomic.set([prefix, String(j).padStart(5, "0")], j);
    }
    await atomic.commit();
  }
}

const HANDLE = "a".repeat(64);

Deno.test("without ADMIN_TOKEN the admin API does not exist: 404 even with a token", async () => {
  await using t = await testApp();
  const attempts: [string, RequestOptions][] = [
    ["/admin/kv", {}],
    ["/admin/kv?prefix=sessions", { headers: AUTH }],
    ["/admin/kv/hits", { headers: AUTH }],
    ["/admin/kv", { ...post({ x: 1 }), headers: AUTH }],
    ["/admin/kv/hits", { method: "DELETE", headers: AUTH }],
    ["/admin/sessions", { headers: AUTH }],
    [`/admin/sessions/${HANDLE}`, { method: "DELETE", headers: AUTH }],
    ["/admin", {}],
    // Wrong methods too: a 405 with Allow would tell that the admin API exists.
    ["/admin/kv", { method: "PUT", headers: AUTH }],
    ["/admin/kv/hits", { method: "POST", headers: AUTH }],
    ["/admin/sessions", { method: "DELETE", headers: AUTH }],
    [`/admin/sessions/${HANDLE}`, { headers: AUTH }],
    ["/admin", { method: "DELETE" }],
    ["/admin/revoke", {}],
  ];
  for (const [path, init] of attempts) {
    const res = await t.request(path, init);
    assert.equal(res.status, 404, `${init.method ?? "GET"} ${path}`);
    assert.equal(res.headers.get("allow"), null);
    await res.body?.cancel();
  }
});

Deno.test("a missing or wrong admin token gets 401", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const wrong: Record<string, string>[] = [
    {},
    { authorization: "Bearer nope" },
    { authorization: `Bearer ${ADMIN_TOKEN}x` },
    { authorization: `Bearer ${ADMIN_TOKEN.slice(1)}` },
    { authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` },
    { authorization: ADMIN_TOKEN },
  ];
  for (const headers of wrong) {
    const res = await t.request("/admin/kv", { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.ok((await res.json()).error);
    t.clock.advance(3600); // stay clear of the throttle
  }
  // The token is only read from the header.
  const query = await t.request(`/admin/kv?token=${ADMIN_TOKEN}`);
  assert.equal(query.status, 401);
  await query.body?.cancel();
});

Deno.test("repeated admin token failures get 429 with Retry-After, then the right token works again", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const bad = { authorization: "Bearer wrong" };
  for (let i = 0; i < 5; i++) {
    const res = await t.request("/admin/kv", { headers: bad });
    assert.equal(res.status, 401, `attempt ${i + 1}`);
    await res.body?.cancel();
  }
  const blocked = await t.request("/admin/kv", { headers: bad });
  assert.equal(blocked.status, 429);
  assert.ok(Number(blocked.headers.get("retry-after")) >= 1);
  await blocked.body?.cancel();
  const evenRight = await t.request("/admin/kv", { headers: AUTH });
  assert.equal(evenRight.status, 429);
  await evenRight.body?.cancel();
  t.clock.advance(Number(blocked.headers.get("retry-after")));
  const { status } = await admin(t, "/admin/kv");
  assert.equal(status, 200);
});

Deno.test("a kv listing's prefix matches whole key parts", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const id = await newVisitor(t);
  const handle = await sha256Hex(id);
  // A second visit: the visit counter row exists from then on.
  await (await t.request("/", { cookie: `sessionId=${id}` })).body?.cancel();
  const { status, body } = await admin(t, "/admin/kv?prefix=sessions");
  assert.equal(status, 200);
  assert.deepEqual(body, { keys: [`sessions/${handle}`], cursor: null });
  assert.deepEqual((await admin(t, "/admin/kv?prefix=sess")).body, {
    keys: [],
    cursor: null,
  });
  assert.deepEqual(
    (await admin(t, `/admin/kv?prefix=sessions/${handle}`)).body.keys,
    [],
    "a prefix lists keys below it, not the key itself",
  );
  const all = (await admin(t, "/admin/kv")).body.keys as string[];
  assert.ok(all.includes("hits"));
  assert.ok(all.includes(`sessions/${handle}`));
  assert.ok(all.includes(`visits/${handle}`));
  assert.ok(!JSON.stringify(all).includes(id));
});

Deno.test("a kv listing's limit is capped at 1000 and must be a number", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  await fill(t.kv, "bulk", 1005);
  const { body } = await admin(t, "/admin/kv?prefix=bulk&limit=5000");
  assert.equal((body.keys as string[]).length, 1000);
  assert.equal(typeof body.cursor, "string");
  const small = await admin(t, "/admin/kv?prefix=bulk&limit=3");
  assert.deepEqual(small.body.keys, ["bulk/00000", "bulk/00001", "bulk/00002"]);
  const byDefault = await admin(t, "/admin/kv?prefix=bulk");
  assert.equal((byDefault.body.keys as string[]).length, 100);
  for (const limit of ["abc", "-1", "1e3", "99999999"]) {
    const { status } = await admin(t, `/admin/kv?prefix=bulk&limit=${limit}`);
    assert.equal(status, 400, limit);
  }
});

Deno.test("cursor paging returns every key exactly once", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  await fill(t.kv, "page", 25);
  const seen: string[] = [];
  let cursor: string | null = "";
  let pages = 0;
  do {
    const query = `/admin/kv?prefix=page&limit=10${
      cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
    }`;
    const { status, body } = await admin(t, query);
    assert.equal(status, 200);
    seen.push(...body.keys as string[]);
    cursor = body.cursor as string | null;
    pages++;
  } while (cursor && pages < 10);
  assert.equal(pages, 3);
  assert.equal(seen.length, 25);
  assert.equal(new Set(seen).size, 25);
  assert.deepEqual(
    seen,
    Array.from({ length: 25 }, (_, i) => `page/${String(i).padStart(5, "0")}`),
  );
});

Deno.test("a bad cursor gets 400", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  await fill(t.kv, "page", 5);
  for (
    const cursor of ["!!!", "a b", "x".repeat(2000), "AA", "_w", "Ag", "a.b"]
  ) {
    const { status, body } = await admin(
      t,
      `/admin/kv?prefix=page&cursor=${encodeURIComponent(cursor)}`,
    );
    assert.equal(status, 400, cursor.slice(0, 20));
    assert.ok(body.error);
  }
});

Deno.test("a cursor, even one crafted or taken from another prefix, never lists outside its prefix", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  await fill(t.kv, "page", 5);
  await fill(t.kv, "zzz", 5);
  const other = await admin(t, "/admin/kv?prefix=zzz&limit=2");
  // Deno KV cursors are base64url key suffixes: well-formed ones only move within the prefix.
  for (const cursor of [other.body.cursor as string, "AAAA", "AjEA", "AnAA"]) {
    const { status, body } = await admin(
      t,
      `/admin/kv?prefix=page&cursor=${encodeURIComponent(cursor)}`,
    );
    if (status === 400) continue;
    assert.equal(status, 200);
    for (const key of body.keys as string[]) {
      assert.ok(key.startsWith("page/"), `${cursor} listed ${key}`);
    }
  }
});

Deno.test("a key with / and % in a part can be set, read and deleted through percent-encoding", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const key = "notes/a%2Fb%25c/d";
  const value = { text: "hello", n: [1, 2] };
  const set = await admin(t, "/admin/kv", post({ [key]: value }));
  assert.equal(set.status, 200);
  assert.deepEqual(set.body, { [key]: value });
  assert.deepEqual((await t.kv.get(["notes", "a/b%c", "d"])).value, value);

  const read = await admin(t, `/admin/kv/${key}`);
  assert.equal(read.status, 200);
  assert.deepEqual(read.body, { [key]: value });
  const listed = await admin(t, "/admin/kv?prefix=notes/a%252Fb%2525c");
  assert.deepEqual(listed.body.keys, [key]);

  const deleted = await admin(t, `/admin/kv/${key}`, { method: "DELETE" });
  assert.equal(deleted.status, 200);
  assert.deepEqual(deleted.body, { [key]: value });
  assert.equal((await t.kv.get(["notes", "a/b%c", "d"])).versionstamp, null);
  assert.equal((await admin(t, `/admin/kv/${key}`)).status, 404);
  assert.equal(
    (await admin(t, `/admin/kv/${key}`, { method: "DELETE" })).status,
    404,
  );
  for (const bad of ["a//b", "a/%zz", "a/%"]) {
    assert.equal((await admin(t, `/admin/kv/${bad}`)).status, 400, bad);
  }
  assert.equal((await admin(t, "/admin/kv", post({ "a//b": 1 }))).status, 400);
  assert.equal(
    (await admin(t, "/admin/kv", post({ a: 1, b: 2 }))).status,
    400,
  );
  assert.equal((await admin(t, "/admin/kv", post({}))).status, 400);
  const notJson = await admin(t, "/admin/kv", {
    method: "POST",
    body: "a=1",
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  assert.equal(notJson.status, 415);
});

Deno.test("KV counters are shown as {$u64: N} and can be written that way", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  for (let i = 0; i < 3; i++) await newVisitor(t);
  const { body } = await admin(t, "/admin/kv/hits");
  assert.deepEqual(body, { hits: { $u64: "3" } });
  const set = await admin(t, "/admin/kv", post({ hits: { $u64: "41" } }));
  assert.deepEqual(set.body, { hits: { $u64: "41" } });
  const stored = await t.kv.get(HITS_KEY);
  assert.ok(stored.value instanceof Deno.KvU64);
  assert.equal(stored.value.value, 41n);
  const me = await t.request("/api/me");
  assert.equal((await me.json()).hits, 42);
});

Deno.test("GET /admin/sessions lists live sessions by handle, never by id", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const ids = [await newVisitor(t), await newVisitor(t)];
  t.clock.advance(1801);
  ids.push(await newVisitor(t)); // the first two are now dead
  const { status, body } = await admin(t, "/admin/sessions");
  assert.equal(status, 200);
  const sessions = body.sessions as Record<string, unknown>[];
  assert.equal(sessions.length, 1);
  const [s] = sessions;
  assert.match(String(s.handle), /^[0-9a-f]{64}$/);
  assert.equal(s.handle, await sha256Hex(ids[2]));
  assert.deepEqual(Object.keys(s).sort(), [
    "createdAt",
    "data",
    "expiresAt",
    "handle",
    "lastSeenAt",
    "user",
  ]);
  assert.equal(s.user, null);
  assert.equal(
    Date.parse(String(s.expiresAt)),
    t.clock.now() + 1800_000,
  );
  assert.equal(body.cursor, null);
  const text = JSON.stringify(body);
  for (const id of ids) assert.ok(!text.includes(id));
});

Deno.test("DELETE /admin/sessions/<handle> ends the session: its cookie then gets a new one", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const id = await newVisitor(t);
  const handle = await sha256Hex(id);
  const ended = await admin(t, `/admin/sessions/${handle}`, {
    method: "DELETE",
  });
  assert.equal(ended.status, 200);
  assert.equal((await t.kv.get(sessionKey(handle))).versionstamp, null);
  assert.ok(t.logs.some((l) => l.includes(handle) && l.includes("admin")));
  assert.ok(!t.logs.some((l) => l.includes(id)), "logs show handles only");
  const next = await t.request("/api/me", { cookie: `sessionId=${id}` });
  assert.equal((await next.json()).visits, 1);
  assert.notEqual(idFrom(next), id);
  assert.ok(cookieFrom(next));

  const again = await admin(t, `/admin/sessions/${handle}`, {
    method: "DELETE",
  });
  assert.equal(again.status, 404);
  const unknown = await admin(t, `/admin/sessions/${HANDLE}`, {
    method: "DELETE",
  });
  assert.equal(unknown.status, 404);
  for (
    const bad of [
      handle.toUpperCase(),
      handle.slice(1),
      `${handle}0`,
      id,
      "..%2Fhits",
      "g".repeat(64),
    ]
  ) {
    const { status } = await admin(t, `/admin/sessions/${bad}`, {
      method: "DELETE",
    });
    assert.equal(status, 400, bad);
  }
});

Deno.test("a cross-site admin DELETE is refused before the token is even checked", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const id = await newVisitor(t);
  const handle = await sha256Hex(id);
  const { status } = await admin(t, `/admin/sessions/${handle}`, {
    method: "DELETE",
    headers: { origin: "https://evil.example" },
  });
  assert.equal(status, 403);
  assert.ok((await t.kv.get(sessionKey(handle))).versionstamp);
});
