/**
 * The admin dashboard at /admin through the app function (no port): absent without ADMIN_TOKEN,
 * the token form, its throttling, the session rotation on entry, the session list and hits,
 * revoking a session, and the 15-minute admin window.
 */
import assert from "node:assert/strict";
import { HITS_KEY } from "../lib/sessions/session.ts";
import { sessionKey } from "../lib/sessions/kv_store.ts";
import { counter, type TestApp, testApp, Visitor } from "./helpers.ts";

const TOKEN = "x".repeat(40);
const OPTIONS = { pbkdf2Iterations: 1000, adminToken: TOKEN };

const isTokenForm = (html: string) =>
  html.includes('name="token"') && !html.includes("Admin dashboard");

/** A visitor who entered the right token and is looking at the dashboard. */
async function admin(t: TestApp): Promise<Visitor> {
  const v = new Visitor(t, "192.0.2.99");
  await v.page("/admin");
  const res = await v.form("/admin", { token: TOKEN });
  assert.equal(res.status, 303);
  await v.page("/admin");
  return v;
}

Deno.test("/admin does not exist without ADMIN_TOKEN: 404 for GET and POST, no cookie", async () => {
  await using t = await testApp({ pbkdf2Iterations: 1000 });
  const v = new Visitor(t);
  await v.page("/");
  for (const res of [await v.fetch("/admin"), await v.form("/admin", {})]) {
    assert.equal(res.status, 404);
    await res.body?.cancel();
    assert.deepEqual(res.headers.getSetCookie(), []);
  }
  const revoke = await v.form("/admin/revoke", { handle: "0".repeat(64) });
  assert.equal(revoke.status, 404);
  await revoke.body?.cancel();
});

Deno.test("with ADMIN_TOKEN, GET /admin shows the token form and nothing else", async () => {
  await using t = await testApp(OPTIONS);
  const v = new Visitor(t);
  await v.page("/");
  const html = await v.page("/admin");
  assert.ok(isTokenForm(html));
  assert.match(html, /<form method="post" action="\/admin">/);
  assert.match(html, /name="token" type="password"/);
  assert.equal(html.includes(TOKEN), false);
  assert.equal(html.includes(await v.handle()), false);
});

Deno.test("a wrong admin token is 401, and after 5 failures the form answers 429 with Retry-After", async () => {
  await using t = await testApp(OPTIONS);
  const v = new Visitor(t);
  await v.page("/admin");
  const id = v.id;
  for (let i = 0; i < 5; i++) {
    const res = await v.form("/admin", { token: "y".repeat(40) });
    assert.equal(res.status, 401, `attempt ${i + 1}`);
    const html = await res.text();
    assert.ok(html.includes("Wrong admin token."));
    assert.ok(isTokenForm(html));
    assert.deepEqual(res.headers.getSetCookie(), []);
  }
  const blocked = await v.form("/admin", { token: "z".repeat(40) });
  assert.equal(blocked.status, 429);
  assert.match(blocked.headers.get("retry-after") ?? "", /^[1-9][0-9]*$/);
  await blocked.body?.cancel();
  // Even the right token waits out the delay...
  const right = await v.form("/admin", { token: TOKEN });
  assert.equal(right.status, 429);
  await right.body?.cancel();
  assert.equal(v.id, id);
  assert.ok(isTokenForm(await v.page("/admin")));
  // ...and then gets in.
  t.clock.advance(Number(right.headers.get("retry-after")));
  const later = await v.form("/admin", { token: TOKEN });
  assert.equal(later.status, 303);
  await later.body?.cancel();
  assert.ok((await v.page("/admin")).includes("Admin dashboard"));
});

Deno.test("the right token rotates the session and shows the dashboard with sessions and hits", async () => {
  await using t = await testApp(OPTIONS);
  // Some traffic: an anonymous visitor and a registered user.
  const anon = new Visitor(t);
  await anon.page("/");
  const alice = new Visitor(t);
  const reg = await alice.fetch("/api/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "alice", password: "correct horse" }),
  });
  assert.equal(reg.status, 200);
  await reg.body?.cancel();

  const v = new Visitor(t, "192.0.2.99");
  await v.page("/admin");
  const oldId = v.id!;
  const oldHandle = await v.handle();
  const res = await v.form("/admin", { token: TOKEN });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/admin");
  await res.body?.cancel();
  assert.ok(v.id && v.id !== oldId, "a new session id on entering the token");
  assert.equal((await t.kv.get(sessionKey(oldHandle))).value, null);
  const opened = `admin: dashboard opened by session ${await v.handle()}`;
  assert.ok(t.logs.some((l) => l.includes(opened)));

  const html = await v.page("/admin");
  assert.ok(html.includes("Admin dashboard"));
  assert.ok(html.includes("Admin access granted for 15 minutes."));
  const hits = await counter(t.kv, HITS_KEY);
  assert.ok(hits >= 2);
  assert.match(html, new RegExp(`Site hits: <strong>${hits}</strong>`));
  const table = html.slice(html.indexOf('data-testid="admin-sessions"'));
  for (const who of [anon, alice, v]) {
    const handle = await who.handle();
    assert.ok(table.includes(`value="${handle}"`), "a revoke form per session");
    assert.ok(table.includes(handle.slice(0, 12)));
  }
  assert.ok(table.includes("<td>alice</td>"));
  // Handles only: no session id ever appears.
  for (const who of [anon, alice, v]) {
    assert.equal(html.includes(who.id!), false);
  }
  // The old, pre-token cookie is not an admin session.
  const stale = new Visitor(t);
  stale.jar.set("sessionId", oldId);
  assert.ok(isTokenForm(await stale.page("/admin")));
});

