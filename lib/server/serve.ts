/**
 * Serving the app from the environment: the configuration, the store, the listener that
 * survives running out of descriptors, and a graceful shutdown.
 *
 * @module
 */
import { type App, createApp } from "./app.ts";
import { loadQuizDir, QuizFileError } from "../quiz/files.ts";
import type { Quiz } from "../quiz/bank.ts";
import {
  type Config,
  ConfigError,
  firstLine,
  kvFolder,
  loadConfig,
  prepareKvFile,
  readEnv,
} from "../base/config.ts";
import { addSecurityHeaders, json } from "./http.ts";
import { startJanitor } from "../sessions/mod.ts";
import { createLogSink } from "../base/log.ts";
import type { Route } from "./context.ts";

/**
 * Opens the store the config names; a missing folder for a KV file is created (not for
 * ":memory:" or a KV Connect URL).
 * @throws ConfigError naming KV_PATH when the store cannot be opened.
 */
export async function openKv(path: string | undefined): Promise<Deno.Kv> {
  if (path !== undefined && kvFolder(path) !== null) await prepareKvFile(path);
  try {
    return await Deno.openKv(path);
  } catch (error) {
    throw new ConfigError(
      `KV_PATH=${JSON.stringify(path ?? "")}: cannot open the store: ${
        firstLine(error)
      }`,
    );
  }
}

/** The one line for a listen failure at start, naming the variable to change. */
function listenError(config: Config, error: unknown): ConfigError {
  const address = `${config.host}:${config.port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new ConfigError(
      `PORT=${config.port}: ${address} is already in use; choose another PORT`,
    );
  }
  return new ConfigError(
    `HOST=${JSON.stringify(config.host)}: cannot listen on ${address}: ${
      firstLine(error)
    }`,
  );
}

/** A running listener; `shutdown` stops it for good. */
interface Listener {
  shutdown(): Promise<void>;
}

/**
 * `Deno.serve` that comes back when its accept loop dies. Out of file descriptors (EMFILE,
 * e.g. a thousand idle connections), Deno's server rejects `finished` and stops accepting for
 * good; so the listener is started again, with backoff, until it accepts. One line per burst.
 * @throws ConfigError when the first listen fails (port in use, address not local).
 */
function listen(
  config: Config,
  handler: Deno.ServeHandler<Deno.NetAddr>,
  onListen: (addr: Deno.NetAddr) => void,
): Listener {
  let server: Deno.HttpServer<Deno.NetAddr>;
  let stopped = false;
  let failures = 0;
  const start = (first: boolean) => {
    server = Deno.serve({
      hostname: config.host,
      port: config.port,
      onListen: first ? onListen : () => {},
    }, (req, info) => {
      if (failures > 0) {
        console.error(`mcq-edge: serving again after ${failures} restart(s)`);
        failures = 0;
      }
      return handler(req, info);
    });
    server.finished.catch((error) => {
      if (stopped) return;
      if (failures === 0) {
        console.error(
          `mcq-edge: the listener failed (${firstLine(error)}); restarting it`,
        );
      }
      retry();
    });
  };
  const retry = () => {
    failures++;
    setTimeout(() => {
      if (stopped) return;
      try {
        start(false);
      } catch {
        retry();
      }
    }, Math.min(1000, 25 * 2 ** Math.min(failures, 6)));
  };
  try {
    start(true);
  } catch (error) {
    throw listenError(config, error);
  }
  return {
    async shutdown() {
      stopped = true;
      await server.shutdown().catch(() => {});
    },
  };
}

/** What the app is made of besides its configuration and its quiz files: main.ts passes it in. */
export interface AppParts {
  routes: Route[];
}

/** What the app is built from: read, checked and opened by {@link startUp}. */
export interface Ready {
  config: Config;
  bank: Quiz[];
  kv: Deno.Kv;
}

/**
 * The configuration, the bank and the store, from the environment. A bad setting or a
 * broken question file stops the process with one line saying which.
 */
export async function startUp(): Promise<Ready> {
  try {
    const config = loadConfig(readEnv());
    // Read once at start-up, never at request time (also on an edge platform).
    const bank = await loadQuizDir(config.quizDir);
    const kv = await openKv(config.kvPath);
    return { config, bank, kv };
  } catch (error) {
    if (error instanceof QuizFileError) {
      const more = error.problems.length - 1;
      console.error(
        `mcq-edge: ${error.message}${more > 0 ? ` (and ${more} more)` : ""}`,
      );
      Deno.exit(1);
    }
    if (!(error instanceof ConfigError)) throw error;
    console.error(`mcq-edge: ${error.message}`);
    Deno.exit(1);
  }
}

/** The app from the environment, for `deno serve` (main.ts's default export). */
export async function appFromEnv(
  parts: AppParts,
  ready?: Ready,
): Promise<App> {
  const { config, bank, kv } = ready ?? await startUp();
  const app = await createApp({ config, kv, bank, routes: parts.routes });
  startJanitor(kv, config, Date.now, sweepEvery(config));
  return app;
}

// Sweep at least once per idle window, so counters of expired sessions never pile up.
const sweepEvery = (config: Config) =>
  Math.min(10 * 60, config.idleTimeout) * 1000;

/** Reads the config, opens KV (unless `ready`) and serves the app until SIGTERM or SIGINT. */
export async function serve(parts: AppParts, ready?: Ready): Promise<void> {
  const { config, bank, kv } = ready ?? await startUp();
  const sink = createLogSink();
  const app = await createApp({
    config,
    kv,
    bank,
    routes: parts.routes,
    log: sink.log,
  });
  const janitor = startJanitor(kv, config, Date.now, sweepEvery(config));
  // Requests being handled, so SIGTERM can let them finish before the server shuts down.
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;
  const handler: Deno.ServeHandler<Deno.NetAddr> = async (req, info) => {
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
  };
  let server: Listener;
  try {
    server = listen(config, handler, ({ hostname, port }) =>
      console.log(
        `mcq-edge listening on http://${hostname}:${port} (KV: ${
          config.kvPath ?? "platform default"
        })`,
      ));
  } catch (error) {
    console.error(`mcq-edge: ${firstLine(error)}`);
    await janitor.stop();
    kv.close();
    Deno.exit(1);
  }
  // Graceful shutdown: let in-flight requests (and their group commits) finish, stop, close KV.
  // Deno 2.9's server.shutdown() makes request bodies still being received unreadable (a 500
  // for a slow upload; denoland/deno#36809), so the handlers are drained first (new requests
  // meanwhile get a 503 with Retry-After), for at most 20 s, and then the server is shut down.
  // SIGINT too: Ctrl-C reaches both `deno task start`'s launcher and this process.
  const stop = async () => {
    if (draining) return;
    draining = true;
    // The lease goes back now, so another instance's janitor can take over at its next tick.
    await janitor.stop();
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
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
