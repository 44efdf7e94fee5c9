/**
 * Out of file descriptors: the real server under `ulimit -n 1024` with 1,100 idle TCP
 * connections held open by this process (whose own limit is higher). Deno's accept loop dies
 * with "Too many open files"; the server must not end, and must serve again once they close.
 */
import assert from "node:assert/strict";
import { freePort, ROOT } from "./helpers.ts";

const IDLE = 1100;

Deno.test({
  name:
    "a server out of file descriptors survives and answers /healthz again once the idle connections close",
  // An aborted connect may leave its op behind; the connections themselves are all closed.
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcq-fd-" });
  const port = freePort();
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      'ulimit -n 1024 && exec "$0" run -A main.ts',
      Deno.execPath(),
    ],
    cwd: ROOT,
    env: {
      HOST: "127.0.0.1",
      PORT: String(port),
      KV_PATH: `${dir}/kv.sqlite3`,
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
  const status = child.status.finally(() => ended = true);
  const url = `http://127.0.0.1:${port}/healthz`;
  /** Polls /healthz for up to 30 s; true once it answers 200. */
  const healthy = async () => {
    const deadline = Date.now() + 30_000;
    while (!ended && Date.now() < deadline) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await res.body?.cancel();
        if (res.status === 200) return true;
      } catch { /* refused or no descriptor yet */ }
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  };
  const idle: Deno.Conn[] = [];
  try {
    assert.ok(await healthy(), "never served");
    for (let i = 0; i < IDLE && !ended; i++) {
      try {
        // A full backlog drops the SYN, and connect would wait minutes.
        const signal = AbortSignal.timeout(1000);
        idle.push(await Deno.connect({ hostname: "127.0.0.1", port, signal }));
      } catch {
        // Refused or reset: the listener is down or its backlog full; either way, exhausted.
        break;
      }
    }
    // Give the server time to accept into its limit and hit EMFILE.
    await new Promise((r) => setTimeout(r, 1500));
    // The server holds a few dozen descriptors of its own, so ~990 already exhaust it.
    assert.ok(idle.length >= 900, `only ${idle.length} connections opened`);
    for (const conn of idle.splice(0)) conn.close();
    assert.ok(await healthy(), "no /healthz after the connections closed");
    assert.equal(ended, false, "the server ended");
  } finally {
    for (const conn of idle) conn.close();
    try {
      child.kill("SIGKILL");
    } catch { /* ended */ }
    await status;
    const text = await output;
    await Deno.remove(dir, { recursive: true });
    // The server's output, for any failure above.
    assert.doesNotMatch(text, /Uncaught|error:/, text);
    assert.match(text, /Too many open files/, "the server never ran out");
  }
});
