/**
 * The session-level integration tests, run in both session modes: whatever keeps the
 * session (a KV record or a sealed cookie), the app behaves the same through the one
 * `Session` interface. A tiny cookie jar plays the browser.
 */
import assert from "node:assert/strict";
import type { Config } from "../lib/base/config.ts";
import {
  cookieFrom,
  csrfFrom,
  sessionSetCookies,
  setCookies,
  testApp,
} from "./helpers.ts";

const MODES: Record<"kv" | "cookie", Partial<Config>> = {
  kv: { mode: "kv" },
  cookie: { mode: "cookie", secrets: ["a".repeat(32)] },
};

const CREDENTIALS = { username: "alice", password: "correct horse battery" };

type T = Awaited<ReturnType<typeof testApp>>;

/** A browser's cookie jar for the session cookie: keeps what the app last set. */
function browser(t: T) {
  let cookie: string | undefined;
  return {
    get cookie() {
      return cookie;
    },
    set cookie(value: string | undefined) {
      cookie = value;
    },
    async request(path: string, init: RequestInit = {}): Promise<Response> {
      const res = await t.request(path, { ...init, cookie });
      const pair = cookieFrom(res);
      // "sessionId=" with Max-Age=0 clears it; a live value never ends with "=".
      if (pair !== null) cookie = pair.endsWith("=") ? undefined : pair;
      return res;
    },
    async me() {
      const res = await this.request("/api/me");
      assert.equal(res.status, 200);
      return await res.json();
    },
    async answer(questionId: string, choice: number) {
      const res = await this.request("/api/quizzes/http/answers", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ questionId, choice }),
      });
      return { status: res.status, body: await res.json() };
    },
  };
}

async function questionIds(t: T): Promise<string[]> {
  const res = await t.request("/api/quizzes/http");
  assert.equal(res.status, 200);
  const quiz = await res.json();
  return quiz.questions.map((q: { id: string }) => q.id);
}

