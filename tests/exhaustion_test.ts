/**
 * Out of file descriptors: the real server under `ulimit -n 256` with 300 idle TCP connections
 * held open by this process. Deno's accept loop dies with "Too many open files"; the server must
 * not end, and must serve again once they close. The test process itself may have no more than
 * the common default of 1,024 descriptors (CI's), so the server's limit is set well below it.
 */
import assert from "node:assert/strict";
import { freePort, ROOT } from "./helpers.ts";

const LIMIT = 256;
const IDLE = 300;
/** How Deno words EMFILE when its accept loop dies. */
const RAN_OUT = /Too many open files|os error 24/;

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
      `ulimit -n ${LIMIT} && exec "$0" run -A main.ts`,
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
  // What the server has printed so far, both streams.
  let text = "";
  const read = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
    }
  };
  const output = Promise.all([read(child.stdout), read(child.stderr)]);
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
  let stopped: Promise<string> | undefined;
  /** Closes what is left, ends the server and gives its output (once). */
  const stop = () =>
    stopped ??= (async () => {
      for (const conn of idle) conn.close();
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
      await status;
      await Deno.remove(dir, { recursive: true });
      await output;
      return text;
    })();
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
    // The server accepts into its limit and hits EMFILE (on a slow machine, not at once).
    const deadline = Date.now() + 10_000;
    while (!RAN_OUT.test(text) && !ended && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(text, RAN_OUT, "the server never ran out");
    for (const conn of idle.splice(0)) conn.close();
    assert.ok(await healthy(), "no /healthz after the connections closed");
    assert.equal(ended, false, "the server ended");
  } catch (error) {
    // The server's output says why, whichever step above failed.
    throw new Error(`${error}\nthe server's output:\n${await stop()}`);
  } finally {
    await stop();
  }
  assert.doesNotMatch(await stop(), /Uncaught|error:/, text);
});
