/**
 * Store faults (docs/RELIABILITY.md, section 4): a real `:memory:` KV behind a
 * Proxy that throws "database is locked", hangs (a promise that never settles) or keeps
 * failing checked commits. The app must retry a bounded number of times, then answer 503
 * with Retry-After and no Set-Cookie — never an authenticated answer while it cannot read
 * the session — and recover fully once the fault clears. /healthz follows the store.
 */
import assert from "node:assert/strict";
import { HITS_KEY } from "../lib/sessions/session.ts";
import { KNOWN_TTL_MS } from "../lib/sessions/memory.ts";
import { STORE_TIMEOUT_MS } from "../lib/base/kv_util.ts";
import { cookieFrom, counter, type TestApp, testApp } from "./helpers.ts";
import { type FaultKind, kvProxy } from "./support/kv_proxy.ts";

interface Faults {
  /** Calls per method ("get", "getMany", "commit", ...), faulty or not. */
  calls: Record<string, number>;
  /**
   * From now on, calls of `methods` misbehave: "throw" rejects with "database is locked",
   * "hang" returns a promise that never settles (the real call is not made), "conflict"
   * makes every commit that carries a check report `{ ok: false }`. `rate` < 1 makes only
   * that share of calls misbehave (seeded, so runs repeat).
   */
  set(kind: FaultKind, methods: string[], rate?: number): void;
  heal(): void;
}

/** The shared KV proxy with one fault at a time; nothing global is stubbed. */
function faultyKv(real: Deno.Kv): { kv: Deno.Kv; faults: Faults } {
  const proxy = kvProxy(real, { seed: 7 });
  return {
    kv: proxy.kv,
    faults: {
      calls: proxy.calls,
      set(kind, methods, rate = 1) {
        proxy.heal();
        proxy.fail({ kind, methods, rate });
      },
      heal: proxy.heal,
    },
  };
}

async function faultyApp(): Promise<{ t: TestApp; faults: Faults }> {
  let faults!: Faults;
  const t = await testApp({}, {
    wrapKv: (kv) => {
      const wrapped = faultyKv(kv);
      faults = wrapped.faults;
      return wrapped.kv;
    },
  });
  return { t, faults };
}

