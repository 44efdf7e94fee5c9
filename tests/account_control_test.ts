/**
 * Accounts users control: changing the password, deleting the account, an honest "forget
 * me" for a logged-in user; and telling people what happened (an ended session, a restart
 * that asks first).
 */
import assert from "node:assert/strict";
import { formatKey } from "../lib/server/admin.ts";
import {
  ADMIN_TOKEN,
  cookieFrom,
  csrfFrom,
  dumpKv,
  type TestApp,
  testApp,
} from "./helpers.ts";

const PASSWORD = "correct horse battery";
const JSON_POST = (body: unknown, cookie?: string) => ({
  method: "POST",
  cookie,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});
const FORM = (fields: Record<string, string>, cookie: string) => ({
  method: "POST",
  cookie,
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});

async function register(t: TestApp, username = "alice"): Promise<string> {
  const res = await t.request(
    "/api/register",
    JSON_POST({ username, password: PASSWORD }),
  );
  assert.equal(res.status, 200, await res.text());
  return cookieFrom(res)!;
}

async function login(t: TestApp, password: string, username = "alice") {
  const res = await t.request("/api/login", JSON_POST({ username, password }));
  await res.body?.cancel();
  return res;
}

async function me(t: TestApp, cookie: string) {
  const res = await t.request("/api/me", { cookie });
  return { res, body: await res.json() };
}

async function csrfOf(t: TestApp, cookie: string, path = "/account") {
  return csrfFrom(await (await t.request(path, { cookie })).text());
}

Deno.test("changing the password: the new one works, the old one does not, other sessions end, this one is rotated", async () => {
  await using t = await testApp();
  const here = await register(t);
  const other = cookieFrom(await login(t, PASSWORD))!;
  const res = await t.request(
    "/api/account/password",
    JSON_POST({ password: PASSWORD, newPassword: "a new long secret" }, here),
  );
  assert.equal(res.status, 200, await res.text());
  const rotated = cookieFrom(res);
  assert.ok(rotated && rotated !== here, "the session was not rotated");
  assert.equal((await me(t, rotated)).body.user?.username, "alice");
  assert.equal((await me(t, other)).body.user, null, "another session lives");
  assert.equal((await me(t, here)).body.user, null, "the old id still works");
  assert.equal((await login(t, PASSWORD)).status, 401);
  assert.equal((await login(t, "a new long secret")).status, 200);
});

Deno.test("changing the password refuses a wrong current password (401) and a short new one (400), changing nothing", async () => {
  await using t = await testApp();
  const cookie = await register(t);
  const wrong = await t.request(
    "/api/account/password",
    JSON_POST(
      { password: "not it at all", newPassword: "a new long secret" },
      cookie,
    ),
  );
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const short = await t.request(
    "/api/account/password",
    JSON_POST({ password: PASSWORD, newPassword: "short" }, cookie),
  );
  assert.equal(short.status, 400);
  await short.body?.cancel();
  assert.equal((await me(t, cookie)).body.user?.username, "alice");
  assert.equal((await login(t, PASSWORD)).status, 200);
});

Deno.test("the password form changes it too, and a confirmation that differs is a 400", async () => {
  await using t = await testApp();
  const cookie = await register(t);
  const csrf = await csrfOf(t, cookie);
  const differs = await t.request(
    "/account/password",
    FORM({
      _csrf: csrf,
      password: PASSWORD,
      newPassword: "a new long secret",
      confirm: "another",
    }, cookie),
  );
  assert.equal(differs.status, 400);
  await differs.body?.cancel();
  const res = await t.request(
    "/account/password",
    FORM({
      _csrf: csrf,
      password: PASSWORD,
      newPassword: "a new long secret",
      confirm: "a new long secret",
    }, cookie),
  );
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/account");
  await res.body?.cancel();
  assert.equal((await login(t, "a new long secret")).status, 200);
});

Deno.test("deleting the account: login fails, the name is free, no key of the user is left, the cookie is cleared", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const here = await register(t);
  const other = cookieFrom(await login(t, PASSWORD))!;
  // Progress and a like, kept in the user record.
  const quiz = await (await t.request("/api/quizzes/http", { cookie: here }))
    .json();
  const answered = await t.request(
    "/api/quizzes/http/answers",
    JSON_POST({ questionId: quiz.questions[0].id, choice: 0 }, here),
  );
  assert.equal(answered.status, 200);
  await answered.body?.cancel();

  const res = await t.request(
    "/api/account/delete",
    JSON_POST({ password: PASSWORD }, here),
  );
  assert.equal(res.status, 200, await res.text());
  assert.match(
    res.headers.getSetCookie().join("\n"),
    /^sessionId=; Max-Age=0;/m,
  );
  assert.equal((await me(t, other)).body.user, null);
  assert.equal((await login(t, PASSWORD)).status, 401);

  // Through the admin KV API: nothing under the user's name, no session of theirs.
  const admin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };
  for (const prefix of ["users/alice", "user_sessions/alice"]) {
    const list = await (await t.request(`/admin/kv?prefix=${prefix}`, admin))
      .json();
    assert.deepEqual(list.keys, [], prefix);
  }
  const sessions = await (await t.request("/admin/sessions", admin)).json();
  assert.deepEqual(
    sessions.sessions.filter((s: { user: string }) => s.user === "alice"),
    [],
  );
  const left = (await dumpKv(t.kv)).map((e) => formatKey(e.key)).filter((k) =>
    k.includes("alice")
  );
  assert.deepEqual(left.filter((k) => !k.startsWith("throttle/")), []);

  const again = await register(t);
  assert.ok(again);
  const fresh = await me(t, again);
  assert.equal(fresh.body.user?.username, "alice");
  assert.ok(
    !fresh.body.scores.http || fresh.body.scores.http.answered === 0,
    "the old progress came back",
  );
});

