/**
 * Lost updates (docs/RELIABILITY.md, section 2), through `createApp` on a
 * `:memory:` KV: hundreds of concurrent requests of one session count exactly, each question
 * is scored once, parallel answers to different questions are all kept, and requests racing
 * a logout never bring the session back.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../lib/base/crypto.ts";
import { sweep } from "../lib/sessions/janitor.ts";
import { HITS_KEY } from "../lib/sessions/session.ts";
import {
  sessionKey,
  userSessionKey,
  visitsKey,
} from "../lib/sessions/kv_store.ts";
import {
  cookieFrom,
  counter,
  csrfFrom,
  idFrom,
  storedVisits,
  type TestApp,
  testApp,
} from "./helpers.ts";

const JSON_POST = (body: unknown, cookie?: string) => ({
  method: "POST",
  cookie,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

interface QuizInfo {
  id: string;
  questions: { id: string; choices: string[] }[];
}

async function quiz(t: TestApp, cookie: string): Promise<QuizInfo> {
  const list = await (await t.request("/api/quizzes", { cookie })).json();
  const res = await t.request(`/api/quizzes/${list[0].id}`, { cookie });
  assert.equal(res.status, 200);
  return await res.json();
}

/** A stored session: its cookie (`sessionId=<id>`) and handle. */
async function newSession(t: TestApp) {
  const res = await t.request("/api/me");
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const cookie = cookieFrom(res)!;
  const handle = await sha256Hex(idFrom(res)!);
  return { cookie, handle };
}

/** Registers `username` on a fresh session; returns the logged-in cookie and handle. */
async function loggedIn(t: TestApp, username: string) {
  const { cookie } = await newSession(t);
  const res = await t.request(
    "/api/register",
    JSON_POST({ username, password: "correct horse battery" }, cookie),
  );
  assert.equal(res.status, 200);
  await res.body?.cancel();
  return { cookie: cookieFrom(res)!, handle: await sha256Hex(idFrom(res)!) };
}

async function me(t: TestApp, cookie: string) {
  const res = await t.request("/api/me", { cookie });
  assert.equal(res.status, 200);
  return { res, body: await res.json() };
}

async function settle(responses: Promise<Response>[]) {
  const all = await Promise.all(responses);
  const out: { status: number; body: string; res: Response }[] = [];
  for (const res of all) {
    out.push({ status: res.status, body: await res.text(), res });
  }
  return out;
}

Deno.test("300 concurrent requests of one session: exact hits and visits in KV", async () => {
  await using t = await testApp();
  const { cookie, handle } = await newSession(t);
  const { id: quizId, questions } = await quiz(t, cookie); // 2 more counted requests
  const paths = ["/", "/api/me", `/quiz/${quizId}`, "/likes", "/api/quizzes"];
  const results = await settle(
    Array.from({ length: 300 }, (_, i) =>
      i % 30 === 0
        // Answers in the mix: they rewrite the session while the others count.
        ? t.request(
          `/api/quizzes/${quizId}/answers`,
          JSON_POST({
            questionId: questions[i / 30].id,
            choice: 0,
          }, cookie),
        )
        : t.request(paths[i % paths.length], { cookie })),
  );
  for (const r of results) assert.equal(r.status, 200, r.body);
  assert.equal(await counter(t.kv, HITS_KEY), 303);
  assert.equal(await storedVisits(t.kv, handle), 303);
  const { body } = await me(t, cookie);
  assert.equal(body.hits, 304);
  assert.equal(body.visits, 304);
  assert.equal(body.scores[quizId].answered, 10);
});

Deno.test("300 concurrent requests when every one finds a renewal due, plus 300 new visitors: exact totals", async () => {
  await using t = await testApp();
  const { cookie, handle } = await newSession(t);
  // Past a tenth of the idle window: each of these requests renews (a checked rewrite).
  t.clock.advance(t.config.idleTimeout / 5);
  const results = await settle([
    ...Array.from({ length: 300 }, () => t.request("/api/me", { cookie })),
    ...Array.from({ length: 300 }, () => t.request("/")),
  ]);
  for (const r of results) assert.equal(r.status, 200);
  assert.equal(await counter(t.kv, HITS_KEY), 601);
  assert.equal(await storedVisits(t.kv, handle), 301);
  const fresh = new Set(results.slice(300).map((r) => idFrom(r.res)));
  assert.equal(fresh.size, 300, "each new visitor got its own session");
  let stored = 0;
  for await (const _ of t.kv.list({ prefix: ["sessions"] })) stored++;
  assert.equal(stored, 301);
});

