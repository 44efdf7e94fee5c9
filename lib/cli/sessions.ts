/**
 * `deno task sessions`: lists the live sessions and their data, like a `dump.py` for the store.
 *
 * Two sources:
 * - the KV file itself (default): `--kv PATH`, else `KV_PATH`, else the app's default file.
 *   Timeouts come from the same environment the app reads, so "live" means what it means to
 *   the app; dead records (local KV deletes expired keys lazily) are left out.
 * - a running server: `--url http://host:port` reads `GET /admin/sessions` (every page) with
 *   `ADMIN_TOKEN` from the environment.
 *
 * Only handles (SHA-256 of the cookie value) are shown, never a session id: the store does
 * not hold them. Errors are one `error:` line; exit 1 for a failure, 2 for bad usage.
 */
import { ConfigError, DEFAULT_KV_PATH, loadConfig } from "../base/config.ts";
import type { SessionSummary } from "../sessions/list.ts";
import { describeSession } from "../sessions/list.ts";

export const USAGE = `usage: deno task sessions [--kv PATH | --url URL] [--json]

Lists the live sessions: handle, user, created, last seen, expires, data.

  --kv PATH   read this Deno KV file (default: $KV_PATH, else ${DEFAULT_KV_PATH});
              a relative PATH is taken from where you typed the command
  --url URL   ask a running server instead (GET /admin/sessions), with the
              bearer token from $ADMIN_TOKEN
  --json      one JSON object per line instead of a table
  -h, --help  this help

Exit status: 0 listed (perhaps none), 1 failed, 2 bad usage.`;

export class UsageError extends Error {}
export class CliError extends Error {}

export interface Options {
  source: { kind: "kv"; path: string } | { kind: "url"; url: URL };
  json: boolean;
}

/** Where `deno task` was typed: a relative --kv is meant from there, not the project root. */
function fromInvocationDir(path: string): string {
  if (path.startsWith("/")) return path;
  const dir = Deno.env.get("INIT_CWD");
  return dir ? `${dir.replace(/\/+$/, "")}/${path}` : path;
}

/** Parses the command line; null means "print the help". */
export function parseOptions(
  argv: string[],
  env: Record<string, string | undefined>,
): Options | null {
  let kv: string | undefined;
  let url: string | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const value = () => {
      const v = eq !== -1 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined || v === "") {
        throw new UsageError(`${flag} needs a value`);
      }
      return v;
    };
    if (flag === "-h" || flag === "--help") return null;
    if (flag === "--kv") kv = value();
    else if (flag === "--url") url = value();
    else if (flag === "--json" && eq === -1) json = true;
    else if (arg.startsWith("-")) {
      throw new UsageError(`unknown option ${arg} (see --help)`);
    } else {
      throw new UsageError(`unexpected argument "${arg}" (see --help)`);
    }
  }
  if (kv !== undefined && url !== undefined) {
    throw new UsageError("give --kv or --url, not both");
  }
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--url ${url} is not a URL`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new UsageError(`--url ${url} is not an http:// or https:// URL`);
    }
    return { source: { kind: "url", url: parsed }, json };
  }
  const path = kv !== undefined
    ? fromInvocationDir(kv)
    : env.KV_PATH || DEFAULT_KV_PATH;
  if (path === ":memory:") {
    throw new UsageError(
      "KV_PATH=:memory: has no file to read; use --url to ask the running server",
    );
  }
  return { source: { kind: "kv", path }, json };
}

/** Every live session in the KV file at `path`, without creating a file that is not there. */
export async function fromKvFile(
  path: string,
  env: Record<string, string | undefined>,
  now = Date.now(),
): Promise<{ sessions: SessionSummary[]; dead: number }> {
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CliError(
        `no KV file at ${path} (has the app run with this KV_PATH? --kv PATH or --url URL choose another source)`,
      );
    }
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (!info.isFile) throw new CliError(`${path} is not a file`);
  let kv: Deno.Kv;
  try {
    kv = await Deno.openKv(path);
  } catch (error) {
    throw new CliError(
      `cannot open ${path} as a Deno KV store: ${(error as Error).message}`,
    );
  }
  try {
    const sessions: SessionSummary[] = [];
    let dead = 0;
    for await (const entry of kv.list({ prefix: ["sessions"] })) {
      const summary = describeSession(entry, config, now);
      if (summary) sessions.push(summary);
      else dead++;
    }
    return { sessions, dead };
  } catch (error) {
    throw new CliError(`reading ${path}: ${(error as Error).message}`);
  } finally {
    kv.close();
  }
}

const MAX_PAGES = 100_000;