Deno.test("deleting the account with a wrong password is a 401 and deletes nothing", async () => {
  await using t = await testApp();
  const cookie = await register(t);
  const res = await t.request(
    "/api/account/delete",
    JSON_POST({ password: "not the password" }, cookie),
  );
  assert.equal(res.status, 401);
  await res.body?.cancel();
  assert.equal((await me(t, cookie)).body.user?.username, "alice");
  assert.equal((await login(t, PASSWORD)).status, 200);
});

Deno.test("the delete form on /account asks for the password and deletes the account", async () => {
  await using t = await testApp();
  const cookie = await register(t);
  const html = await (await t.request("/account", { cookie })).text();
  assert.match(html, /action="\/account\/delete"/);
  const res = await t.request(
    "/account/delete",
    FORM({ _csrf: csrfFrom(html), password: PASSWORD }, cookie),
  );
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/");
  await res.body?.cancel();
  assert.equal((await login(t, PASSWORD)).status, 401);
});

Deno.test("'Forget me' for a logged-in user deletes nothing and claims nothing: it points to log out or delete", async () => {
  await using t = await testApp();
  const cookie = await register(t);
  const page = await (await t.request("/", { cookie })).text();
  assert.doesNotMatch(page, /Forget me/);
  assert.match(page, /Delete my account/);
  const res = await t.request(
    "/forget",
    FORM({ _csrf: csrfFrom(page) }, cookie),
  );
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/account#delete");
  const flash = cookieFrom(res, "flash");
  await res.body?.cancel();
  assert.equal((await me(t, cookie)).body.user?.username, "alice");
  const next =
    await (await t.request("/account", { cookie: `${cookie}; ${flash}` }))
      .text();
  assert.match(next, /Log out, or delete the account below/);
  assert.doesNotMatch(
    next,
    /everything kept for this session has been deleted/,
  );
});

Deno.test("a visitor whose session timed out is told so on the next page, with the real timeouts", async () => {
  await using t = await testApp({ idleTimeout: 1800, absoluteTimeout: 86400 });
  const first = await t.request("/");
  await first.body?.cancel();
  const cookie = cookieFrom(first)!;
  t.clock.advance(1801);
  const page = await (await t.request("/", { cookie })).text();
  assert.match(
    page,
    /Your previous session has ended: sessions end after 30 minutes without activity, or 24 hours after they began/,
  );
  // A first visit without a cookie is not told anything.
  assert.doesNotMatch(await (await t.request("/")).text(), /previous session/);
});

Deno.test("starting a quiz over asks first (also without JavaScript), and only the confirmation forgets", async () => {
  await using t = await testApp();
  const first = await t.request("/");
  const cookie = cookieFrom(first)!;
  await first.body?.cancel();
  const quiz = await (await t.request("/api/quizzes/http", { cookie })).json();
  const answered = await t.request(
    "/api/quizzes/http/answers",
    JSON_POST({ questionId: quiz.questions[0].id, choice: 0 }, cookie),
  );
  await answered.body?.cancel();
  const quizPage = await (await t.request("/quiz/http", { cookie })).text();
  assert.match(quizPage, /href="\/quiz\/http\/restart"/);
  const ask = await t.request("/quiz/http/restart", { cookie });
  assert.equal(ask.status, 200);
  const html = await ask.text();
  assert.match(html, /Your answers to this quiz will be forgotten/);
  assert.equal(
    (await me(t, cookie)).body.scores.http.answered,
    1,
    "asking forgot",
  );
  const res = await t.request(
    "/quiz/http/restart",
    FORM({ _csrf: csrfFrom(html) }, cookie),
  );
  assert.equal(res.status, 303);
  await res.body?.cancel();
  assert.ok(
    !(await me(t, cookie)).body.scores.http,
    "the confirmation did not forget",
  );
});

Deno.test("a browser that dropped its expired cookie is still told, by a marker that holds no id; logging out on purpose clears it", async () => {
  await using t = await testApp();
  const first = await t.request("/");
  await first.body?.cancel();
  const marker = first.headers.getSetCookie().find((c) =>
    c.startsWith("sessionId-seen=")
  );
  assert.match(
    marker ?? "",
    /^sessionId-seen=1; Max-Age=31536000; Path=\/; HttpOnly; SameSite=Lax$/,
  );
  // The session cookie is gone (its Max-Age passed); only the marker is sent.
  const page = await (await t.request("/", { cookie: "sessionId-seen=1" }))
    .text();
  assert.match(page, /Your previous session has ended/);
  const html = await (await t.request("/", { cookie: cookieFrom(first)! }))
    .text();
  const forget = await t.request(
    "/forget",
    FORM({ _csrf: csrfFrom(html) }, cookieFrom(first)!),
  );
  await forget.body?.cancel();
  assert.ok(
    forget.headers.getSetCookie().includes(
      "sessionId-seen=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    ),
  );
});
