/**
 * Accounts through the app as a `(Request) => Promise<Response>` function (no port): registering
 * and logging in by form and JSON, credential rules, session rotation, anonymous progress carried
 * over, history, uniform failures, throttling, `?next=`, logout with its flash, the session list on
 * /account, CSRF and content types, and the PBKDF2 cost.
 */
import { ENDED_IN_COMMIT } from "../lib/sessions/mod.ts";
import assert from "node:assert/strict";
import { createApp } from "../lib/server/app.ts";
import { loadConfig, testConfig } from "../lib/base/config.ts";
import { sessionKey, userSessionKey } from "../lib/sessions/kv_store.ts";
import type { UserRecord } from "../lib/accounts/records.ts";
import {
  APP_PARTS,
  buildRequest,
  cookieFrom,
  loadBank,
  type TestApp,
  testApp,
  Visitor,
} from "./helpers.ts";

const QUIZ = loadBank()[0];
const [Q0, Q1, Q2] = QUIZ.questions;
const wrong = (q: typeof Q0) => (q.correct + 1) % q.choices.length;
const PASSWORD = "correct horse battery";
const OPTIONS = { pbkdf2Iterations: 1000, adminToken: "x".repeat(40) };

function app() {
  return testApp(OPTIONS);
}

/** A {@link Visitor} that answers questions of the first quiz through the JSON API. */
class QuizVisitor extends Visitor {
  async answer(question: typeof Q0, choice: number): Promise<Response> {
    const res = await this.postJson(`/api/quizzes/${QUIZ.id}/answers`, {
      questionId: question.id,
      choice,
    });
    return res;
  }
}

/** Registers through the JSON API and returns the now logged-in visitor. */
async function registered(
  t: TestApp,
  username = "alice",
  password = PASSWORD,
  address?: string,
): Promise<QuizVisitor> {
  const v = new QuizVisitor(t, address);
  const res = await v.postJson("/api/register", { username, password });
  assert.equal(res.status, 200, await res.clone().text());
  await res.body?.cancel();
  return v;
}

async function status(res: Promise<Response>): Promise<number> {
  const r = await res;
  await r.body?.cancel();
  return r.status;
}

async function userRecord(t: TestApp, name: string) {
  return (await t.kv.get<UserRecord>(["users", name])).value;
}

// --- Registration rules -------------------------------------------------------------------

Deno.test("a username of 3 to 32 letters, digits, _ - or . is accepted; anything else is 400", async () => {
  await using t = await app();
  for (const name of ["abc", "a".repeat(32), "A_b-c.9", "..."]) {
    const res = await new QuizVisitor(t).postJson("/api/register", {
      username: name,
      password: PASSWORD,
    });
    assert.equal(res.status, 200, name);
    assert.deepEqual(await res.json(), {
      user: { username: name.toLowerCase() },
    });
  }
  const bad = [
    "ab",
    "a".repeat(33),
    "with space",
    "slash/name",
    "émile",
    "semi;colon",
    "",
  ];
  for (const name of bad) {
    const res = await new QuizVisitor(t).postJson("/api/register", {
      username: name,
      password: PASSWORD,
    });
    assert.equal(res.status, 400, name);
    assert.equal(typeof (await res.json()).error, "string");
  }
  const notStrings = await new QuizVisitor(t).postJson("/api/register", {
    username: ["alice"],
    password: PASSWORD,
  });
  assert.equal(notStrings.status, 400);
  await notStrings.body?.cancel();
});

Deno.test("usernames are unique without regard to case: Alice then alice is 409", async () => {
  await using t = await app();
  const first = await new QuizVisitor(t).postJson("/api/register", {
    username: "Alice",
    password: PASSWORD,
  });
  assert.equal(first.status, 200);
  assert.deepEqual(await first.json(), { user: { username: "alice" } });
  for (const name of ["alice", "ALICE", "aLiCe"]) {
    const again = await new QuizVisitor(t).postJson("/api/register", {
      username: name,
      password: "another password",
    });
    assert.equal(again.status, 409, name);
    assert.equal(typeof (await again.json()).error, "string");
  }
  // The first account's password still works, whatever the case typed at login.
  const login = await new QuizVisitor(t).postJson("/api/login", {
    username: "ALICE",
    password: PASSWORD,
  });
  assert.equal(login.status, 200);
  assert.deepEqual(await login.json(), { user: { username: "alice" } });
});

Deno.test("a password needs 8 characters and at most 1024 bytes: 7 is 400, 8 and 1024 bytes are fine, 1025 is 400", async () => {
  await using t = await app();
  const cases: [string, string, number][] = [
    ["seven", "a".repeat(7), 400],
    ["eight", "a".repeat(8), 200],
    ["kilobyte", "k".repeat(1024), 200],
    ["kilobyte-utf8", "é".repeat(512), 200],
    ["toolong", "k".repeat(1025), 400],
    ["toolong-utf8", "é".repeat(512) + "x", 400],
  ];
  for (const [username, password, expected] of cases) {
    const res = await new QuizVisitor(t).postJson("/api/register", {
      username,
      password,
    });
    assert.equal(res.status, expected, username);
    await res.body?.cancel();
  }
  // The 1024-byte password logs in as typed.
  const login = await new QuizVisitor(t).postJson("/api/login", {
    username: "kilobyte",
    password: "k".repeat(1024),
  });
  assert.equal(login.status, 200);
  await login.body?.cancel();
});

