/**
 * A real KV Connect endpoint for tests: `kv_connect/server.mjs` under node, on denokv's own
 * engine (npm `@deno/kv`'s native module), so calls meet denokv's limits and semantics.
 * Its npm packages are installed with `npm ci` on first use (or by CI beforehand).
 */
const DIR = new URL("./kv_connect/", import.meta.url).pathname;

export interface KvConnect {
  /** The URL to hand to `Deno.openKv` (or the app's `KV_PATH`). */
  url: string;
  /** The access token (`DENO_KV_ACCESS_TOKEN`). */
  token: string;
  /** Stops the endpoint and removes its data file. */
  stop(): Promise<void>;
}

let installing: Promise<void> | undefined;

/** Runs `npm ci` in the endpoint's directory once, if its packages are missing. */
function ensureInstalled(): Promise<void> {
  installing ??= (async () => {
    try {
      await Deno.stat(`${DIR}node_modules/@deno/kv/package.json`);
      return;
    } catch { /* not installed yet */ }
    const { success, stderr } = await new Deno.Command("npm", {
      args: ["ci", "--no-audit", "--no-fund", "--loglevel=error"],
      cwd: DIR,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) {
      throw new Error(
        `npm ci in ${DIR} failed:\n${new TextDecoder().decode(stderr)}`,
      );
    }
  })();
  return installing;
}

/** Resolves with the port once the server prints `listening <port>`. */
async function portFrom(stdout: ReadableStream<Uint8Array>): Promise<number> {
  let seen = "";
  const decoder = new TextDecoder();
  const reader = stdout.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`KV Connect endpoint ended: ${seen}`);
    seen += decoder.decode(value, { stream: true });
    const match = seen.match(/listening (\d+)/);
    if (match) {
      // Keep draining so the server never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done) { /* discard */ }
      })().catch(() => {});
      return Number(match[1]);
    }
  }
}

/**
 * Starts a KV Connect endpoint on 127.0.0.1 with a fresh data file and a random token.
 * Always `stop()` it in a `finally`; it also ends by itself if this process dies.
 */
export async function startKvConnect(): Promise<KvConnect> {
  await ensureInstalled();
  const dir = await Deno.makeTempDir({ prefix: "mcq-kv-connect-" });
  const token = crypto.randomUUID().replaceAll("-", "");
  const child = new Deno.Command("node", {
    args: ["server.mjs"],
    cwd: DIR,
    env: { KV_CONNECT_PATH: `${dir}/kv.sqlite3`, KV_CONNECT_TOKEN: token },
    // Its stdin closing (this process ending) ends it.
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    try {
      await child.stdin.close();
    } catch { /* already closed */ }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const port = await portFrom(child.stdout);
    return { url: `http://127.0.0.1:${port}`, token, stop };
  } catch (error) {
    child.kill("SIGKILL");
    await stop();
    throw error;
  }
}
