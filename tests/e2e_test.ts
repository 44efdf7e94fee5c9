/**
 * End to end: the real `deno run -A main.ts` process on a free port with a KV file,
 * killed with SIGKILL and restarted on the same file, then stopped with SIGTERM.
 */
import assert from "node:assert/strict";
import { sessionSetCookies, startServer } from "./helpers.ts";

async function me(base: string, cookie?: string) {
  const res = await fetch(`${base}/api/me`, {
    headers: cookie ? { cookie } : {},
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  return { res, body, setCookie: sessionSetCookies(res) };
}

async function withKvFile(fn: (env: Record<string, string>) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "mcq-edge-e2e-" });
  try {
    await fn({ KV_PATH: `${dir}/kv.sqlite3` });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a session survives kill -9 and a restart on the same KV file, and SIGTERM exits cleanly", async () => {
  await withKvFile(async (env) => {
    let server = await startServer(env);
    let cookie: string;
    try {
      assert.match(
        server.output(),
        new RegExp(`mcq-edge listening on ${server.url.replace(".", "\\.")}`),
      );
      const first = await me(server.url);
      assert.equal(first.body.visits, 1);
      assert.equal(first.setCookie.length, 1);
      assert.match(
        first.setCookie[0],
        /^sessionId=[0-9a-f-]{36}; Max-Age=1800; Path=\/; HttpOnly; SameSite=Lax$/,
      );
      cookie = first.setCookie[0].split(";")[0];

      const second = await me(server.url, cookie);
      assert.equal(second.body.visits, 2);
      assert.deepEqual(second.setCookie, []);
    } finally {
      const status = await server.stop("SIGKILL");
      assert.equal(status.signal, "SIGKILL");
    }

    server = await startServer(env);
    try {
      const third = await me(server.url, cookie);
      assert.equal(third.body.visits, 3, "the session outlived the crash");
      assert.deepEqual(third.setCookie, []);
      assert.equal(third.body.hits, 3);
    } finally {
      const status = await server.stop("SIGTERM");
      assert.equal(status.code, 0, server.output());
      assert.equal(status.success, true);
    }
  });
});

Deno.test("kill -9 under load loses no acknowledged hit or visit", async () => {
  await withKvFile(async (env) => {
    let server = await startServer(env);
    let cookie: string;
    let acknowledged = 0;
    const attempted = 200;
    try {
      const first = await me(server.url);
      cookie = first.setCookie[0].split(";")[0];
      acknowledged = 1;
      const requests = Array.from({ length: attempted }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i));
        try {
          const res = await fetch(`${server.url}/api/me`, {
            headers: { cookie },
          });
          await res.body?.cancel();
          if (res.status === 200) acknowledged++;
        } catch {
          // Killed before it answered: attempted, not acknowledged.
        }
      });
      // Kill it while requests are still arriving.
      await new Promise((r) => setTimeout(r, 60));
      await server.stop("SIGKILL");
      await Promise.allSettled(requests);
    } catch (error) {
      await server.stop("SIGKILL");
      throw error;
    }
    assert.ok(acknowledged < attempted + 1, "the kill came mid-load");

    server = await startServer(env);
    try {
      const after = await me(server.url, cookie);
      // Both counts include this request.
      const visits = after.body.visits - 1;
      const hits = after.body.hits - 1;
      assert.ok(
        visits >= acknowledged && visits <= attempted + 1,
        `visits ${visits}, acknowledged ${acknowledged}`,
      );
      assert.equal(hits, visits);
    } finally {
      await server.stop("SIGTERM");
    }
  });
});