Deno.test("passwords are never truncated: a 100-character password's 99-character prefix does not log in", async () => {
  await using t = await app();
  const password = Array.from({ length: 100 }, (_, i) => "abcdefghij"[i % 10])
    .join("");
  await registered(t, "longpw", password);
  const prefix = await new QuizVisitor(t).postJson("/api/login", {
    username: "longpw",
    password: password.slice(0, 99),
  });
  assert.equal(prefix.status, 401);
  await prefix.body?.cancel();
  const longer = await new QuizVisitor(t).postJson("/api/login", {
    username: "longpw",
    password: password + "x",
  });
  assert.equal(longer.status, 401);
  await longer.body?.cancel();
  const exact = await new QuizVisitor(t).postJson("/api/login", {
    username: "longpw",
    password,
  });
  assert.equal(exact.status, 200);
  await exact.body?.cancel();
});

Deno.test("the registration form shows its error with the username kept and never the password", async () => {
  await using t = await app();
  await registered(t, "taken");
  const secret = "Pw-9f8e7d6c5b4a";
  const cases: [string, string, number][] = [
    ["bad name!", secret, 400],
    ["shortpw", "Pw-9f8", 400],
    ["Taken", secret, 409],
  ];
  for (const [username, password, expected] of cases) {
    const v = new QuizVisitor(t);
    await v.page("/register");
    const res = await v.form("/register", { username, password });
    assert.equal(res.status, expected, username);
    const html = await res.text();
    assert.match(html, /data-testid="form-error"/);
    assert.ok(
      html.includes(`value="${username}"`),
      `the username ${username} is kept in the form`,
    );
    assert.equal(html.includes(password), false, "the password is not echoed");
    assert.match(html, /<input name="password" type="password"/);
    // Still anonymous, no new cookie: nothing was created.
    assert.equal(cookieFrom(res), null);
    assert.equal((await v.me()).user, null);
  }
});

Deno.test("the login form shows its error with the username kept and never the password", async () => {
  await using t = await app();
  await registered(t);
  const v = new QuizVisitor(t);
  await v.page("/login");
  const secret = "Wrong-Pw-1234567";
  const res = await v.form("/login", { username: "alice", password: secret });
  assert.equal(res.status, 401);
  const html = await res.text();
  assert.ok(html.includes('value="alice"'));
  assert.ok(html.includes("Wrong username or password"));
  assert.equal(html.includes(secret), false);
});

// --- Session rotation ---------------------------------------------------------------------

for (const via of ["form", "JSON"] as const) {
  for (const mode of ["login", "register"] as const) {
    Deno.test(`${mode} by ${via} gives a new session id; the old cookie is a fresh anonymous session and its KV key is gone`, async () => {
      await using t = await app();
      if (mode === "login") await registered(t);
      const v = new QuizVisitor(t);
      await v.page(`/${mode}`);
      const oldId = v.id!;
      const oldHandle = await v.handle();
      assert.notEqual((await t.kv.get(sessionKey(oldHandle))).value, null);

      const credentials = { username: "alice", password: PASSWORD };
      const res = via === "form"
        ? await v.form(`/${mode}`, credentials)
        : await v.postJson(`/api/${mode}`, credentials);
      assert.equal(res.status, via === "form" ? 303 : 200);
      await res.body?.cancel();
      assert.ok(v.id && v.id !== oldId, "a new session id was set");
      assert.equal((await t.kv.get(sessionKey(oldHandle))).value, null);
      assert.equal((await v.me()).user?.username, "alice");

      const stale = new QuizVisitor(t);
      stale.jar.set("sessionId", oldId);
      const me = await stale.me();
      assert.equal(me.user, null);
      assert.equal(me.visits, 1);
      assert.ok(stale.id && stale.id !== oldId && stale.id !== v.id);
    });
  }
}

// --- Progress: carried over, kept per user, history -----------------------------------------