const JSON_POST = (body: unknown, cookie?: string) => ({
  method: "POST",
  cookie,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** A registered, logged-in user and an anonymous visitor, both stored while the store is fine. */
async function people(t: TestApp) {
  const first = await t.request("/api/me");
  await first.body?.cancel();
  const anonymous = cookieFrom(first)!;
  const reg = await t.request(
    "/api/register",
    JSON_POST({ username: "alice", password: "correct horse battery" }),
  );
  assert.equal(reg.status, 200);
  await reg.body?.cancel();
  const alice = cookieFrom(reg)!;
  const quiz = await (await t.request("/api/quizzes/http", { cookie: alice }))
    .json();
  // Past what the app remembers of these sessions: every request reads the store again.
  t.clock.advance(KNOWN_TTL_MS / 1000);
  return { anonymous, alice, questions: quiz.questions as { id: string }[] };
}

type People = Awaited<ReturnType<typeof people>>;

/** What every request may get while the store fails: a 503 that says to retry, and nothing else. */
async function assertUnavailable(res: Response, what: string) {
  const body = await res.text();
  assert.equal(res.status, 503, `${what}: ${res.status} ${body}`);
  assert.ok(
    Number(res.headers.get("retry-after")) > 0,
    `${what}: no Retry-After`,
  );
  assert.deepEqual(res.headers.getSetCookie(), [], `${what}: Set-Cookie sent`);
  assert.doesNotMatch(body, /alice/, `${what}: the user's name in a 503`);
}

/** The requests tried under every fault: anonymous and logged-in, reads and writes. */
function attempts(
  who: People,
  faultOn: "reads" | "commits",
) {
  const { anonymous, alice, questions } = who;
  const list: [string, string, RequestInit & { cookie?: string }][] = [
    ["first visit", "/", {}],
    ["anonymous /api/me", "/api/me", { cookie: anonymous }],
    ["logged-in /api/me", "/api/me", { cookie: alice }],
    ["logged-in /", "/", { cookie: alice }],
    ["logged-in /account", "/account", { cookie: alice }],
    [
      "anonymous answer",
      "/api/quizzes/http/answers",
      JSON_POST({ questionId: questions[0].id, choice: 0 }, anonymous),
    ],
    [
      "logged-in answer",
      "/api/quizzes/http/answers",
      JSON_POST({ questionId: questions[1].id, choice: 0 }, alice),
    ],
    [
      "login",
      "/api/login",
      JSON_POST(
        { username: "alice", password: "correct horse battery" },
        anonymous,
      ),
    ],
  ];
  // Logging out with the store refusing commits must fail too (tried last: it would end alice).
  if (faultOn === "commits") {
    list.push(["logout", "/api/logout", { method: "POST", cookie: alice }]);
  }
  return list;
}

/** After the fault: the same people are served as before, with nothing lost or half-written. */
async function assertRecovered(
  t: TestApp,
  p: People,
  hitsBefore: number,
) {
  const health = await t.request("/healthz");
  assert.equal(health.status, 200);
  await health.body?.cancel();
  assert.equal(
    await counter(t.kv, HITS_KEY),
    hitsBefore,
    "a request answered 503 was counted",
  );
  const me = await t.request("/api/me", { cookie: p.alice });
  assert.equal(me.status, 200);
  const body = await me.json();
  assert.deepEqual(body.user, { username: "alice" });
  assert.deepEqual(body.scores, {}, "an answer refused with 503 was kept");
  const anon = await t.request("/api/me", { cookie: p.anonymous });
  assert.equal(anon.status, 200);
  assert.equal(cookieFrom(anon), null, "the anonymous session was kept");
  assert.equal((await anon.json()).user, null);
  const answer = await t.request(
    "/api/quizzes/http/answers",
    JSON_POST({ questionId: p.questions[0].id, choice: 0 }, p.alice),
  );
  assert.equal(answer.status, 200);
  await answer.body?.cancel();
  const fresh = await t.request("/");
  assert.equal(fresh.status, 200);
  await fresh.body?.cancel();
  assert.ok(cookieFrom(fresh), "a first visit gets a session again");
}

for (
  const [label, methods] of [
    ["getMany", ["getMany"]],
    ["get", ["get"]],
    ["every read", ["get", "getMany"]],
  ] as const
) {
  Deno.test(`'database is locked' on ${label}: bounded retries, 503 + Retry-After, no cookie, no user; then recovery`, async () => {
    const { t, faults } = await faultyApp();
    await using _ = t;
    const p = await people(t);
    const hits = await counter(t.kv, HITS_KEY);
    faults.set("throw", [...methods]);
    const list = attempts(p, "reads");
    const before = methods.reduce((n, m) => n + (faults.calls[m] ?? 0), 0);
    const started = performance.now();
    const results = await Promise.all(
      list.map(([, path, init]) => t.request(path, init)),
    );
    let failed = 0;
    for (let i = 0; i < list.length; i++) {
      const [what] = list[i];
      const res = results[i];
      if (res.status !== 503 && label === "get") {
        // With only single `get`s failing, requests that need none succeed: anonymous ones
        // (an anonymous answer starts from the session its request loaded with getMany).
        assert.ok(
          ["first visit", "anonymous /api/me", "anonymous answer"].includes(
            what,
          ),
          `${what}: ${res.status}`,
        );
        assert.equal(res.status, 200);
        await res.body?.cancel();
        continue;
      }
      await assertUnavailable(res, `${label} ${what}`);
      failed++;
    }
    // Bounded: each failed request gave up after at most 4 attempts of the failing read.
    const reads = methods.reduce((n, m) => n + (faults.calls[m] ?? 0), 0) -
      before;
    assert.ok(reads <= 4 * failed, `${reads} read attempts for ${failed}`);
    assert.ok(performance.now() - started < 3000, "retries took too long");
    const health = await t.request("/healthz");
    if (methods.includes("get" as never)) {
      await assertUnavailable(health, "healthz");
    } else {
      assert.equal(health.status, 200);
      await health.body?.cancel();
    }
    faults.heal();
    // Under "get" only, the three requests that did not need it were answered and counted.
    await assertRecovered(t, p, hits + (label === "get" ? 3 : 0));
  });
}

Deno.test("'database is locked' on every commit: bounded retries, 503 + Retry-After, no cookie; nothing half-written; then recovery", async () => {
  const { t, faults } = await faultyApp();
  await using _ = t;
  const p = await people(t);
  const hits = await counter(t.kv, HITS_KEY);
  faults.set("throw", ["commit"]);
  const list = attempts(p, "commits");
  const before = faults.calls.commit ?? 0;
  const results = await Promise.all(
    list.map(([, path, init]) => t.request(path, init)),
  );
  for (let i = 0; i < list.length; i++) {
    await assertUnavailable(results[i], `commit ${list[i][0]}`);
  }
  // One retried commit per request, perhaps followed by the group commit (shared by
  // several requests): 4 attempts each at most.
  const commits = faults.calls.commit - before;
  assert.ok(commits <= 8 * list.length, `${commits} commit attempts`);
  // /healthz probes a read: the store still answers those.
  const health = await t.request("/healthz");
  assert.equal(health.status, 200);
  await health.body?.cancel();
  faults.heal();
  await assertRecovered(t, p, hits);
});

Deno.test("commits whose check keeps failing: bounded conflicts, then 503; then recovery", async () => {
  const { t, faults } = await faultyApp();
  await using _ = t;
  const p = await people(t);
  const hits = await counter(t.kv, HITS_KEY);
  faults.set("conflict", ["commit"]);
  const checked: [string, string, RequestInit & { cookie?: string }][] = [
    [
      "anonymous answer",
      "/api/quizzes/http/answers",
      JSON_POST({ questionId: p.questions[0].id, choice: 0 }, p.anonymous),
    ],
    [
      "logged-in answer",
      "/api/quizzes/http/answers",
      JSON_POST({ questionId: p.questions[1].id, choice: 0 }, p.alice),
    ],
    [
      "login",
      "/api/login",
      JSON_POST(
        { username: "alice", password: "correct horse battery" },
        p.anonymous,
      ),
    ],
  ];
  // (A logout's deletes check nothing: it ends the session whatever changed meanwhile.)
  const results = await Promise.all(
    checked.map(([, path, init]) => t.request(path, init)),
  );
  for (let i = 0; i < checked.length; i++) {
    await assertUnavailable(results[i], `conflict ${checked[i][0]}`);
  }
  assert.ok(faults.calls.commit < 60 * checked.length, "conflicts unbounded");
  faults.heal();
  await assertRecovered(t, p, hits);
});

Deno.test(`a store that hangs: 503 after the ${STORE_TIMEOUT_MS} ms store timeout (no request hangs), /healthz 503 at once; then recovery`, async () => {
  const { t, faults } = await faultyApp();
  await using _ = t;
  const p = await people(t);
  const hits = await counter(t.kv, HITS_KEY);
  for (const on of ["reads", "commits"] as const) {
    faults.set("hang", on === "reads" ? ["get", "getMany"] : ["commit"]);
    const started = performance.now();
    const list = attempts(p, on);
    // A crowd of first visits too: each waits for the (hung) group commit.
    for (let i = 0; i < 150; i++) list.push([`visitor ${i}`, "/", {}]);
    const [health, ...results] = await Promise.all([
      on === "reads" ? t.request("/healthz") : Promise.resolve(null),
      ...list.map(([, path, init]) => t.request(path, init)),
    ]);
    const took = performance.now() - started;
    for (let i = 0; i < list.length; i++) {
      await assertUnavailable(results[i], `hang on ${on}: ${list[i][0]}`);
    }
    // Each request gives up at its first hung call: one store timeout, whatever the queue.
    assert.ok(took >= STORE_TIMEOUT_MS - 100, `answered after ${took} ms`);
    assert.ok(took < STORE_TIMEOUT_MS + 2000, `answered after ${took} ms`);
    if (health) await assertUnavailable(health, "healthz while reads hang");
    faults.heal();
  }
  await assertRecovered(t, p, hits);
});

Deno.test("half the store calls failing under concurrency: only 200 or 503, and the counters hold exactly what was acknowledged", async () => {
  const { t, faults } = await faultyApp();
  await using _ = t;
  const p = await people(t);
  const hits = await counter(t.kv, HITS_KEY);
  faults.set("throw", ["get", "getMany", "commit"], 0.5);
  const responses = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      t.request(i % 2 ? "/api/me" : "/", {
        cookie: i % 3 === 0 ? undefined : i % 3 === 1 ? p.anonymous : p.alice,
      })),
  );
  let ok = 0;
  for (const res of responses) {
    assert.ok(res.status === 200 || res.status === 503, `${res.status}`);
    if (res.status === 503) await assertUnavailable(res, "flaky store");
    else {
      ok++;
      await res.body?.cancel();
    }
  }
  faults.heal();
  assert.ok(ok > 0, "some requests got through the retries");
  // A throwing call never reaches the store, so exactly the acknowledged requests count.
  assert.equal(await counter(t.kv, HITS_KEY), hits + ok);
  const me = await t.request("/api/me", { cookie: p.alice });
  assert.equal(me.status, 200);
  assert.deepEqual((await me.json()).user, { username: "alice" });
});
