/**
 * One way to start a server process for the end-to-end tests and the load tools: a command
 * (by default `deno run -A main.ts`) on a free port of 127.0.0.1, ready once a path answers
 * 200. Where its output goes is the caller's choice: kept in memory (tests read it), its
 * stderr only with a cap (a long soak must not hold its request log), or a file (the
 * benchmark: relaying a line per request through this process would cost CPU it measures).
 */

export const ROOT = new URL("../..", import.meta.url).pathname;

/** A free TCP port on 127.0.0.1 (released before it is returned). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * "memory": stdout and stderr kept whole; "stderr": stdout dropped, the first 1,000 lines
 * of stderr kept; `{ file }`: both written to that file by the shell (then `exec`, so the
 * pid is the server's), nothing kept here.
 */
export type ServerOutput = "memory" | "stderr" | { file: string };

export interface ServerOptions {
  /** The environment, over PORT and HOST (the free port on 127.0.0.1). */
  env?: Record<string, string>;
  /** Only `env` (and PORT and HOST), not this process's environment. */
  clearEnv?: boolean;
  /** The command (default: this Deno running main.ts) and its working directory (ROOT). */
  cmd?: string[];
  cwd?: string;
  output?: ServerOutput;
  /** A path that answers 200 once the server is ready (default `/healthz`). */
  ready?: string;
  timeoutMs?: number;
  /** Named in the errors (default "server"). */
  name?: string;
}

export interface Server {
  url: string;
  port: number;
  child: Deno.ChildProcess;
  /** Whether the process has ended. */
  readonly exited: boolean;
  /** What the process printed so far (as much as `output` keeps). */
  output(): string;
  /**
   * Sends `signal` (default SIGTERM) and waits for the process to end; after `killAfterMs`
   * without an end, SIGKILL.
   */
  stop(signal?: Deno.Signal, killAfterMs?: number): Promise<Deno.CommandStatus>;
}

const MAX_STDERR_LINES = 1000;

/** Reads `stream` into `into`: whole, or as at most `maxLines` lines. */
async function collect(
  stream: ReadableStream<Uint8Array>,
  into: string[],
  maxLines = Infinity,
) {
  const decoder = new TextDecoder();
  if (maxLines === Infinity) {
    for await (const chunk of stream) {
      into.push(decoder.decode(chunk, { stream: true }));
    }
    return;
  }
  let rest = "";
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      if (into.length < maxLines) into.push(line + "\n");
    }
  }
  if (rest) into.push(rest);
}

/** The last `lines` lines of a file, or "(no log)". */
export async function tail(path: string, lines = 20): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-lines)
      .join("\n");
  } catch {
    return "(no log)";
  }
}

function spawn(opts: ServerOptions, port: number): Deno.ChildProcess {
  const cmd = opts.cmd ?? [Deno.execPath(), "run", "-A", "main.ts"];
  const out = opts.output ?? "memory";
  const toFile = typeof out === "object";
  return new Deno.Command(toFile ? "/bin/sh" : cmd[0], {
    args: toFile
      ? [
        "-c",
        'log="$1"; shift; exec "$@" >"$log" 2>&1',
        "sh",
        out.file,
        ...cmd,
      ]
      : cmd.slice(1),
    cwd: opts.cwd ?? ROOT,
    // The tests' own quizzes: editing the shipped ones never breaks a test.
    env: {
      HOST: "127.0.0.1",
      PORT: String(port),
      QUIZ_DIR: `${ROOT}tests/fixtures/quizzes`,
      ...opts.env,
    },
    clearEnv: opts.clearEnv,
    stdin: "null",
    stdout: out === "memory" ? "piped" : "null",
    stderr: toFile ? "null" : "piped",
  }).spawn();
}

/** Waits until `server` answers `ready` with a 2xx; throws if it ends or times out. */
async function awaitReady(server: Server, opts: ServerOptions) {
  const ready = opts.ready ?? "/healthz";
  const name = opts.name ?? "server";
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const log = async () =>
    typeof opts.output === "object"
      ? await tail(opts.output.file)
      : server.output();
  for (;;) {
    if (server.exited) {
      throw new Error(`${name} exited at start; its output:\n${await log()}`);
    }
    try {
      const res = await fetch(server.url + ready);
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      throw new Error(
        `${name} did not answer ${ready} within ${
          timeoutMs / 1000
        } s; its output:\n${await log()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts the process and waits until it is ready; always `stop()` it in a `finally`. */
export async function startProcess(opts: ServerOptions = {}): Promise<Server> {
  const port = freePort();
  const child = spawn(opts, port);
  const out: string[] = [];
  const mode = opts.output ?? "memory";
  // Only the piped streams may be read (the others throw on access).
  const pumps = Promise.all([
    mode === "memory" ? collect(child.stdout, out) : null,
    mode === "memory" ? collect(child.stderr, out) : null,
    mode === "stderr" ? collect(child.stderr, out, MAX_STDERR_LINES) : null,
  ]);
  let ended = false;
  const status = child.status.then((s) => {
    ended = true;
    return s;
  });
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
  };
  const server: Server = {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    get exited() {
      return ended;
    },
    output: () => out.join(""),
    async stop(signal = "SIGTERM", killAfterMs = Infinity) {
      if (!ended) kill(signal);
      if (killAfterMs !== Infinity) {
        const timer = setTimeout(() => kill("SIGKILL"), killAfterMs);
        await status.finally(() => clearTimeout(timer));
      }
      const s = await status;
      await pumps;
      return s;
    },
  };
  try {
    await awaitReady(server, opts);
  } catch (error) {
    await server.stop("SIGKILL");
    throw error;
  }
  return server;
}