Deno.test("anonymous answers and likes carry over to the account on registration", async () => {
  await using t = await app();
  const v = new QuizVisitor(t);
  assert.equal((await v.answer(Q0, Q0.correct)).status, 200);
  assert.equal((await v.answer(Q1, wrong(Q1))).status, 200);
  await v.page(`/quiz/${QUIZ.id}`);
  const like = await v.form("/likes", { item: `${QUIZ.id}/${Q2.id}` });
  assert.equal(like.status, 303);

  const res = await v.postJson("/api/register", {
    username: "alice",
    password: PASSWORD,
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const me = await v.me();
  assert.deepEqual(me.user, { username: "alice" });
  assert.deepEqual(me.scores[QUIZ.id], {
    score: 1,
    answered: 2,
    total: QUIZ.questions.length,
  });
  const likes = await v.page("/likes");
  assert.ok(likes.includes(Q2.text), "the liked question is on /likes");
  const user = await userRecord(t, "alice");
  assert.deepEqual(user?.data.likes, [`${QUIZ.id}/${Q2.id}`]);
  // Kept in the user record, not in the new session.
  const session = await t.kv.get<{ data: unknown }>(
    sessionKey(await v.handle()),
  );
  assert.deepEqual(session.value?.data, {});
});

Deno.test("at login, the user's own answers win over the anonymous ones; the rest is merged", async () => {
  await using t = await app();
  const alice = await registered(t);
  assert.equal((await alice.answer(Q0, Q0.correct)).status, 200);
  await alice.page("/likes");
  assert.equal(
    (await alice.form("/likes", { item: `${QUIZ.id}/${Q0.id}` })).status,
    303,
  );

  const v = new QuizVisitor(t);
  assert.equal((await v.answer(Q0, wrong(Q0))).status, 200);
  assert.equal((await v.answer(Q1, Q1.correct)).status, 200);
  await v.page("/likes");
  assert.equal(
    (await v.form("/likes", { item: `${QUIZ.id}/${Q1.id}` })).status,
    303,
  );
  const login = await v.postJson("/api/login", {
    username: "alice",
    password: PASSWORD,
  });
  assert.equal(login.status, 200);
  await login.body?.cancel();

  const me = await v.me();
  assert.deepEqual(me.scores[QUIZ.id], {
    score: 2,
    answered: 2,
    total: QUIZ.questions.length,
  });
  const user = await userRecord(t, "alice");
  const kept = user?.data.quizzes?.[QUIZ.id].answers[Q0.id] as [string];
  assert.equal(kept[0], Q0.choiceIds[Q0.correct]);
  assert.deepEqual(user?.data.likes, [
    `${QUIZ.id}/${Q0.id}`,
    `${QUIZ.id}/${Q1.id}`,
  ]);
  // Both of alice's sessions see the same progress.
  assert.deepEqual((await alice.me()).scores, me.scores);
});

Deno.test("progress is kept per user beyond any session: log out, log in from a fresh cookie, the score is there", async () => {
  await using t = await app();
  const v = await registered(t);
  assert.equal((await v.answer(Q0, Q0.correct)).status, 200);
  assert.equal((await v.answer(Q1, wrong(Q1))).status, 200);
  await v.page("/");
  const out = await v.form("/logout", {});
  assert.equal(out.status, 303);
  assert.deepEqual((await v.me()).scores, {});

  const fresh = new QuizVisitor(t);
  await fresh.page("/login");
  const res = await fresh.form("/login", {
    username: "alice",
    password: PASSWORD,
  });
  assert.equal(res.status, 303);
  const me = await fresh.me();
  assert.deepEqual(me.user, { username: "alice" });
  assert.deepEqual(me.scores[QUIZ.id], {
    score: 1,
    answered: 2,
    total: QUIZ.questions.length,
  });
  // An answered question stays answered for the user: 409, score unchanged.
  const again = await fresh.answer(Q0, wrong(Q0));
  assert.equal(again.status, 409);
  assert.equal((await again.json()).score, 1);
});

Deno.test("a quiz finished while logged in appears in the history on /account", async () => {
  await using t = await app();
  const v = await registered(t);
  let expected = 0;
  for (const [i, q] of QUIZ.questions.entries()) {
    const choice = i % 3 === 1 ? wrong(q) : q.correct;
    if (choice === q.correct) expected++;
    const res = await v.answer(q, choice);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  const html = await v.page("/account");
  const history = html.slice(html.indexOf('data-testid="history"'));
  assert.ok(html.includes('data-testid="history"'), "a history table");
  assert.ok(history.includes(QUIZ.title));
  assert.ok(history.includes(`${expected}/${QUIZ.questions.length}`));
  assert.ok(history.includes("2025-01-01 00:00 UTC"));
  const user = await userRecord(t, "alice");
  assert.deepEqual(user?.history, [{
    quizId: QUIZ.id,
    score: expected,
    total: QUIZ.questions.length,
    at: t.clock.now(),
  }]);
});

// --- Uniform failures -------------------------------------------------------------------------

Deno.test("unknown user and wrong password get the same status, body and cookies (JSON)", async () => {
  await using t = await app();
  await registered(t);
  const v = new QuizVisitor(t);
  await v.me();
  const results = [];
  for (const username of ["alice", "nobody"]) {
    const res = await v.postJson("/api/login", {
      username,
      password: "not the password",
    });
    results.push({
      status: res.status,
      body: await res.text(),
      cookies: res.headers.getSetCookie(),
    });
  }
  assert.equal(results[0].status, 401);
  assert.deepEqual(results[0], results[1]);
  assert.deepEqual(results[0].cookies, []);
  // A brand-new visitor failing gets no cookie either.
  const stranger = await new QuizVisitor(t).postJson("/api/login", {
    username: "nobody",
    password: "not the password",
  });
  assert.equal(stranger.status, 401);
  assert.equal(await stranger.text(), results[0].body);
  assert.deepEqual(stranger.headers.getSetCookie(), []);
});

Deno.test("unknown user and wrong password get the same status, page and cookies (form)", async () => {
  await using t = await app();
  await registered(t, "alice");
  const v = new QuizVisitor(t);
  await v.page("/login");
  const results = [];
  for (const username of ["alice", "nobody"]) {
    const res = await v.form("/login", { username, password: "not-the-one" });
    results.push({
      status: res.status,
      body: (await res.text()).replaceAll(username, "<name>"),
      cookies: res.headers.getSetCookie(),
    });
  }
  assert.equal(results[0].status, 401);
  assert.deepEqual(results[0], results[1]);
  assert.deepEqual(results[0].cookies, []);
});

// --- Throttling -------------------------------------------------------------------------------

Deno.test("5 failed logins for one account, then 429 with Retry-After; after the delay it may try again", async () => {
  await using t = await app();
  await registered(t);
  const attacker = new QuizVisitor(t, "203.0.113.5");
  const attempt = (password: string, who = attacker) =>
    who.postJson("/api/login", { username: "alice", password });
  for (let i = 0; i < 5; i++) {
    assert.equal(await status(attempt("guess" + i + "xxxx")), 401);
  }
  const blocked = await attempt("guess-more");
  assert.equal(blocked.status, 429);
  assert.equal(blocked.headers.get("retry-after"), "1");
  assert.equal(typeof (await blocked.json()).error, "string");
  // Blocked for everyone, even with the right password, while the delay runs.
  const owner = new QuizVisitor(t, "198.51.100.20");
  assert.equal(await status(attempt(PASSWORD, owner)), 429);

  t.clock.advance(2);
  assert.equal(await status(attempt("guess-6xxxx")), 401);
  const doubled = await attempt("guess-7xxxx");
  assert.equal(doubled.status, 429);
  assert.equal(doubled.headers.get("retry-after"), "2");
  await doubled.body?.cancel();

  // The form says so too, with the same header.
  await owner.page("/login");
  const form = await owner.form("/login", {
    username: "alice",
    password: PASSWORD,
  });
  assert.equal(form.status, 429);
  assert.equal(form.headers.get("retry-after"), "2");
  assert.ok((await form.text()).includes('value="alice"'));

  t.clock.advance(3);
  assert.equal(await status(attempt(PASSWORD, owner)), 200);
  assert.equal((await owner.me()).user?.username, "alice");
  // A success clears the account's count: five free failures again.
  for (let i = 0; i < 5; i++) {
    assert.equal(await status(attempt("again" + i + "xxxx")), 401);
  }
  assert.equal(await status(attempt("again-5xxxx")), 429);
});

Deno.test("however long an attack goes on, the rightful user gets in after waiting at most 15 minutes", async () => {
  await using t = await app();
  await registered(t);
  const attacker = new QuizVisitor(t, "203.0.113.5");
  const attempt = (password: string, who = attacker) =>
    who.postJson("/api/login", { username: "alice", password });
  // Keep guessing, waiting out each delay, until the delay has reached its cap.
  let capped = false;
  for (let i = 0; i < 40 && !capped; i++) {
    const res = await attempt(`guess-${i}-xxxx`);
    await res.body?.cancel();
    if (res.status === 429) {
      const wait = Number(res.headers.get("retry-after"));
      assert.ok(wait >= 1 && wait <= 900, String(wait));
      if (wait === 900) capped = true;
      else t.clock.advance(wait);
    } else {
      assert.equal(res.status, 401);
    }
  }
  assert.ok(capped, "the delay reached 15 minutes");

  const owner = new QuizVisitor(t, "198.51.100.20");
  assert.equal(await status(attempt(PASSWORD, owner)), 429);
  t.clock.advance(900);
  assert.equal(await status(attempt(PASSWORD, owner)), 200);
});

Deno.test("one address gets 50 failures across different usernames, then 429 for any account; other addresses are unaffected", async () => {
  await using t = await app();
  await registered(t);
  const sprayer = new QuizVisitor(t, "203.0.113.77");
  for (let i = 0; i < 50; i++) {
    const res = await sprayer.postJson("/api/login", {
      username: `user${i}`,
      password: PASSWORD,
    });
    assert.equal(res.status, 401, `attempt ${i + 1}`);
    await res.body?.cancel();
  }
  const blocked = await sprayer.postJson("/api/login", {
    username: "alice",
    password: PASSWORD,
  });
  assert.equal(blocked.status, 429);
  const wait = Number(blocked.headers.get("retry-after"));
  assert.ok(wait > 0 && wait <= 900, String(wait));
  await blocked.body?.cancel();

  const elsewhere = new QuizVisitor(t, "198.51.100.20");
  assert.equal(
    await status(
      elsewhere.postJson("/api/login", {
        username: "alice",
        password: PASSWORD,
      }),
    ),
    200,
  );

  t.clock.advance(wait);
  assert.equal(
    await status(
      sprayer.postJson("/api/login", { username: "alice", password: PASSWORD }),
    ),
    200,
  );
});

// --- ?next= and protected pages ----------------------------------------------------------------

Deno.test("login's ?next= returns to a same-site path only", async () => {
  await using t = await app();
  await registered(t);
  const cases: [string, string][] = [
    ["/account", "/account"],
    [`/quiz/${QUIZ.id}?x=1`, `/quiz/${QUIZ.id}?x=1`],
    ["//evil.com", "/"],
    ["https://evil.com", "/"],
    ["/\\evil.com", "/"],
    ["/%2F/evil.com", "/"],
    ["javascript:alert(1)", "/"],
  ];
  for (const [next, expected] of cases) {
    const v = new QuizVisitor(t);
    const q = `?next=${encodeURIComponent(next)}`;
    const html = await v.page(`/login${q}`);
    if (expected !== "/") {
      assert.ok(
        html.includes(`action="/login?next=${encodeURIComponent(expected)}"`),
        `the form keeps next=${next}`,
      );
    }
    const res = await v.form(`/login${q}`, {
      username: "alice",
      password: PASSWORD,
    });
    assert.equal(res.status, 303, next);
    assert.equal(res.headers.get("location"), expected, next);
  }
  // Registration honours it the same way.
  const v = new QuizVisitor(t);
  await v.page("/register?next=%2Faccount");
  const reg = await v.form("/register?next=%2Faccount", {
    username: "bob",
    password: PASSWORD,
  });
  assert.equal(reg.headers.get("location"), "/account");
  const evil = new QuizVisitor(t);
  await evil.page("/register?next=%2F%2Fevil.com");
  const reg2 = await evil.form("/register?next=%2F%2Fevil.com", {
    username: "carol",
    password: PASSWORD,
  });
  assert.equal(reg2.headers.get("location"), "/");
});

Deno.test("/account when anonymous is a 303 to /login?next=%2Faccount, and logging in there comes back", async () => {
  await using t = await app();
  await registered(t);
  const v = new QuizVisitor(t);
  const res = await v.fetch("/account");
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/login?next=%2Faccount");
  await res.body?.cancel();
  await v.page("/login?next=%2Faccount");
  const login = await v.form("/login?next=%2Faccount", {
    username: "alice",
    password: PASSWORD,
  });
  assert.equal(login.headers.get("location"), "/account");
  const html = await v.page("/account");
  assert.ok(html.includes("Your account: alice"));
});

// --- Logout and flash messages ------------------------------------------------------------------

Deno.test("POST /logout ends the session, clears the cookie, and says so once on the next page", async () => {
  await using t = await app();
  const v = await registered(t);
  await v.page("/");
  const id = v.id!;
  const handle = await v.handle();
  assert.notEqual(
    (await t.kv.get(userSessionKey("alice", handle))).value,
    null,
  );

  const res = await v.form("/logout", {});
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/");
  assert.ok(
    res.headers.getSetCookie().includes(
      "sessionId=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    ),
    res.headers.getSetCookie().join(" | "),
  );
  assert.equal(v.id, undefined);
  assert.equal((await t.kv.get(sessionKey(handle))).value, null);
  assert.equal((await t.kv.get(userSessionKey("alice", handle))).value, null);

  const next = await v.page("/");
  assert.ok(next.includes("You are logged out."), "the flash is shown");
  assert.equal(next.includes('data-testid="user"'), false);
  const after = await v.page("/");
  assert.equal(after.includes("You are logged out."), false, "only once");

  // The old cookie is no longer a session.
  const stale = new QuizVisitor(t);
  stale.jar.set("sessionId", id);
  assert.equal((await stale.me()).user, null);
  assert.notEqual(stale.id, id);
});

Deno.test("logging in shows its flash once", async () => {
  await using t = await app();
  await registered(t);
  const v = new QuizVisitor(t);
  await v.page("/login");
  await v.form("/login", { username: "alice", password: PASSWORD });
  assert.ok((await v.page("/")).includes("Welcome back! You are logged in."));
  assert.equal((await v.page("/")).includes("Welcome back!"), false);
});

// --- Sessions on /account ---------------------------------------------------------------------

/** Logs `username` in from a fresh cookie jar. */
async function loggedIn(t: TestApp, username = "alice", address?: string) {
  const v = new QuizVisitor(t, address);
  await v.page("/login");
  const res = await v.form("/login", { username, password: PASSWORD });
  assert.equal(res.status, 303);
  return v;
}

Deno.test("/account lists the user's sessions, and 'End this session' ends the other one", async () => {
  await using t = await app();
  await registered(t);
  const a = await loggedIn(t);
  const b = await loggedIn(t);
  const bHandle = await b.handle();
  const html = await a.page("/account");
  const list = html.slice(html.indexOf('data-testid="sessions"'));
  assert.equal(list.match(/<li>/g)?.length, 3, "the registering one, a and b");
  assert.ok(list.includes("This session"));
  assert.ok(list.includes(`name="end" value="${bHandle}"`));
  assert.equal(
    list.includes(`value="${await a.handle()}"`),
    false,
    "no button ends the current session",
  );

  const res = await a.form("/account/sessions", { end: bHandle });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/account");
  assert.equal((await t.kv.get(sessionKey(bHandle))).value, null);
  assert.ok(
    (await a.page("/account")).includes("That session has been logged out."),
  );
  assert.equal((await a.me()).user?.username, "alice");

  const oldB = b.id;
  const me = await b.me();
  assert.equal(me.user, null);
  assert.notEqual(b.id, oldB, "b's cookie gets a fresh anonymous session");
});

Deno.test("'End this session' refuses a session that is not the user's", async () => {
  await using t = await app();
  await registered(t, "alice");
  const bob = await registered(t, "bob");
  const alice = await loggedIn(t, "alice");
  await alice.page("/account");
  const res = await alice.form("/account/sessions", {
    end: await bob.handle(),
  });
  assert.equal(res.status, 404);
  await res.body?.cancel();
  assert.equal((await bob.me()).user?.username, "bob");
  const junk = await alice.form("/account/sessions", { end: "../../x" });
  assert.equal(junk.status, 404);
  await junk.body?.cancel();
});

Deno.test("'Log out everywhere else' ends every other session and rotates the current one", async () => {
  await using t = await app();
  const first = await registered(t);
  const a = await loggedIn(t);
  const b = await loggedIn(t);
  const aId = a.id!;
  const aHandle = await a.handle();
  await a.page("/account");
  const res = await a.form("/account/sessions", { end: "others" });
  assert.equal(res.status, 303);
  assert.ok(a.id && a.id !== aId, "the current session got a new id");
  assert.equal((await t.kv.get(sessionKey(aHandle))).value, null);
  assert.equal((await a.me()).user?.username, "alice");

  for (const other of [first, b]) {
    const before = other.id;
    assert.equal((await other.me()).user, null);
    assert.notEqual(other.id, before);
  }
  const stale = new QuizVisitor(t);
  stale.jar.set("sessionId", aId);
  assert.equal((await stale.me()).user, null);

  const html = await a.page("/account");
  assert.ok(html.includes("Your other sessions have been logged out."));
  const list = html.slice(html.indexOf('data-testid="sessions"'));
  assert.equal(list.match(/<li>/g)?.length, 1);
  const index = [];
  for await (const e of t.kv.list({ prefix: ["user_sessions", "alice"] })) {
    index.push(e.key[2]);
  }
  assert.deepEqual(index, [await a.handle()]);
});

// --- CSRF and content types ---------------------------------------------------------------------

Deno.test("cross-site POSTs to /login, /api/login and /logout are refused with 403 and change nothing", async () => {
  await using t = await app();
  await registered(t);
  const hostile: HeadersInit[] = [
    { "sec-fetch-site": "cross-site" },
    { origin: "https://evil.example" },
    { origin: "null" },
  ];
  for (const headers of hostile) {
    const v = new QuizVisitor(t);
    await v.page("/login");
    const id = v.id;
    const credentials = { username: "alice", password: PASSWORD };
    const form = await v.form("/login", credentials, { headers });
    assert.equal(form.status, 403, JSON.stringify(headers));
    await form.body?.cancel();
    assert.deepEqual(form.headers.getSetCookie(), []);
    const api = await v.postJson("/api/login", credentials, headers);
    assert.equal(api.status, 403, JSON.stringify(headers));
    await api.body?.cancel();
    assert.deepEqual(api.headers.getSetCookie(), []);
    assert.equal(v.id, id);
    assert.equal((await v.me()).user, null);

    const u = await loggedIn(t);
    await u.page("/");
    const out = await u.form("/logout", {}, { headers });
    assert.equal(out.status, 403, JSON.stringify(headers));
    await out.body?.cancel();
    assert.equal((await u.me()).user?.username, "alice");
  }
  // Our own origin and a same-origin fetch are fine.
  const ok = new QuizVisitor(t);
  await ok.page("/login");
  const res = await ok.form("/login", {
    username: "alice",
    password: PASSWORD,
  }, {
    headers: { origin: "http://localhost", "sec-fetch-site": "same-origin" },
  });
  assert.equal(res.status, 303);
});

Deno.test("a form POST without or with a wrong _csrf token is refused with 403", async () => {
  await using t = await app();
  await registered(t);
  const v = await loggedIn(t);
  await v.page("/");
  const other = new QuizVisitor(t);
  await other.page("/");
  for (const csrf of [null, "", "nope", v.csrf.slice(0, -1), other.csrf]) {
    for (
      const path of ["/login", "/register", "/logout", "/account/sessions"]
    ) {
      const res = await v.form(path, {
        username: "zed",
        password: PASSWORD,
        end: "others",
      }, { csrf });
      assert.equal(res.status, 403, `${path} with _csrf=${csrf}`);
      await res.body?.cancel();
    }
  }
  assert.equal((await v.me()).user?.username, "alice");
  assert.equal(await userRecord(t, "zed"), null);
  // A brand-new visitor (no session yet) cannot post a form either.
  const res = await new QuizVisitor(t).form("/login", {
    username: "alice",
    password: PASSWORD,
  }, { csrf: "anything" });
  assert.equal(res.status, 403);
  await res.body?.cancel();
});

Deno.test("/api/login and /api/register need Content-Type: application/json (415)", async () => {
  await using t = await app();
  await registered(t);
  for (const path of ["/api/login", "/api/register"]) {
    for (
      const type of [
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
      ]
    ) {
      const res = await new QuizVisitor(t).fetch(path, {
        method: "POST",
        headers: { "content-type": type },
        body: JSON.stringify({ username: "alice", password: PASSWORD }),
      });
      assert.equal(res.status, 415, `${path} ${type}`);
      assert.equal(typeof (await res.json()).error, "string");
    }
    const none = await new QuizVisitor(t).fetch(path, {
      method: "POST",
      body: JSON.stringify({ username: "alice", password: PASSWORD }),
    });
    // fetch adds text/plain to a string body
    assert.equal(none.status, 415);
    await none.body?.cancel();
  }
  const json = await new QuizVisitor(t).postJson("/api/login", {
    username: "alice",
    password: PASSWORD,
  }, { "content-type": "application/json; charset=utf-8" });
  assert.equal(json.status, 200);
  await json.body?.cancel();
});

// --- Password storage -------------------------------------------------------------------------

Deno.test("the stored hash is PBKDF2-SHA-256 at the configured cost; the default cost is 600,000", async () => {
  await using t = await app();
  await registered(t, "Alice");
  const user = await userRecord(t, "alice");
  assert.ok(user);
  assert.match(
    user.passwordHash,
    /^pbkdf2-sha256\$1000\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/,
  );
  assert.equal(user.passwordHash.includes(PASSWORD), false);
  assert.equal(JSON.stringify(user).includes(PASSWORD), false);
  assert.equal(user.username, "alice");
  assert.equal(loadConfig({}).pbkdf2Iterations, 600_000);
  // Two users with the same password get different salts and hashes.
  await registered(t, "bob");
  assert.notEqual(
    (await userRecord(t, "bob"))?.passwordHash,
    user.passwordHash,
  );
});

Deno.test("a hash made at a lower cost is upgraded at the next successful login, never at a failed one", async () => {
  await using t = await app();
  await registered(t);
  const before = (await userRecord(t, "alice"))!.passwordHash;
  const stronger = await createApp({
    ...APP_PARTS,
    config: testConfig({ ...OPTIONS, pbkdf2Iterations: 2000 }),
    kv: t.kv,
    now: t.clock.now,
    log: () => {},
  });
  const call = (password: string) =>
    stronger(buildRequest("/api/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password }),
    }));
  const failed = await call("not the password");
  assert.equal(failed.status, 401);
  await failed.body?.cancel();
  assert.equal((await userRecord(t, "alice"))!.passwordHash, before);
  const ok = await call(PASSWORD);
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const after = (await userRecord(t, "alice"))!.passwordHash;
  assert.match(after, /^pbkdf2-sha256\$2000\$/);
  // The old server (lower cost) still accepts it and does not downgrade it.
  assert.equal(
    await status(new QuizVisitor(t).postJson("/api/login", {
      username: "alice",
      password: PASSWORD,
    })),
    200,
  );
  assert.equal((await userRecord(t, "alice"))!.passwordHash, after);
});

Deno.test("/account no longer lists a session that has timed out", async () => {
  await using t = await app();
  const a = await registered(t);
  const idle = await loggedIn(t);
  const idleHandle = await idle.handle();
  // a keeps browsing; the other session stays idle past the 30-minute timeout.
  for (let minutes = 0; minutes < 40; minutes += 10) {
    t.clock.advance(10 * 60);
    assert.equal((await a.me()).user?.username, "alice");
  }
  const html = await a.page("/account");
  const list = html.slice(html.indexOf('data-testid="sessions"'));
  assert.equal(list.includes(idleHandle), false, "the dead session is listed");
  assert.equal(list.match(/<li>/g)?.length, 1);
  assert.equal((await idle.me()).user, null);
});

Deno.test("'Log out everywhere else' ends every other session, however many there are (more than one commit holds)", async () => {
  await using t = await app();
  const a = await registered(t);
  const others: QuizVisitor[] = [];
  for (let i = 0; i < ENDED_IN_COMMIT + 5; i++) {
    const v = new QuizVisitor(t);
    const res = await v.postJson("/api/login", {
      username: "alice",
      password: PASSWORD,
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    others.push(v);
  }
  await a.page("/account");
  const res = await a.form("/account/sessions", { end: "others" });
  assert.equal(res.status, 303);
  const alive = [];
  for (const v of others) {
    const session = await t.kv.get(sessionKey(await v.handle()));
    if (session.value !== null) alive.push(v);
  }
  assert.equal(alive.length, 0, `${alive.length} sessions still alive`);
  assert.equal((await a.me()).user?.username, "alice");
});

Deno.test("a quiz finished before registering is in the account's history too", async () => {
  await using t = await app();
  const v = new QuizVisitor(t);
  for (const q of QUIZ.questions) {
    const res = await v.answer(q, q === Q1 ? wrong(q) : q.correct);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  t.clock.advance(60);
  const res = await v.postJson("/api/register", {
    username: "alice",
    password: PASSWORD,
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const total = QUIZ.questions.length;
  assert.deepEqual((await userRecord(t, "alice"))?.history, [{
    quizId: QUIZ.id,
    score: total - 1,
    total,
    at: t.clock.now(),
  }]);
  const html = await v.page("/account");
  assert.ok(html.includes(`${total - 1}/${total}`));
  // Logging in again with the same (already finished) progress adds nothing.
  await v.page("/");
  await v.form("/logout", {});
  const again = new QuizVisitor(t);
  for (const q of [Q0, Q1]) await status(again.answer(q, q.correct));
  await status(again.postJson("/api/login", {
    username: "alice",
    password: PASSWORD,
  }));
  assert.equal((await userRecord(t, "alice"))?.history.length, 1);
});

// --- The same promises with SESSION_MODE=cookie -------------------------------------------------

const COOKIE_MODE = {
  ...OPTIONS,
  mode: "cookie" as const,
  secrets: ["cookie-mode-secret-".padEnd(40, "s")],
};

Deno.test("cookie mode: login and registration issue a new cookie, and the old one is an anonymous session", async () => {
  await using t = await testApp(COOKIE_MODE);
  await registered(t, "bob");
  for (const [path, username] of [["/register", "alice"], ["/login", "bob"]]) {
    const v = new QuizVisitor(t);
    assert.equal((await v.answer(Q0, Q0.correct)).status, 200);
    await v.page(path);
    const before = v.id!;
    const res = await v.form(path, { username, password: PASSWORD });
    assert.equal(res.status, 303);
    assert.ok(v.id && v.id !== before);
    const me = await v.me();
    assert.deepEqual(me.user, { username });
    assert.equal(
      me.scores[QUIZ.id].score,
      1,
      "anonymous progress carried over",
    );
    const stale = new QuizVisitor(t);
    stale.jar.set("sessionId", before);
    assert.equal((await stale.me()).user, null);
  }
});

Deno.test("cookie mode: after logout a copy of the logged-in cookie no longer works", async () => {
  await using t = await testApp(COOKIE_MODE);
  const v = await registered(t);
  await v.page("/");
  const copy = v.id!;
  const res = await v.form("/logout", {});
  assert.equal(res.status, 303);
  assert.equal(v.id, undefined);
  assert.ok((await v.page("/")).includes("You are logged out."));
  const thief = new QuizVisitor(t);
  thief.jar.set("sessionId", copy);
  assert.equal((await thief.me()).user, null);
});

Deno.test("cookie mode: /account cannot list sessions, and 'Log out everywhere else' still ends the others", async () => {
  await using t = await testApp(COOKIE_MODE);
  const other = await registered(t);
  t.clock.advance(1);
  const v = await loggedIn(t);
  const html = await v.page("/account");
  assert.ok(html.includes("This server keeps sessions in cookies"));
  assert.equal(html.includes('data-testid="sessions"'), false);
  t.clock.advance(1);
  const before = v.id;
  const res = await v.form("/account/sessions", { end: "others" });
  assert.equal(res.status, 303);
  assert.notEqual(v.id, before);
  assert.equal((await v.me()).user?.username, "alice");
  assert.equal((await other.me()).user, null);
});

// --- Odds and ends ------------------------------------------------------------------------------

Deno.test("a flash cookie holding anything but a known code shows nothing", async () => {
  await using t = await app();
  for (
    const code of ["<script>alert(1)</script>", "__proto__", "toString", ""]
  ) {
    const v = new QuizVisitor(t);
    v.jar.set("flash", encodeURIComponent(code));
    const html = await v.page("/");
    assert.equal(html.includes('class="flash"'), false, code);
    assert.equal(html.includes("<script>alert"), false);
  }
});

Deno.test("logout and the login forms answer 405 with Allow to other methods", async () => {
  await using t = await app();
  const cases: [string, string, string][] = [
    ["GET", "/logout", "POST"],
    ["PUT", "/login", "GET, HEAD, POST"],
    ["DELETE", "/register", "GET, HEAD, POST"],
    ["GET", "/api/login", "POST"],
    ["GET", "/api/register", "POST"],
    ["GET", "/api/logout", "POST"],
    ["GET", "/account/sessions", "POST"],
    ["POST", "/account", "GET, HEAD"],
  ];
  for (const [method, path, allow] of cases) {
    const res = await new QuizVisitor(t).fetch(path, { method });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
    await res.body?.cancel();
  }
});

Deno.test("POST /api/logout ends a logged-in session and clears the cookie", async () => {
  await using t = await app();
  const v = await registered(t);
  const handle = await v.handle();
  const res = await v.postJson("/api/logout", {});
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.ok(
    res.headers.getSetCookie().some((c) =>
      c.startsWith("sessionId=;") && c.includes("Max-Age=0")
    ),
  );
  assert.equal((await t.kv.get(sessionKey(handle))).value, null);
  assert.equal((await t.kv.get(userSessionKey("alice", handle))).value, null);
  assert.equal((await v.me()).user, null);
});

Deno.test("failures count against the account whatever the case typed, and a failed form keeps ?next=", async () => {
  await using t = await app();
  await registered(t);
  const v = new QuizVisitor(t);
  await v.page("/login?next=%2Faccount");
  for (const name of ["ALICE", "Alice", "alice", "aLICE", "alicE"]) {
    const res = await v.form("/login?next=%2Faccount", {
      username: name,
      password: "wrong password",
    });
    assert.equal(res.status, 401);
    const html = await res.text();
    assert.ok(html.includes('action="/login?next=%2Faccount"'));
  }
  const res = await v.form("/login?next=%2Faccount", {
    username: "alice",
    password: PASSWORD,
  });
  assert.equal(res.status, 429);
  await res.body?.cancel();
});
