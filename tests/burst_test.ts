/**
 * Bursts are ordinary traffic: a thousand distinct visitors at once, each on its own
 * connection (from four client processes against a real server), first visiting, answering the same question and coming back, get no 5xx in
 * either session mode, and the counts stay exact. Once against a real server process on a
 * KV file, once in process under KV Connect's limits (10 checks, 10 ranges per call).
 */
import assert from "node:assert/strict";
import { HITS_KEY } from "../lib/sessions/session.ts";
import { REMOTE_LIMITS } from "../lib/base/store_limits.ts";
import { counter, limitedKv, ROOT, startServer, testApp } from "./helpers.ts";
import { burst, type Send } from "./support/burst.ts";

const VISITORS = 1000;
/** Visitors per client process: each holds this many connections at once. */
const PER_PROCESS = 250;
const SECRET = "s".repeat(40);

/** The visitors in processes of `PER_PROCESS` each, all at once, against `url`. */
async function burstFrom(url: string): Promise<number[]> {
  const shares = Array.from(
    { length: Math.ceil(VISITORS / PER_PROCESS) },
    async (_, i) => {
      const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${ROOT}tests/support/burst.ts`,
          url,
          String(i * PER_PROCESS),
          String(Math.min(PER_PROCESS, VISITORS - i * PER_PROCESS)),
        ],
        stdin: "null",
      }).output();
      const err = new TextDecoder().decode(stderr);
      assert.equal(code, 0, `a client process failed: ${err}`);
      return JSON.parse(new TextDecoder().decode(stdout)) as number[];
    },
  );
  return (await Promise.all(shares)).flat();
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
      assertNo5xx(await burstFrom(server.url));
      const res = await fetch(server.url + "/api/me");
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
    assertNo5xx(await burst(send, 0, VISITORS));
    assert.equal(refused(), 0);
    assert.equal(await counter(t.kv, HITS_KEY), VISITORS * 4);
  });
}