/** Every live session a running server lists at GET /admin/sessions, page after page. */
export async function fromServer(
  base: URL,
  token: string | undefined,
): Promise<SessionSummary[]> {
  if (!token) {
    throw new UsageError(
      "ADMIN_TOKEN is not set: --url needs the server's admin token in the environment",
    );
  }
  const sessions: SessionSummary[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const url = new URL("/admin/sessions", base);
    url.searchParams.set("limit", "1000");
    if (cursor) url.searchParams.set("cursor", cursor);
    let res: Response;
    try {
      res = await fetch(url, {
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
        },
        redirect: "manual",
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new CliError(
        `cannot reach ${base.origin}: ${networkReason(error)}`,
      );
    }
    const text = await res.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch { /* reported below */ }
    const message = (body as { error?: unknown } | null)?.error;
    if (res.status === 401) {
      throw new CliError(
        `${base.origin} refused the admin token (401): check ADMIN_TOKEN`,
      );
    }
    if (res.status === 404) {
      throw new CliError(
        `${base.origin} has no admin API (404): is ADMIN_TOKEN set on the server?`,
      );
    }
    if (res.status !== 200) {
      throw new CliError(
        `GET ${url.pathname} answered ${res.status}${
          typeof message === "string" ? `: ${message}` : ""
        }`,
      );
    }
    const data = body as { sessions?: unknown; cursor?: unknown } | null;
    if (
      !data || !Array.isArray(data.sessions) ||
      !(data.cursor === null || typeof data.cursor === "string")
    ) {
      throw new CliError(
        `${base.origin} answered something that is not a session list`,
      );
    }
    sessions.push(...data.sessions as SessionSummary[]);
    if (data.cursor === null || data.cursor === cursor) return sessions;
    cursor = data.cursor;
  }
  throw new CliError(`more than ${MAX_PAGES} pages of sessions`);
}

function networkReason(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return "no answer within 30 s";
  }
  // Deno's fetch says "fetch failed"; what happened is in the cause.
  const messages: string[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    messages.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  const text = messages.join(" ");
  if (/refused/i.test(text)) {
    return "connection refused (is the server running?)";
  }
  if (/dns|lookup|resolve|not known/i.test(text)) return "unknown host";
  if (/reset/i.test(text)) return "connection reset";
  return (messages.at(-1) ?? text).split("\n")[0];
}

/** "2026-01-02 03:04:05" (UTC) from an ISO timestamp. */
function shortTime(iso: string): string {
  return iso.length >= 19 ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : iso;
}

/** A readable table: one row per session, data as compact JSON in the last column. */
export function formatTable(sessions: SessionSummary[]): string {
  const header = [
    "handle",
    "user",
    "created (UTC)",
    "last seen",
    "expires",
    "data",
  ];
  const rows = sessions.map((s) => [
    s.handle,
    s.user ?? "-",
    shortTime(s.createdAt),
    shortTime(s.lastSeenAt),
    shortTime(s.expiresAt),
    JSON.stringify(s.data ?? {}),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i]))
      .join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const env = Deno.env.toObject();
  let options: Options | null;
  try {
    options = parseOptions(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}`);
    return 2;
  }
  if (options === null) {
    console.log(USAGE);
    return 0;
  }
  let sessions: SessionSummary[];
  let note = "";
  try {
    if (options.source.kind === "url") {
      sessions = await fromServer(options.source.url, env.ADMIN_TOKEN);
    } else {
      const found = await fromKvFile(options.source.path, env);
      sessions = found.sessions;
      if (found.dead) {
        note = ` (${found.dead} ended, not yet swept: not shown)`;
      }
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}`);
      return 2;
    }
    if (error instanceof CliError) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    throw error;
  }
  sessions.sort((a, b) =>
    a.lastSeenAt < b.lastSeenAt ? 1 : a.lastSeenAt > b.lastSeenAt ? -1 : 0
  );
  if (options.json) {
    for (const s of sessions) {
      console.log(JSON.stringify({
        handle: s.handle,
        user: s.user,
        createdAt: s.createdAt,
        lastSeenAt: s.lastSeenAt,
        expiresAt: s.expiresAt,
        data: s.data,
      }));
    }
    return 0;
  }
  if (sessions.length > 0) console.log(formatTable(sessions));
  console.log(
    `${sessions.length === 0 ? "no" : sessions.length} live session${
      sessions.length === 1 ? "" : "s"
    }${note}`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(
      `error: ${
        (error instanceof Error ? error.message : String(error)).split("\n")[0]
      }`,
    );
    Deno.exit(1);
  }
}