for (const [mode, overrides] of Object.entries(MODES)) {
  const test = (name: string, fn: (t: T) => Promise<void>) =>
    Deno.test(`[${mode} mode] ${name}`, async () => {
      await using t = await testApp(overrides);
      await fn(t);
    });

  test("one cookie carries the session: visits 1, 2, 3 and exact hits", async (t) => {
    const b = browser(t);
    for (let n = 1; n <= 3; n++) {
      t.clock.advance(5);
      const body = await b.me();
      assert.equal(body.visits, n);
      assert.equal(body.hits, n);
      assert.equal(body.user, null);
      assert.ok(b.cookie?.startsWith("sessionId="));
    }
    // A second browser has its own visits; hits are the site's.
    const other = await browser(t).me();
    assert.equal(other.visits, 1);
    assert.equal(other.hits, 4);
  });

  test("answers are scored once and the score shows in /api/me", async (t) => {
    const ids = await questionIds(t);
    const b = browser(t);
    let score = 0;
    for (const id of ids.slice(0, 3)) {
      const { status, body } = await b.answer(id, 0);
      assert.equal(status, 200);
      if (body.correct) score++;
      assert.equal(body.score, score);
      assert.equal(body.total, ids.length);
    }
    const me = await b.me();
    assert.deepEqual(me.scores.http, {
      score,
      answered: 3,
      total: ids.length,
    });
    // The same question again, along this cookie's history: 409, nothing changes.
    const again = await b.answer(ids[0], 1);
    assert.equal(again.status, 409);
    assert.equal(again.body.score, score);
    assert.equal(again.body.answered, 3);
    assert.equal(typeof again.body.error, "string");
    assert.deepEqual((await b.me()).scores.http.answered, 3);
  });

  test("likes go through the form with its _csrf token", async (t) => {
    const [first] = await questionIds(t);
    const b = browser(t);
    const page = await b.request("/quiz/http");
    assert.equal(page.status, 200);
    const csrf = csrfFrom(await page.text());
    const like = (token: string) =>
      b.request("/likes", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          _csrf: token,
          item: `http/${first}`,
          back: "/quiz/http",
        }),
      });
    const refused = await like("not-the-token");
    assert.equal(refused.status, 403);
    await refused.body?.cancel();
    const res = await like(csrf);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/quiz/http");
    const likes = await b.request("/likes");
    const html = await likes.text();
    assert.equal(html.match(/data-testid="liked"/g)?.length, 1);
  });

  test("POST /api/forget clears the cookie; neither the next request nor a replay gets the session back", async (t) => {
    const [first] = await questionIds(t);
    const b = browser(t);
    await b.me();
    assert.equal((await b.answer(first, 0)).status, 200);
    const before = b.cookie;
    const res = await b.request("/api/forget", { method: "POST" });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.deepEqual(setCookies(res), [
      "sessionId=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    ]);
    assert.equal(b.cookie, undefined);
    const fresh = await b.me();
    assert.equal(fresh.visits, 1);
    assert.deepEqual(fresh.scores, {});
    // A copy of the old cookie (say, stolen) is dead too.
    const thief = browser(t);
    thief.cookie = before;
    const replay = await thief.me();
    assert.equal(replay.visits, 1);
    assert.deepEqual(replay.scores, {});
    assert.notEqual(thief.cookie, before);
  });

  test("a forged cookie is never adopted", async (t) => {
    const forged = [
      crypto.randomUUID(),
      `v1.AAAAAAAA.${"A".repeat(16)}.${"A".repeat(60)}`,
      "../../etc/passwd",
    ];
    for (const value of forged) {
      const b = browser(t);
      b.cookie = `sessionId=${value}`;
      const me = await b.me();
      assert.equal(me.visits, 1);
      assert.equal(me.user, null);
      assert.ok(b.cookie);
      assert.notEqual(b.cookie, `sessionId=${value}`);
      assert.equal((await b.me()).visits, 2);
    }
  });

  test("session responses carry Cache-Control: no-store and Vary: Cookie", async (t) => {
    const b = browser(t);
    for (const path of ["/", "/api/me", "/quiz/http", "/likes"]) {
      const res = await b.request(path);
      assert.equal(res.status, 200, path);
      await res.body?.cancel();
      assert.equal(res.headers.get("cache-control"), "no-store", path);
      assert.match(res.headers.get("vary") ?? "", /Cookie/, path);
    }
  });

  test("registration logs in, progress follows the user, and logout ends every copy of the cookie", async (t) => {
    const [first] = await questionIds(t);
    const b = browser(t);
    assert.equal((await b.answer(first, 0)).status, 200);
    const anonymous = b.cookie;
    const reg = await b.request("/api/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(CREDENTIALS),
    });
    assert.equal(reg.status, 200);
    assert.deepEqual(await reg.json(), { user: { username: "alice" } });
    assert.notEqual(b.cookie, anonymous);
    const me = await b.me();
    assert.deepEqual(me.user, { username: "alice" });
    assert.equal(me.scores.http.answered, 1);
    // The pre-login cookie is not the logged-in session.
    const old = browser(t);
    old.cookie = anonymous;
    assert.equal((await old.me()).user, null);

    const stolen = b.cookie;
    const out = await b.request("/api/logout", { method: "POST" });
    assert.equal(out.status, 200);
    await out.body?.cancel();
    assert.equal(b.cookie, undefined);
    assert.equal((await b.me()).user, null);
    const thief = browser(t);
    thief.cookie = stolen;
    assert.equal((await thief.me()).user, null);

    const login = await b.request("/api/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(CREDENTIALS),
    });
    assert.equal(login.status, 200);
    await login.body?.cancel();
    const back = await b.me();
    assert.deepEqual(back.user, { username: "alice" });
    assert.equal(back.scores.http.answered, 1);
  });

  test('"log out everywhere else" ends the user\'s other sessions and keeps this one', async (t) => {
    const post = (b: ReturnType<typeof browser>, path: string) =>
      b.request(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(CREDENTIALS),
      });
    const phone = browser(t);
    const laptop = browser(t);
    const bob = browser(t);
    assert.equal((await post(phone, "/api/register")).status, 200);
    assert.equal((await post(laptop, "/api/login")).status, 200);
    const bobRes = await bob.request("/api/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "bob", password: "another password" }),
    });
    assert.equal(bobRes.status, 200);
    t.clock.advance(1);
    const account = await laptop.request("/account");
    assert.equal(account.status, 200);
    const csrf = csrfFrom(await account.text());
    const res = await laptop.request("/account/sessions", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf, end: "others" }),
    });
    assert.equal(res.status, 303);
    assert.equal((await phone.me()).user, null);
    assert.deepEqual((await laptop.me()).user, { username: "alice" });
    assert.deepEqual((await bob.me()).user, { username: "bob" });
  });

  test("an error answer is not counted and keeps the session as it was", async (t) => {
    const b = browser(t);
    await b.me();
    const res = await b.request("/api/quizzes/nope/answers", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ questionId: "x", choice: 0 }),
    });
    assert.equal(res.status, 404);
    assert.deepEqual(sessionSetCookies(res), []);
    await res.body?.cancel();
    const me = await b.me();
    assert.equal(me.visits, 2);
    assert.equal(me.hits, 2);
  });
}
