/**
 * The throttles under parallel attempts, through the app: each attempt takes its slot
 * before any password or token is judged, and logins, admin tokens and registrations
 * are counted apart.
 */
import assert from "node:assert/strict";
import { ADMIN_TOKEN, type TestApp, testApp, Visitor } from "./helpers.ts";

const PASSWORD = "correct horse battery";
const ATTACKER = "203.0.113.9";
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

function app() {
  return testApp({ pbkdf2Iterations: 1000, adminToken: ADMIN_TOKEN });
}

/** The statuses of the responses, counted: `{ 401: 5, 429: 55 }`. */
async function tally(responses: Promise<Response>[]) {
  const counts: Record<number, number> = {};
  for (const res of await Promise.all(responses)) {
    await res.body?.cancel();
    counts[res.status] = (counts[res.status] ?? 0) + 1;
  }
  return counts;
}

async function register(t: TestApp, username: string, address = "192.0.2.1") {
  const res = await new Visitor(t, address).postJson("/api/register", {
    username,
    password: PASSWORD,
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
}

function login(t: TestApp, username: string, password: string) {
  return new Visitor(t, ATTACKER).postJson("/api/login", {
    username,
    password,
  });
}

function adminKv(t: TestApp, headers: Record<string, string>) {
  return new Visitor(t, ATTACKER).fetch("/admin/kv", { headers });
}

Deno.test("60 wrong passwords sent at once: at most 5 are judged, and the right one right after waits", async () => {
  await using t = await app();
  await register(t, "alice");
  const counts = await tally(
    Array.from({ length: 60 }, (_, i) => login(t, "alice", `guess-${i}-xxxx`)),
  );
  assert.ok((counts[401] ?? 0) <= 5, JSON.stringify(counts));
  assert.equal((counts[401] ?? 0) + (counts[429] ?? 0), 60);
  const right = await login(t, "alice", PASSWORD);
  assert.equal(right.status, 429);
  assert.ok(Number(right.headers.get("retry-after")) >= 1);
  await right.body?.cancel();
});

Deno.test("100 wrong admin tokens sent at once: at most 5 are judged, and the right token right after waits", async () => {
  await using t = await app();
  const counts = await tally(
    Array.from(
      { length: 100 },
      (_, i) => adminKv(t, { authorization: `Bearer wrong-${i}` }),
    ),
  );
  assert.ok((counts[401] ?? 0) <= 5, JSON.stringify(counts));
  assert.equal((counts[401] ?? 0) + (counts[429] ?? 0), 100);
  const right = await adminKv(t, AUTH);
  assert.equal(right.status, 429);
  await right.body?.cancel();
});

Deno.test("300 registrations from one address at once: at most 30 accounts are made, the rest get 429", async () => {
  await using t = await app();
  const visitors = Array.from(
    { length: 300 },
    (_, i) =>
      new Visitor(t, ATTACKER).postJson("/api/register", {
        username: `user${i}`,
        password: PASSWORD,
      }),
  );
  const counts = await tally(visitors);
  assert.ok((counts[200] ?? 0) <= 30, JSON.stringify(counts));
  assert.equal((counts[200] ?? 0) + (counts[429] ?? 0), 300);
  let users = 0;
  for await (const _ of t.kv.list({ prefix: ["users"] })) users++;
  assert.equal(users, counts[200] ?? 0);
  // Another address may still register.
  await register(t, "bob", "198.51.100.4");
});

Deno.test("registrations from one address are limited to 30 an hour, with Retry-After until the hour ends", async () => {
  await using t = await app();
  for (let i = 0; i < 30; i++) await register(t, `user${i}`, ATTACKER);
  t.clock.advance(600);
  const blocked = await new Visitor(t, ATTACKER).postJson("/api/register", {
    username: "one-more",
    password: PASSWORD,
  });
  assert.equal(blocked.status, 429);
  assert.equal(blocked.headers.get("retry-after"), String(50 * 60));
  assert.match((await blocked.json()).error, /registrations/);
  t.clock.advance(50 * 60);
  await register(t, "one-more", ATTACKER);
});

Deno.test("a login flood from an address does not lock that address out of the admin API or the admin form", async () => {
  await using t = await app();
  for (let i = 0; i < 50; i++) {
    const res = await login(t, `user${i}`, PASSWORD);
    assert.equal(res.status, 401);
    await res.body?.cancel();
  }
  const blocked = await login(t, "someone", PASSWORD);
  assert.equal(blocked.status, 429);
  await blocked.body?.cancel();

  const api = await adminKv(t, AUTH);
  assert.equal(api.status, 200);
  await api.body?.cancel();
  const v = new Visitor(t, ATTACKER);
  await v.page("/admin");
  const form = await v.form("/admin", { token: ADMIN_TOKEN });
  assert.equal(form.status, 303);
  await form.body?.cancel();
});

Deno.test("an admin token flood does not lock that address out of logins", async () => {
  await using t = await app();
  await register(t, "alice");
  await tally(
    Array.from(
      { length: 100 },
      () => adminKv(t, { authorization: "Bearer wrong" }),
    ),
  );
  const res = await login(t, "alice", PASSWORD);
  assert.equal(res.status, 200);
  await res.body?.cancel();
});

Deno.test("right admin tokens keep working: a success gives its slot back", async () => {
  await using t = await app();
  for (let i = 0; i < 60; i++) {
    const res = await adminKv(t, AUTH);
    assert.equal(res.status, 200, `request ${i + 1}`);
    await res.body?.cancel();
  }
  // And it clears the address's earlier failures.
  for (let i = 0; i < 4; i++) {
    const res = await adminKv(t, { authorization: "Bearer wrong" });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  }
  assert.equal((await tally([adminKv(t, AUTH)]))[200], 1);
  for (let i = 0; i < 5; i++) {
    const res = await adminKv(t, { authorization: "Bearer wrong" });
    assert.equal(res.status, 401, `failure ${i + 1}`);
    await res.body?.cancel();
  }
});

Deno.test("a class behind one address: 400 students logging in at once with their right passwords all get in, none refused", async () => {
  await using t = await app();
  const names = Array.from({ length: 400 }, (_, i) => `student${i}`);
  // Registered from addresses of their own: the register bucket allows 30 an hour each.
  for (const [i, name] of names.entries()) {
    await register(t, name, `198.51.100.${Math.floor(i / 20)}`);
  }
  const counts = await tally(names.map((name) => login(t, name, PASSWORD)));
  // Beyond the address's 50 slots, an attempt waits for those being judged: each right
  // one gives its slot back.
  assert.deepEqual(counts, { 200: 400 });
});

Deno.test("wrong passwords for 100 accounts at once from one address: exactly the address's 50 are judged, the rest wait for them and are then refused until the window ends", async () => {
  await using t = await app();
  const names = Array.from({ length: 100 }, (_, i) => `victim${i}`);
  for (const [i, name] of names.entries()) {
    await register(t, name, `198.51.100.${Math.floor(i / 20)}`);
  }
  const responses = await Promise.all(
    names.map((name) => login(t, name, "wrong password 123")),
  );
  const retryAfter = responses.filter((r) => r.status === 429).map((r) =>
    Number(r.headers.get("retry-after"))
  );
  const counts = await tally(responses.map((r) => Promise.resolve(r)));
  assert.deepEqual(counts, { 401: 50, 429: 50 });
  // The window is 15 minutes: refused for (nearly) all of it, not for a moment.
  assert.ok(retryAfter.every((s) => s > 800), JSON.stringify(retryAfter));
});
