import { createApp } from "./lib/app.ts";
import { BankError, loadBank } from "./lib/bank.ts";
import { ConfigError, loadConfig, readEnv } from "./lib/config.ts";
import { addSecurityHeaders, json } from "./lib/http.ts";
import { startJanitor } from "./lib/janitor.ts";
import { createLogSink } from "./lib/log.ts";

/**
 * Opens the store the config names; a missing directory for a KV file is created
 * (not for ":memory:" or a remote KV URL).
 */
export async function openKv(path: string | undefined): Promise<Deno.Kv> {
  if (path && path !== ":memory:" && !/^https?:\/\//.test(path)) {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
    await Deno.mkdir(dir, { recursive: true });
  }
  return await Deno.openKv(path);
}

/** Reads the config, opens KV and serves the app until SIGTERM. */
export async function serve(): Promise<void> {
  let config, bank;
  try {
    config = loadConfig(readEnv());
    bank = loadBank();
  } catch (error) {
    // A bad setting or a broken question file stops the server with one line saying which.
    if (!(error instanceof ConfigError || error instanceof BankError)) {
      throw error;
    }
    console.error(`mcq-edge: ${error.message}`);
    Deno.exit(1);
  }
  const kv = await openKv(config.kvPath);
  const sink = createLogSink();
  const app = await createApp({ config, kv, bank, log: sink.log });
  // Sweep at least once per idle window, so counters of expired sessions never pile up.
  const janitor = startJanitor(
    kv,
    config,
    Date.now,
    Math.min(10 * 60, config.idleTimeout) * 1000,
  );
  // Requests being handled, so SIGTERM can let them finish before the server shuts down.
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: ({ hostname, port }) =>
      console.log(
        `mcq-edge listening on http://${hostname}:${port} (KV: ${
          config.kvPath ?? "platform default"
        })`,
      ),
  }, async (req, info) => {
    if (draining) {
      const response = json(
        { error: "The server is restarting; try again shortly" },
        503,
        {
          "retry-after": "2",
          "cache-control": "no-store",
          connection: "close",
        },
      );
      addSecurityHeaders(response.headers, false);
      return response;
    }
    inFlight++;
    try {
      return await app(req, info);
    } finally {
      if (--inFlight === 0) drained?.();
    }
  });
  // Graceful shutdown: let in-flight requests (and their group commits) finish, stop, close KV.
  // Deno 2.9's server.shutdown() makes request bodies still being received unreadable (a 500
  // for a slow upload; denoland/deno#36809), so the handlers are drained first (new requests
  // meanwhile get a 503 with Retry-After), for at most 20 s, and then the server is shut down.
  Deno.addSignalListener("SIGTERM", async () => {
    janitor.stop();
    draining = true;
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        drained = resolve;
        setTimeout(resolve, 20_000);
      });
    }
    await server.shutdown();
    kv.close();
    sink.flush();
    Deno.exit(0);
  });
}

if (import.meta.main) await serve();
