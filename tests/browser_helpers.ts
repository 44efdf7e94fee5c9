/**
 * Browser test helpers: the real server as a child process on a free port with its own KV file,
 * and Debian's Chromium driven by playwright-core (which never downloads a browser itself).
 */
import {
  type Browser,
  type BrowserContextOptions,
  chromium,
  type Page,
} from "playwright-core";

export const ROOT = new URL("..", import.meta.url).pathname;
export const CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches the system Chromium; a missing binary fails the test with what to do about it. */
export async function launchBrowser(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the browser tests need Debian's chromium, ` +
        "which .ci/run installs (or: apt-get install chromium)",
    );
  }
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
}

/** Builds the island bundle unless static/build/manifest.json is there already. */
export async function ensureBuilt(): Promise<void> {
  try {
    await Deno.stat(`${ROOT}static/build/manifest.json`);
    return;
  } catch {
    // not built yet
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "build"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const dec = new TextDecoder();
    throw new Error(
      `deno task build failed:\n${dec.decode(out.stdout)}${
        dec.decode(out.stderr)
      }`,
    );
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export interface Server extends AsyncDisposable {
  url: string;
  /** What the server printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

async function drain(
  stream: ReadableStream<Uint8Array>,
  sink: string[],
): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    sink.push(decoder.decode(chunk, { stream: true }));
  }
}

/** Starts `deno run -A main.ts` on a free port with a fresh KV file; resolves once /healthz answers. */
export async function startServer(
  env: Record<string, string> = {},
): Promise<Server> {
  await ensureBuilt();
  const dir = await Deno.makeTempDir({ prefix: "mcq-browser-" });
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    cwd: ROOT,
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      KV_PATH: `${dir}/kv.sqlite3`,
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const drained = Promise.all([
    drain(child.stdout, lines),
    drain(child.stderr, lines),
  ]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let stopped = false;
  const server: Server = {
    url,
    output: () => lines.join(""),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 5000);
      await status;
      clearTimeout(timer);
      await drained;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]: () => server.stop(),
  };
  const deadline = Date.now() + 15_000;
  while (true) {
    if (exited) {
      await server.stop();
      throw new Error(`the server exited early:\n${server.output()}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      await res.body?.cancel();
      if (res.ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(
        `the server did not answer /healthz:\n${server.output()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A page that records script errors, so a test can insist there were none. */
export async function openPage(
  browser: Browser,
  options: BrowserContextOptions = {},
): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    // The browser's own favicon request is not the page's doing.
    if (m.type() === "error" && !m.location().url.endsWith("/favicon.ico")) {
      errors.push(`${m.text()} (${m.location().url})`);
    }
  });
  return { page, errors };
}
