/**
 * Browser test helpers: the real server as a child process on a free port with its own KV file,
 * and Debian's Chromium driven by playwright-core (which never downloads a browser itself).
 */
import { startServer as startAppServer } from "./helpers.ts";
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

export interface Server extends AsyncDisposable {
  url: string;
  /** What the server printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * The shared {@link startAppServer} with a fresh KV file and the island bundle built;
 * `stop()` falls back to SIGKILL after 5 s and removes the KV directory.
 */
export async function startServer(
  env: Record<string, string> = {},
): Promise<Server> {
  await ensureBuilt();
  const dir = await Deno.makeTempDir({ prefix: "mcq-browser-" });
  let base;
  try {
    base = await startAppServer(
      { KV_PATH: `${dir}/kv.sqlite3`, ...env },
      15_000,
    );
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  const app = base;
  let stopped = false;
  const server: Server = {
    url: app.url,
    output: app.output,
    async stop() {
      if (stopped) return;
      stopped = true;
      const timer = setTimeout(() => {
        try {
          app.child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 5000);
      await app.stop("SIGTERM");
      clearTimeout(timer);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]: () => server.stop(),
  };
  return server;
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

/** One step of a browser test: it gets the shared browser and server. */
export type BrowserStep = (
  t: { browser: Browser; server: Server },
) => Promise<void>;

/**
 * Runs `steps` as test steps against one server (started with `env`) and one browser.
 * Each step's browser contexts are closed after it, so every step starts with fresh
 * cookies (a fresh session); the server's output is printed when a step fails.
 */
export async function runBrowserSteps(
  t: Deno.TestContext,
  steps: [string, BrowserStep][],
  env: Record<string, string> = {},
): Promise<void> {
  const server = await startServer(env);
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    let failed = false;
    for (const [name, fn] of steps) {
      const ok = await t.step(name, () => fn({ browser: browser!, server }));
      failed ||= !ok;
      for (const context of browser.contexts()) await context.close();
    }
    if (failed) console.error(`server output:\n${server.output()}`);
  } finally {
    await browser?.close();
    await server.stop();
  }
}