for (const who of ["anonymous", "logged-in"] as const) {
  Deno.test(`${who}: 20 parallel answers to one question score once; the rest get 409 with the score unchanged`, async () => {
    await using t = await testApp();
    const { cookie } = who === "anonymous"
      ? await newSession(t)
      : await loggedIn(t, "racer");
    const { id: quizId, questions } = await quiz(t, cookie);
    const q = questions[0];
    const results = await settle(
      Array.from({ length: 20 }, (_, i) =>
        t.request(
          `/api/quizzes/${quizId}/answers`,
          JSON_POST({ questionId: q.id, choice: i % q.choices.length }, cookie),
        )),
    );
    const ok = results.filter((r) => r.status === 200);
    const conflicts = results.filter((r) => r.status === 409);
    assert.equal(ok.length, 1, results.map((r) => r.status).join(","));
    assert.equal(conflicts.length, 19);
    const scored = JSON.parse(ok[0].body);
    assert.equal(scored.answered, 1);
    for (const c of conflicts) {
      const body = JSON.parse(c.body);
      assert.ok(body.error);
      assert.equal(body.score, scored.score);
      assert.equal(body.answered, 1);
      assert.equal(body.total, scored.total);
    }
    const { body } = await me(t, cookie);
    assert.deepEqual(body.scores[quizId], {
      score: scored.score,
      answered: 1,
      total: scored.total,
    });
  });

  Deno.test(`${who}: parallel answers to 10 different questions of one session are all kept`, async () => {
    await using t = await testApp();
    const { cookie } = who === "anonymous"
      ? await newSession(t)
      : await loggedIn(t, "parallel");
    const { id: quizId, questions } = await quiz(t, cookie);
    assert.ok(
      questions.length >= 10,
      "the first quiz has at least 10 questions",
    );
    const ten = questions.slice(0, 10);
    const results = await settle(
      ten.map((q) =>
        t.request(
          `/api/quizzes/${quizId}/answers`,
          JSON_POST({ questionId: q.id, choice: 0 }, cookie),
        )
      ),
    );
    for (const r of results) assert.equal(r.status, 200, r.body);
    const expectedScore = results.filter((r) => JSON.parse(r.body).correct)
      .length;
    const { body } = await me(t, cookie);
    assert.equal(body.scores[quizId].answered, 10);
    assert.equal(body.scores[quizId].score, expectedScore);
    // Every one of them is now answered: a second round is all 409.
    const again = await settle(
      ten.map((q) =>
        t.request(
          `/api/quizzes/${quizId}/answers`,
          JSON_POST({ questionId: q.id, choice: 1 }, cookie),
        )
      ),
    );
    assert.deepEqual(again.map((r) => r.status), ten.map(() => 409));
  });
}

/** Requests of every kind, by the same session, racing one logout. */
function racers(t: TestApp, cookie: string, quiz: QuizInfo, n: number) {
  return Array.from({ length: n }, (_, i) => {
    switch (i % 4) {
      case 0:
        return t.request("/api/me", { cookie });
      case 1:
        return t.request(`/quiz/${quiz.id}`, { cookie });
      case 2: {
        const q = quiz.questions[i % quiz.questions.length];
        return t.request(
          `/api/quizzes/${quiz.id}/answers`,
          JSON_POST({ questionId: q.id, choice: 0 }, cookie),
        );
      }
      default:
        return t.request("/", { cookie });
    }
  });
}

for (const logoutVia of ["/api/logout", "/api/forget", "/logout"] as const) {
  for (const who of ["anonymous", "logged-in"] as const) {
    Deno.test(`${who}: requests racing ${logoutVia} never resurrect the session`, async () => {
      await using t = await testApp();
      let raced = 0;
      for (let round = 0; round < 8; round++) {
        const { cookie, handle } = who === "anonymous"
          ? await newSession(t)
          : await loggedIn(t, `user${round}`);
        const info = await quiz(t, cookie);
        let csrf = "";
        if (logoutVia === "/logout") {
          csrf = csrfFrom(await (await t.request("/", { cookie })).text());
        }
        // Every other round, the racers all find an idle-window renewal due.
        if (round % 2 === 1) t.clock.advance(t.config.idleTimeout / 5);
        const before = racers(t, cookie, info, 20 + round);
        const logout = t.request(
          logoutVia,
          logoutVia === "/logout"
            ? {
              method: "POST",
              cookie,
              headers: { "content-type": "application/x-www-form-urlencoded" },
              body: `_csrf=${csrf}`,
            }
            : { method: "POST", cookie },
        );
        const after = racers(t, cookie, info, 20);
        const results = await settle([...before, logout, ...after]);
        const out = results[before.length];
        assert.ok(
          out.status === 200 || out.status === 303,
          `logout: ${out.status}`,
        );
        assert.match(
          out.res.headers.getSetCookie().join("\n"),
          /^sessionId=; Max-Age=0;/m,
        );
        for (const [i, r] of results.entries()) {
          assert.ok(r.status < 500, `${r.status} ${r.body}`);
          // Only "already answered" (racers answer the same questions) may refuse.
          if (r.status >= 400) assert.equal(r.status, 409, r.body);
          // A racer that ran into the logout is answered as a new visitor, with a new id.
          const id = i === before.length ? null : idFrom(r.res);
          if (id && `sessionId=${id}` !== cookie) raced++;
        }
        assert.equal(
          (await t.kv.get(sessionKey(handle))).versionstamp,
          null,
          `round ${round}: the session came back`,
        );
        if (who === "logged-in") {
          assert.equal(
            (await t.kv.get(userSessionKey(`user${round}`, handle)))
              .versionstamp,
            null,
            `round ${round}: the account's session index came back`,
          );
        }
        // The old cookie now starts a brand-new session.
        const { res, body } = await me(t, cookie);
        assert.equal(body.visits, 1);
        assert.equal(body.user, null);
        const next = idFrom(res);
        assert.ok(next && `sessionId=${next}` !== cookie);
        // A blind visit count racing the logout may leave a counter without its session;
        // the janitor removes such orphans, and nothing else of the session survives.
        await sweep(t.kv, t.config, t.clock.now());
        assert.equal((await t.kv.get(visitsKey(handle))).versionstamp, null);
      }
      assert.ok(
        raced > 0,
        "no racer ever ran into the logout: no race was tested",
      );
    });
  }
}
