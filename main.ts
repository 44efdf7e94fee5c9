import { createApp } from "./lib/app.ts";
import { ConfigError, loadConfig, readEnv } from "./lib/config.ts";
import { startJanitor } from "./lib/janitor.ts";

/** Opens the store the config names; a missing directory for a KV file is created. */
export async function openKv(path: string | undefined): Promise<Deno.Kv> {
  if (path && path !== ":memory:") {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
    await Deno.mkdir(dir, { recursive: true });
  }
  return await Deno.openKv(path);
}

if (import.meta.main) {
  let config;
  try {
    config = loadConfig(readEnv());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`mcq-edge: ${error.message}`);
    Deno.exit(1);
  }
  const kv = await openKv(config.kvPath);
  const app = await createApp({ config, kv });
  const janitor = startJanitor(kv, config, Date.now);
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: ({ hostname, port }) =>
      console.log(
        `mcq-edge listening on http://${hostname}:${port} (KV: ${
          config.kvPath ?? "platform default"
        })`,
      ),
  }, app);
  // Graceful shutdown: stop accepting, let in-flight requests (and their group commits) finish, close KV.
  Deno.addSignalListener("SIGTERM", async () => {
    janitor.stop();
    await server.shutdown();
    kv.close();
    Deno.exit(0);
  });
}
