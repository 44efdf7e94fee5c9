/**
 * The KV Connect test endpoint (tests/support/kv_connect.ts) is a real KV Connect store:
 * Deno's own client talks to it, it keeps denokv's limits, the app refuses (never
 * retries) a call it refuses, and the app runs on it.
 */
import assert from "node:assert/strict";
import { isRefusal } from "../lib/base/store_limits.ts";
import { startServer } from "./helpers.ts";
import { type KvConnect, startKvConnect } from "./support/kv_connect.ts";
import { RemoteVisitor } from "./support/remote_visitor.ts";

async function withEndpoint(
  fn: (kv: Deno.Kv, endpoint: KvConnect) => Promise<void>,
): Promise<void> {
  const endpoint = await startKvConnect();
  Deno.env.set("DENO_KV_ACCESS_TOKEN", endpoint.token);
  const kv = await Deno.openKv(endpoint.url);
  try {
    await fn(kv, endpoint);
  } finally {
    kv.close();
    await endpoint.stop();
  }
}

Deno.test("Deno's client sets, gets, lists and commits checked sums on the endpoint", async () => {
  await withEndpoint(async (kv) => {
    await kv.set(["quiz", "a"], { title: "A" });
    await kv.set(["quiz", "b"], { title: "B" });
    const a = await kv.get(["quiz", "a"]);
    assert.deepEqual(a.value, { title: "A" });
    assert.match(a.versionstamp ?? "", /^[0-9a-f]{20}$/);
    const listed = [];
    for await (const e of kv.list({ prefix: ["quiz"] })) listed.push(e.key);
    assert.deepEqual(listed, [["quiz", "a"], ["quiz", "b"]]);

    const ok = await kv.atomic().check(a).sum(["hits"], 1n).commit();
    assert.equal(ok.ok, true);
    // A second commit on the same (now stale) read is refused by its check.
    await kv.set(["quiz", "a"], { title: "A2" });
    const stale = await kv.atomic().check(a).sum(["hits"], 1n).commit();
    assert.equal(stale.ok, false);
    assert.equal((await kv.get<Deno.KvU64>(["hits"])).value?.value, 1n);
  });
});

Deno.test("an atomic with 11 checks is refused whole, as denokv refuses it, and the app sees a refusal", async () => {
  await withEndpoint(async (kv) => {
    const op = kv.atomic();
    for (let i = 0; i < 11; i++) {
      op.check({ key: ["k", i], versionstamp: null });
    }
    op.set(["written"], true);
    const error = await op.commit().then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(error, "the 11-check commit was accepted");
    assert.match(String(error), /Too many checks/);
    assert.equal(isRefusal(error), true, "a refusal must not be retried");
    assert.equal((await kv.get(["written"])).value, null);

    // Ten checks are fine.
    const ten = kv.atomic();
    for (let i = 0; i < 10; i++) {
      ten.check({ key: ["k", i], versionstamp: null });
    }
    assert.equal((await ten.set(["written"], true).commit()).ok, true);
  });
});

Deno.test("a sum on a value that is not a counter is refused by the endpoint and seen as a refusal", async () => {
  await withEndpoint(async (kv) => {
    await kv.set(["n"], "text");
    const error = await kv.atomic().sum(["n"], 1n).commit().then(
      () => null,
      (e: unknown) => e,
    );
    assert.match(String(error), /non-U64/);
    assert.equal(isRefusal(error), true);
  });
});

Deno.test("a watch sees the current value and then a change", async () => {
  await withEndpoint(async (kv) => {
    await kv.set(["w"], 1);
    const reader = kv.watch([["w"]]).getReader();
    try {
      assert.equal((await reader.read()).value?.[0].value, 1);
      await kv.set(["w"], 2);
      let seen = 1;
      while (seen !== 2) {
        seen = (await reader.read()).value?.[0].value as number;
      }
    } finally {
      await reader.cancel();
    }
  });
});

Deno.test("a client with the wrong token cannot open the endpoint's database", async () => {
  const endpoint = await startKvConnect();
  Deno.env.set("DENO_KV_ACCESS_TOKEN", "not-the-token-at-all");
  try {
    await assert.rejects(
      () => Deno.openKv(endpoint.url),
      /401 Unauthorized: Invalid access token/,
    );
  } finally {
    await endpoint.stop();
  }
});

Deno.test("the app on a KV Connect store serves pages, an answer, login and logout without an error", async () => {
  const endpoint = await startKvConnect();
  const server = await startServer({
    KV_PATH: endpoint.url,
    DENO_KV_ACCESS_TOKEN: endpoint.token,
    PBKDF2_ITERATIONS: "1000",
  });
  try {
    const base = server.url;
    const v = new RemoteVisitor();
    await v.page(base, "/");
    const [{ id: quizId }] = await (await v.fetch(base, "/api/quizzes"))
      .json();
    const quiz = await (await v.fetch(base, `/api/quizzes/${quizId}`)).json();
    await v.page(base, `/quiz/${quizId}`);
    const answered = await v.form(base, `/quiz/${quizId}/answer`, {
      questionId: quiz.questions[0].id,
      choice: "0",
    });
    assert.equal(answered.status, 303);
    assert.equal((await v.me(base)).scores[quizId].answered, 1);

    await v.page(base, "/register");
    const registered = await v.form(base, "/register", {
      username: "alice",
      password: "correct horse battery",
    });
    assert.equal(registered.status, 303);
    await v.page(base, "/");
    assert.equal(
      (await v.form(base, "/logout", {})).status,
      303,
    );
    assert.equal(await v.user(base), null);

    await v.page(base, "/login");
    const login = await v.form(base, "/login", {
      username: "alice",
      password: "correct horse battery",
    });
    assert.equal(login.status, 303);
    const me = await v.me(base);
    assert.equal(me.user?.username, "alice");
    assert.equal(me.scores[quizId].answered, 1, "the answer came along");
  } finally {
    const status = await server.stop();
    await endpoint.stop();
    assert.equal(status.code, 0, server.output());
    assert.doesNotMatch(server.output(), /failed|error|refused|giving up/i);
  }
});
