/**
 * Graceful shutdown of the real server process (main.ts): on SIGTERM it lets every request in
 * flight finish (even one whose body is still arriving) and its writes commit, answers new
 * requests meanwhile with 503 + Retry-After, then stops listening, closes KV and exits 0. The
 * KV file, reopened afterwards, holds every acknowledged count and answer.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../lib/base/crypto.ts";
import { HITS_KEY, type SessionRecord } from "../lib/sessions/session.ts";
import { sessionKey } from "../lib/sessions/kv_store.ts";
import { counter, startServer, storedVisits } from "./helpers.ts";

/** A JSON body sent in two halves: the second only once `gate` opens. */
function slowBody(
  text: string,
  gate: Promise<void>,
): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const half = Math.floor(bytes.length / 2);
  return new ReadableStream({
    async start(controller) {
      controller.enqueue(bytes.slice(0, half));
      await gate;
      controller.enqueue(bytes.slice(half));
      controller.close();
    },
  });
}

Deno.test("SIGTERM: requests in flight complete with 2xx (bodies still arriving included), new requests get 503 then connections are refused, exit 0, every acknowledged write is in the KV file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcq-shutdown-" });
  const kvPath = `${dir}/kv.sqlite3`;
  const server = await startServer({
    KV_PATH: kvPath,
    PBKDF2_ITERATIONS: "1000",
  });
  const port = Number(new URL(server.url).port);
  try {
    // Sessions and the questions they will answer, while the server is up.
    let counted = 0;
    const quiz = await (await fetch(`${server.url}/api/quizzes/http`)).json();
    counted++;
    const sessions: { cookie: string; question: string }[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${server.url}/api/me`);
      await res.body?.cancel();
      assert.equal(res.status, 200);
      counted++;
      const cookie = res.headers.getSetCookie()[0].split(";")[0];
      sessions.push({ cookie, question: quiz.questions[i].id });
    }

    // Each session answers with a body that is only half sent when SIGTERM comes.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const inFlight = sessions.map(({ cookie, question }) =>
      fetch(`${server.url}/api/quizzes/http/answers`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json" },
        body: slowBody(
          JSON.stringify({ questionId: question, choice: 0 }),
          gate,
        ),
      })
    );
    // The requests have reached the handlers (headers read, body awaited).
    await new Promise((r) => setTimeout(r, 500));
    const exit = server.child.status;
    server.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));

    // While those finish, a new request is not served: 503 with Retry-After, not counted.
    const late = await fetch(`${server.url}/api/me`);
    assert.equal(late.status, 503);
    assert.ok(Number(late.headers.get("retry-after")) > 0);
    assert.deepEqual(late.headers.getSetCookie(), []);
    await late.body?.cancel();
    let exited = false;
    exit.then(() => (exited = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(exited, false, "the process waits for the requests in flight");

    open();
    const responses = await Promise.all(inFlight);
    for (const res of responses) {
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body) + server.output());
      assert.equal(body.answered, 1);
      counted++;
    }
    // Afterwards new connections are refused, and the process ends.
    const refusedBy = performance.now() + 5000;
    for (;;) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
      } catch (e) {
        assert.ok(e instanceof Deno.errors.ConnectionRefused, String(e));
        break;
      }
      assert.ok(performance.now() < refusedBy, "still accepting connections");
      await new Promise((r) => setTimeout(r, 20));
    }
    const status = await server.stop();
    assert.equal(status.code, 0, server.output());
    assert.doesNotMatch(server.output(), /failed:|panic|Uncaught/);

    // The file holds everything acknowledged.
    const kv = await Deno.openKv(kvPath);
    try {
      assert.equal(await counter(kv, HITS_KEY), counted);
      for (const { cookie, question } of sessions) {
        const handle = await sha256Hex(cookie.slice(cookie.indexOf("=") + 1));
        const record = (await kv.get<SessionRecord>(sessionKey(handle))).value;
        assert.ok(record, "the session is stored");
        const kept = record.data.quizzes?.http?.answers[question] as
          | [string]
          | undefined;
        assert.ok(kept?.[0], "the answer is stored");
        assert.equal(await storedVisits(kv, handle), 2);
      }
    } finally {
      kv.close();
    }
  } finally {
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM on an idle server exits 0 at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcq-shutdown-" });
  const server = await startServer({ KV_PATH: `${dir}/kv.sqlite3` });
  try {
    const started = performance.now();
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, server.output());
    assert.ok(performance.now() - started < 3000);
  } finally {
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});
