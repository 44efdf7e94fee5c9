/**
 * Bursts are ordinary traffic: a thousand distinct visitors at once, each on its own
 * connection, first visiting, answering the same question and coming back, get no 5xx in
 * either session mode, and the counts stay exact. Once against a real server process on a
 * KV file, once in process under KV Connect's limits (10 checks, 10 ranges per call).
 */
import assert from "node:assert/strict";
import { HITS_KEY } from "../lib/sessions/session.ts";
import { REMOTE_LIMITS } from "../lib/base/store_limits.ts";
import {
  cookieFrom,
  counter,
  limitedKv,
  startServer,
  testApp,
} from "./helpers.ts";

const VISITORS = 1000;
const SECRET = "s".repeat(40);

type Send = (path: string, init?: RequestInit) => Promise<Response>;

/** One visitor: a first visit, the quiz, an answer to its first question, a return. */
async function visit(send: Send, i: number): Promise<number[]> {
  const statuses: number[] = [];
  let cookie = "";
  // Like a browser: the cookie each answer sets is sent from then on (cookie mode re-seals it).
  const request = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (cookie) headers.set("cookie", cookie);
    const res = await send(path, { ...init, headers });
    cookie = cookieFrom(res) ?? cookie;
    statuses.push(res.status);
    return res;
  };
  await (await request("/")).body?.cancel();
  const quiz = await request("/api/quizzes/http");
  if (!quiz.ok) return statuses;
  const { questions } = await quiz.json();
  const answer = await request("/api/quizzes/http/answers", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ questionId: questions[0].id, choice: i % 2 }),
  });
  await answer.body?.cancel();
  const back = await request("/api/me");
  if (statuses.some((status) => status >= 400)) return statuses;
  const me = await back.json();
  assert.equal(me.visits, 4, "a visit was lost or counted twice");
  assert.equal(me.scores.http.answered, 1);
  return statuses;
}

async function burst(send: Send): Promise<number[]> {
  const all = await Promise.all(
    Array.from({ length: VISITORS }, (_, i) => visit(send, i)),
  );
  return all.flat();
}

function assertNo5xx(statuses: number[]) {
  const bad = statuses.filter((s) => s >= 400);
  assert.deepEqual(
    bad.length === 0 ? [] : [`${bad.length} errors, e.g. ${bad.slice(0, 5)}`],
    [],
  );
  assert.equal(statuses.length, VISITORS * 4, "a visitor stopped early");
}

for (const mode of ["kv", "cookie"] as const) {
  Deno.test(`${mode} mode: ${VISITORS} visitors at once against a real server get no error, and the hit count is exact`, async () => {
    const dir = await Deno.makeTempDir();
    const server = await startServer({
      KV_PATH: `${dir}/kv.sqlite3`,
      SESSION_MODE: mode,
      SESSION_SECRET: SECRET,
    });
    try {
      const send: Send = (path, init) => fetch(server.url + path, init);
      assertNo5xx(await burst(send));
      const res = await send("/api/me");
      const { hits } = await res.json();
      // Every request counted once, plus the healthz-free probe just made.
      assert.equal(hits, VISITORS * 4 + 1);
      assert.doesNotMatch(server.output(), /giving up|refused/);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`${mode} mode: ${VISITORS} visitors at once under KV Connect's limits get no error, and no call goes over them`, async () => {
    let refused = () => 0;
    await using t = await testApp({ mode, secrets: [SECRET] }, {
      limits: REMOTE_LIMITS,
      wrapKv: (kv) => {
        const limited = limitedKv(kv, REMOTE_LIMITS);
        refused = limited.refused;
        return limited.kv;
      },
    });
    const send: Send = (path, init) =>
      t.app(new Request(`http://localhost${path}`, init));
    assertNo5xx(await burst(send));
    assert.equal(refused(), 0);
    assert.equal(await counter(t.kv, HITS_KEY), VISITORS * 4);
  });
}