Deno.test("revoking a session from the dashboard ends it: its cookie gets a fresh anonymous session", async () => {
  await using t = await testApp(OPTIONS);
  const alice = new Visitor(t);
  const reg = await alice.fetch("/api/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "alice", password: "correct horse" }),
  });
  await reg.body?.cancel();
  const handle = await alice.handle();
  const oldId = alice.id;

  const v = await admin(t);
  const res = await v.form("/admin/revoke", { handle });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/admin");
  await res.body?.cancel();
  assert.equal((await t.kv.get(sessionKey(handle))).value, null);
  assert.equal(
    (await t.kv.get(["user_sessions", "alice", handle])).value,
    null,
  );
  assert.ok(t.logs.some((l) => l.includes(`admin: ended session ${handle}`)));
  const html = await v.page("/admin");
  assert.ok(html.includes("The session was ended."));
  assert.equal(html.includes(`value="${handle}"`), false);

  assert.equal(await alice.user(), null);
  assert.notEqual(alice.id, oldId);

  // Gone already: 404; not a handle: 400.
  const again = await v.form("/admin/revoke", { handle });
  assert.equal(again.status, 404);
  await again.body?.cancel();
  const junk = await v.form("/admin/revoke", { handle: "../sessions" });
  assert.equal(junk.status, 400);
  await junk.body?.cancel();
});

Deno.test("revoking needs the admin window, the form token and a same-site request", async () => {
  await using t = await testApp(OPTIONS);
  const victim = new Visitor(t);
  await victim.page("/");
  const handle = await victim.handle();

  const nobody = new Visitor(t);
  await nobody.page("/admin");
  const refused = await nobody.form("/admin/revoke", { handle });
  assert.equal(refused.status, 403);
  await refused.body?.cancel();

  const v = await admin(t);
  const noToken = await v.form("/admin/revoke", { handle }, { csrf: "" });
  assert.equal(noToken.status, 403);
  await noToken.body?.cancel();
  const crossSite = await v.form("/admin/revoke", { handle }, {
    headers: { "sec-fetch-site": "cross-site" },
  });
  assert.equal(crossSite.status, 403);
  await crossSite.body?.cancel();
  const crossOrigin = await v.form("/admin", { token: TOKEN }, {
    headers: { origin: "https://evil.example" },
  });
  assert.equal(crossOrigin.status, 403);
  await crossOrigin.body?.cancel();
  assert.notEqual((await t.kv.get(sessionKey(handle))).value, null);
});

Deno.test("after the 15-minute admin window the dashboard asks for the token again", async () => {
  await using t = await testApp(OPTIONS);
  const victim = new Visitor(t);
  await victim.page("/");
  const v = await admin(t);
  t.clock.advance(14 * 60);
  assert.ok((await v.page("/admin")).includes("Admin dashboard"));
  t.clock.advance(2 * 60);
  const html = await v.page("/admin");
  assert.ok(isTokenForm(html), "the token form again");
  const revoke = await v.form("/admin/revoke", {
    handle: await victim.handle(),
  });
  assert.equal(revoke.status, 403);
  await revoke.body?.cancel();
  // Entering the token again opens a new window.
  const res = await v.form("/admin", { token: TOKEN });
  assert.equal(res.status, 303);
  await res.body?.cancel();
  assert.ok((await v.page("/admin")).includes("Admin dashboard"));
});

Deno.test("logging in as a user ends admin access for that session", async () => {
  await using t = await testApp(OPTIONS);
  const owner = new Visitor(t);
  const reg = await owner.fetch("/api/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "alice", password: "correct horse" }),
  });
  await reg.body?.cancel();
  const v = await admin(t);
  const login = await v.fetch("/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "alice", password: "correct horse" }),
  });
  assert.equal(login.status, 200);
  await login.body?.cancel();
  assert.ok(isTokenForm(await v.page("/admin")));
});
