/**
 * One outcome per request: whichever of a request's commits the store fails (the first,
 * the second, ... and every retry after it), the answer is either a 2xx with everything
 * stored, or a 5xx with nothing stored.
 */
import assert from "node:assert/strict";
import { KNOWN_TTL_MS } from "../lib/sessions/memory.ts";
import { HITS_KEY } from "../lib/sessions/session.ts";
import {
  cookieFrom,
  counter,
  dumpKv,
  type TestApp,
  testApp,
} from "./helpers.ts";
import { kvProxy } from "./support/kv_proxy.ts";

/** A KV whose commits fail ("database is locked") from the `from`-th on, once armed. */
function failingFrom(real: Deno.Kv) {
  const proxy = kvProxy(real);
  return {
    kv: proxy.kv,
    arm(n: number) {
      proxy.fail({ kind: "throw", methods: ["commit"], after: n - 1 });
    },
    heal: proxy.heal,
  };
}

const JSON_POST = (body: unknown, cookie: string) => ({
  method: "POST",
  cookie,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** Everything in the store but the throttle's bookkeeping, as comparable text. */
async function snapshot(t: TestApp): Promise<string> {
  const entries = await dumpKv(t.kv);
  return JSON.stringify(
    entries.filter((e) => e.key[0] !== "throttle").map((e) => [e.key, e.value]),
    (_, v) => typeof v === "bigint" ? String(v) : v,
  );
}

async function setUp() {
  let faults!: ReturnType<typeof failingFrom>;
  const t = await testApp({}, {
    wrapKv: (kv) => (faults = failingFrom(kv)).kv,
  });
  const first = await t.request("/api/me");
  await first.body?.cancel();
  const anonymous = cookieFrom(first)!;
  const reg = await t.request(
    "/api/register",
    JSON_POST({ username: "alice", password: "correct horse battery" }, ""),
  );
  assert.equal(reg.status, 200);
  await reg.body?.cancel();
  const alice = cookieFrom(reg)!;
  const quiz = await (await t.request("/api/quizzes/http", { cookie: alice }))
    .json();
  const questionId = quiz.questions[0].id as string;
  // Progress to merge at login, so a login writes the user record too.
  const anon = await t.request(
    "/api/quizzes/http/answers",
    JSON_POST({ questionId: quiz.questions[1].id, choice: 0 }, anonymous),
  );
  assert.equal(anon.status, 200);
  await anon.body?.cancel();
  // Two more sessions of alice's, for the requests that end her other sessions.
  for (let i = 0; i < 2; i++) {
    const other = await t.request(
      "/api/login",
      JSON_POST({ username: "alice", password: "correct horse battery" }, ""),
    );
    assert.equal(other.status, 200);
    await other.body?.cancel();
  }
  return { t, faults, anonymous, alice, questionId };
}

type Env = Awaited<ReturnType<typeof setUp>>;

const requests: [
  string,
  (env: Env) => [string, RequestInit & { cookie?: string }],
][] = [
  ["an anonymous answer", (e) => [
    "/api/quizzes/http/answers",
    JSON_POST({ questionId: e.questionId, choice: 0 }, e.anonymous),
  ]],
  ["a logged-in answer", (e) => [
    "/api/quizzes/http/answers",
    JSON_POST({ questionId: e.questionId, choice: 0 }, e.alice),
  ]],
  ["a login that merges anonymous progress", (e) => [
    "/api/login",
    JSON_POST(
      { username: "alice", password: "correct horse battery" },
      e.anonymous,
    ),
  ]],
  ["a password change, which ends the user's other sessions", (e) => [
    "/api/account/password",
    JSON_POST(
      {
        password: "correct horse battery",
        newPassword: "another horse battery",
      },
      e.alice,
    ),
  ]],
  ["an account deletion, which ends all the user's sessions", (e) => [
    "/api/account/delete",
    JSON_POST({ password: "correct horse battery" }, e.alice),
  ]],
  ["a registration", (e) => [
    "/api/register",
    JSON_POST(
      { username: "bob", password: "correct horse battery" },
      e.anonymous,
    ),
  ]],
];

for (const [what, build] of requests) {
  Deno.test(`${what}: a 5xx stored nothing and a 2xx stored it all, whichever commit fails`, async () => {
    for (const from of [1, 2, 3, 5]) {
      const env = await setUp();
      const { t, faults } = env;
      await using _ = t;
      // Past what the app remembers: the request reads the store.
      t.clock.advance(KNOWN_TTL_MS / 1000);
      const before = await snapshot(t);
      const hits = await counter(t.kv, HITS_KEY);
      const [path, init] = build(env);
      faults.arm(from);
      const res = await t.request(path, init);
      const body = await res.text();
      faults.heal();
      if (res.status >= 500) {
        assert.equal(
          await snapshot(t),
          before,
          `${from}: a ${res.status} stored something`,
        );
        assert.equal(res.headers.getSetCookie().length, 0);
        // Nothing happened, so doing it again works as the first time would have.
        const again = await t.request(path, init);
        assert.equal(
          again.status,
          200,
          `${from}: again: ${await again.text()}`,
        );
      } else {
        assert.equal(res.status, 200, body);
        assert.equal(await counter(t.kv, HITS_KEY), hits + 1);
      }
    }
  });
}
