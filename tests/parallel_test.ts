/**
 * `deno serve --parallel main.ts`: Deno runs the default export in one isolate per
 * `DENO_JOBS`, on one port, all on one KV file. Each worker serves; the counters stay exact
 * whichever worker a request reaches; main.ts does not also listen on `PORT` itself.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../lib/base/crypto.ts";
import { HITS_KEY } from "../lib/sessions/mod.ts";
import { counter, freePort, ROOT, storedVisits } from "./helpers.ts";
import { RemoteVisitor } from "./support/remote_visitor.ts";

/** The flags `deno serve` needs for a KV file in `dir` (docs/DEPLOY.md gives the same). */
const flags = (dir: string) => [
  "--allow-env",
  `--allow-read=${ROOT},${dir}`,
  `--allow-write=${dir}`,
];

Deno.test("deno serve --parallel with 2 workers serves /healthz and counts every visit exactly across both", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcq-parallel-" });
  const port = freePort();
  const ownPort = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--parallel",
      "--port",
      String(port),
      ...flags(dir),
      "main.ts",
    ],
    cwd: ROOT,
    env: {
      DENO_JOBS: "2",
      KV_PATH: `${dir}/kv.sqlite3`,
      HOST: "127.0.0.1",
      PORT: String(ownPort),
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]).then(([out, err]) => out + err);
  let ended = false;
  child.status.finally(() => ended = true);
  const base = `http://127.0.0.1:${port}`;
  let kv: Deno.Kv | undefined;
  try {
    const deadline = Date.now() + 30_000;
    let healthy = false;
    while (!healthy && !ended && Date.now() < deadline) {
      try {
        const res = await fetch(`${base}/healthz`);
        healthy = res.ok && (await res.json()).ok === true;
      } catch { /* not yet */ }
      if (!healthy) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(healthy, "never healthy");

    const visitors = Array.from({ length: 50 }, () => new RemoteVisitor());
    const fresh = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    const statuses: number[] = [];
    await Promise.all(visitors.map(async (v) => {
      for (let visit = 0; visit < 4; visit++) {
        // A new connection each time: the kernel spreads connections over the workers.
        const init: RequestInit & { client: Deno.HttpClient } = {
          client: fresh,
        };
        const res = await v.fetch(base, "/api/me", init);
        await res.body?.cancel();
        statuses.push(res.status);
      }
    }));
    fresh.close();
    assert.deepEqual(new Set(statuses), new Set([200]));
    kv = await Deno.openKv(`${dir}/kv.sqlite3`);
    assert.equal(await counter(kv, HITS_KEY), 200);
    for (const v of visitors) {
      assert.equal(await storedVisits(kv, await sha256Hex(v.id!)), 4);
    }
    // main.ts left the serving to deno serve: nothing listens on its own PORT.
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: ownPort }),
    );
  } finally {
    kv?.close();
    try {
      child.kill("SIGTERM");
    } catch { /* ended */ }
    // A process that ignored SIGTERM is killed, so the test always ends, and then fails.
    const guard = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const status = await child.status;
    clearTimeout(guard);
    await Deno.remove(dir, { recursive: true });
    assert.notEqual(status.signal, "SIGKILL", "SIGTERM stopped it");
  }
  const log = await output;
  assert.match(log, /with 2 threads/, log);
  for (const worker of ["serve-worker-0", "serve-worker-1"]) {
    assert.ok(log.includes(`[${worker} ] GET /api/me 200`), `${worker} served`);
  }
  assert.doesNotMatch(log, /error|failed|locked|NotCapable|\s5\d\d\s/i, log);
});
