/**
 * `deno task start` (and `deno task dev`): validates the configuration, then runs the server
 * in a child `deno run` whose permissions are derived from it, so every documented value works
 * without granting more than it needs. This launcher itself may only read the config variables
 * and run `deno`; a bad value is one line, `mcq-edge: <VARIABLE>...`, and exit code 1.
 *
 *   deno task start        builds the islands, then serves (lib/cli/server.ts, main.ts's server)
 *   deno task dev          serves lib/cli/dev.ts under --watch (rebuilds on change)
 */
import {
  type Config,
  CONFIG_VARS,
  ConfigError,
  isKvConnectUrl,
  kvFolder,
  loadConfig,
  readEnv,
} from "../base/config.ts";

/** The project root, with a trailing slash. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** The token variable Deno's KV Connect client reads. */
export const KV_TOKEN_VAR = "DENO_KV_ACCESS_TOKEN";

/** `host:port` as Deno's `--allow-net` spells it (IPv6 in brackets). */
function netAddress(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Deno splits permission lists on commas, so a path with one cannot be granted. */
function noComma(path: string): string {
  if (path.includes(",")) {
    throw new ConfigError(
      `KV_PATH=${
        JSON.stringify(path)
      }: a KV folder with "," in its name cannot be granted`,
    );
  }
  return path;
}

/**
 * The `deno run` permission flags for a server with `config`: read the project; read and
 * write the KV file's folder; net for the listen address and a KV Connect URL's host; env for
 * the config variables (and the KV Connect token). `dev` adds what rebuilding needs.
 */
export function childFlags(config: Config, dev = false): string[] {
  const read = [ROOT];
  const write: string[] = [];
  const net = [netAddress(config.host, config.port)];
  const env: string[] = [...CONFIG_VARS];
  // The quiz files, read once at start-up (a QUIZ_DIR outside the project too).
  const quizzes = config.quizDir.startsWith("/")
    ? config.quizDir
    : `${ROOT}${config.quizDir}`;
  read.push(noComma(quizzes));
  const folder = kvFolder(config.kvPath);
  if (folder !== null) {
    read.push(noComma(folder));
    write.push(folder);
  }
  if (isKvConnectUrl(config.kvPath)) {
    const url = new URL(config.kvPath as string);
    const port = url.port || (url.protocol === "https:" ? "443" : "80");
    net.push(`${url.hostname}:${port}`);
    env.push(KV_TOKEN_VAR);
  }
  const flags = [];
  if (dev) {
    write.push(`${ROOT}static/build`, `${ROOT}tmp`);
    flags.push(
      // A quiz edit restarts the server too (a broken file shows its one line and the
      // watcher waits for the next edit).
      `--watch=static/style.css,static/favicon.svg,${noComma(quizzes)}`,
      `--allow-run=${Deno.execPath()}`,
    );
  }
  flags.push(
    `--allow-read=${read.join(",")}`,
    `--allow-net=${net.join(",")}`,
    `--allow-env=${env.join(",")}`,
  );
  if (write.length > 0) flags.push(`--allow-write=${write.join(",")}`);
  return flags;
}

/** Validates the environment; returns the child's flags, or null after printing the one line. */
function validate(dev: boolean): string[] | null {
  try {
    const config = loadConfig(readEnv());
    if (isKvConnectUrl(config.kvPath) && !Deno.env.get(KV_TOKEN_VAR)) {
      throw new ConfigError(
        `${KV_TOKEN_VAR}: required when KV_PATH is a KV Connect URL (the denokv server's access token)`,
      );
    }
    return childFlags(config, dev);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`mcq-edge: ${error.message}`);
    return null;
  }
}

/** Runs `deno <args>` in the project, forwarding SIGTERM and SIGINT; resolves to its exit code. */
async function run(args: string[]): Promise<number> {
  const child = new Deno.Command("deno", { args, cwd: ROOT }).spawn();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  const forward = signals.map((signal) => {
    const listener = () => {
      try {
        child.kill(signal);
      } catch { /* already ended */ }
    };
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  });
  const status = await child.status;
  forward.forEach((remove) => remove());
  return status.code;
}

async function main(): Promise<number> {
  const dev = Deno.args.includes("--dev");
  const flags = validate(dev);
  if (flags === null) return 1;
  if (dev) return await run(["run", ...flags, "lib/cli/dev.ts"]);
  const built = await run(["task", "--quiet", "build"]);
  if (built !== 0) return built;
  return await run(["run", ...flags, "lib/cli/server.ts"]);
}

if (import.meta.main) Deno.exit(await main());
