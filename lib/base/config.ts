/** Everything the app reads from its environment, validated once at start. */
export interface Config {
  port: number;
  host: string;
  /** undefined = the platform's default KV (Deno Deploy), else a file path or ":memory:". */
  kvPath: string | undefined;
  cookieName: string;
  /** Seconds. */
  idleTimeout: number;
  /** Seconds. */
  absoluteTimeout: number;
  mode: "kv" | "cookie";
  secrets: string[];
  cookieSecure: "auto" | "true" | "false";
  trustProxy: boolean;
  adminToken: string | undefined;
  pbkdf2Iterations: number;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Where the quiz files are: every `*.gift` and `*.aiken` file is one quiz. */
  quizDir: string;
}

/** A bad configuration value; its message is the one line printed before the server exits. */
export class ConfigError extends Error {}

export const DEFAULT_KV_PATH = "data/kv/mcq-edge.sqlite3";

/** Every variable the app reads: `deno task start` grants `--allow-env` for exactly these. */
export const CONFIG_VARS = [
  "PORT",
  "HOST",
  "KV_PATH",
  "SESSION_COOKIE_NAME",
  "SESSION_IDLE_TIMEOUT",
  "SESSION_ABSOLUTE_TIMEOUT",
  "SESSION_MODE",
  "SESSION_SECRET",
  "COOKIE_SECURE",
  "TRUST_PROXY",
  "ADMIN_TOKEN",
  "PBKDF2_ITERATIONS",
  "MAX_BODY_BYTES",
  "QUIZ_DIR",
  "DENO_DEPLOYMENT_ID",
] as const;

/** Reads just {@link CONFIG_VARS}, so the process needs no wider env permission. */
export function readEnv(): Record<string, string | undefined> {
  return Object.fromEntries(
    CONFIG_VARS.map((name) => [name, Deno.env.get(name)]),
  );
}

type Env = Record<string, string | undefined>;

/** True for a KV Connect URL (a denokv server), which `Deno.openKv` opens over the network. */
export function isKvConnectUrl(path: string | undefined): boolean {
  return path !== undefined && /^https?:\/\//i.test(path);
}

/**
 * The folder of a local KV file (relative paths stay relative), or null when `path` names no
 * file: the platform's KV, ":memory:" or a KV Connect URL.
 */
export function kvFolder(path: string | undefined): string | null {
  if (path === undefined || path === ":memory:" || isKvConnectUrl(path)) {
    return null;
  }
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

function isIPv4(host: string): boolean {
  const parts = host.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIPv6(host: string): boolean {
  if (!host.includes(":") || !/^[0-9a-fA-F:.]+$/.test(host)) return false;
  try {
    new URL(`http://[${host}]/`);
    return true;
  } catch {
    return false;
  }
}

/** An IP address or an RFC 1123 host name (the last label not all digits, as URLs would read it as IPv4). */
function isHost(host: string): boolean {
  if (isIPv4(host) || isIPv6(host)) return true;
  const labels = host.replace(/\.$/, "").split(".");
  return host.length <= 253 &&
    labels.every((l) =>
      /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l)
    ) &&
    !/^\d+$/.test(labels[labels.length - 1]);
}

function kvPathOf(env: Env, fallback: string | undefined): string | undefined {
  const raw = env.KV_PATH || fallback;
  if (isKvConnectUrl(raw)) {
    try {
      new URL(raw as string);
    } catch {
      throw new ConfigError(
        `KV_PATH=${JSON.stringify(raw)}: not a valid KV Connect URL`,
      );
    }
  } else if (raw !== undefined && (raw.endsWith("/") || /[\0\r\n]/.test(raw))) {
    throw new ConfigError(
      `KV_PATH=${
        JSON.stringify(raw)
      }: expected a file path, ":memory:" or a KV Connect URL`,
    );
  }
  return raw;
}

/**
 * Makes sure a KV file can be opened at `path`: its folder exists (created if missing) and is
 * writable, and `path` is not a directory. Run by the server before `Deno.openKv`.
 * @throws ConfigError naming KV_PATH and what is wrong.
 */
export async function prepareKvFile(path: string): Promise<void> {
  const folder = kvFolder(path) ?? ".";
  const fail = (problem: string, error?: unknown): never => {
    // Deno's own advice ("run again with --allow-all") is no flag a user of the task can pass.
    const reason = error === undefined
      ? ""
      : error instanceof Deno.errors.NotCapable
      ? ": Deno does not let the server use this path"
      : `: ${firstLine(error)}`;
    throw new ConfigError(
      `KV_PATH=${JSON.stringify(path)}: ${problem}${reason}`,
    );
  };
  const existing = await Deno.stat(path).catch((e) =>
    e instanceof Deno.errors.NotFound ? null : fail("cannot be read", e)
  );
  if (existing?.isDirectory) fail("is a directory; name a file in it");
  await Deno.mkdir(folder, { recursive: true }).catch((e) =>
    fail(`its folder ${folder} cannot be created`, e)
  );
  // A probe file: only writing shows whether the folder is writable (root, ACLs, read-only mounts).
  const probe = await Deno.makeTempFile({
    dir: folder,
    prefix: ".mcq-edge-probe-",
  })
    .catch((e) => fail(`its folder ${folder} is not writable`, e));
  await Deno.remove(probe);
}

/** The first line of an error's message, for one-line reports. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0].trim();
}

function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(
      `${name}=${
        JSON.stringify(raw)
      }: expected a whole number from ${min} to ${max}`,
    );
  }
  return Number(raw);
}

function oneOf<T extends string>(
  env: Env,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!allowed.includes(raw as T)) {
    throw new ConfigError(
      `${name}=${JSON.stringify(raw)}: expected one of ${allowed.join(", ")}`,
    );
  }
  return raw as T;
}

/**
 * Reads and validates the configuration from `env` (normally `Deno.env.toObject()`).
 * `kvPathDefault` is used when KV_PATH is unset, except on Deno Deploy where the platform's KV is used.
 * @throws ConfigError naming the variable and what is allowed.
 */
export function loadConfig(
  env: Env,
  kvPathDefault: string | undefined = DEFAULT_KV_PATH,
): Config {
  // With several bad variables, the first checked here is the one reported.
  const { idleTimeout, absoluteTimeout } = timeoutsOf(env);
  const cookieName = cookieNameOf(env);
  const { mode, secrets } = sessionModeOf(env);
  const adminToken = adminTokenOf(env);
  const onDeploy = env.DENO_DEPLOYMENT_ID !== undefined;
  const host = hostOf(env);
  return {
    port: integer(env, "PORT", 8000, 0, 65535),
    host,
    kvPath: kvPathOf(env, onDeploy ? undefined : kvPathDefault),
    cookieName,
    idleTimeout,
    absoluteTimeout,
    mode,
    secrets,
    cookieSecure: oneOf(
      env,
      "COOKIE_SECURE",
      ["auto", "true", "false"] as const,
      "auto",
    ),
    trustProxy:
      oneOf(env, "TRUST_PROXY", ["true", "false"] as const, "false") === "true",
    adminToken,
    pbkdf2Iterations: integer(
      env,
      "PBKDF2_ITERATIONS",
      600_000,
      1000,
      10_000_000,
    ),
    maxBodyBytes: integer(env, "MAX_BODY_BYTES", 16 * 1024, 1024, 1024 * 1024),
    quizDir: quizDirOf(env),
  };
}

function timeoutsOf(
  env: Env,
): Pick<Config, "idleTimeout" | "absoluteTimeout"> {
  const idleTimeout = integer(
    env,
    "SESSION_IDLE_TIMEOUT",
    1800,
    1,
    400 * 86400,
  );
  const absoluteTimeout = integer(
    env,
    "SESSION_ABSOLUTE_TIMEOUT",
    Math.max(86400, idleTimeout),
    1,
    400 * 86400,
  );
  if (absoluteTimeout < idleTimeout) {
    throw new ConfigError(
      `SESSION_ABSOLUTE_TIMEOUT=${absoluteTimeout}: must be at least SESSION_IDLE_TIMEOUT (${idleTimeout})`,
    );
  }
  return { idleTimeout, absoluteTimeout };
}

function cookieNameOf(env: Env): string {
  const cookieName = env.SESSION_COOKIE_NAME || "sessionId";
  // RFC 6265 token; a leading "__" would clash with the __Host- prefix we add ourselves.
  if (
    !/^[A-Za-z0-9!#$&'*+.^_`|~-]{1,64}$/.test(cookieName) ||
    cookieName.startsWith("__")
  ) {
    throw new ConfigError(
      `SESSION_COOKIE_NAME=${
        JSON.stringify(cookieName)
      }: expected 1-64 cookie-name characters (letters, digits, -_.!#$&'*+^|~), not starting with "__"`,
    );
  }
  return cookieName;
}

function sessionModeOf(env: Env): Pick<Config, "mode" | "secrets"> {
  const mode = oneOf(env, "SESSION_MODE", ["kv", "cookie"] as const, "kv");
  const secrets = (env.SESSION_SECRET ?? "").split(",").filter((s) => s !== "");
  if (mode === "cookie" && secrets.length === 0) {
    throw new ConfigError(
      "SESSION_SECRET: required when SESSION_MODE=cookie (one or more comma-separated secrets of at least 32 bytes)",
    );
  }
  if (secrets.some((s) => new TextEncoder().encode(s).length < 32)) {
    throw new ConfigError(
      "SESSION_SECRET: every comma-separated secret must be at least 32 bytes long",
    );
  }
  return { mode, secrets };
}

function adminTokenOf(env: Env): string | undefined {
  const adminToken = env.ADMIN_TOKEN || undefined;
  if (
    adminToken !== undefined &&
    (adminToken.length < 32 || /[^\x21-\x7e]/.test(adminToken))
  ) {
    throw new ConfigError(
      "ADMIN_TOKEN: must be at least 32 printable ASCII characters without spaces (or unset to disable the admin API)",
    );
  }
  return adminToken;
}

function hostOf(env: Env): string {
  const host = env.HOST || "127.0.0.1";
  if (!isHost(host)) {
    throw new ConfigError(
      `HOST=${
        JSON.stringify(host)
      }: expected an IP address (127.0.0.1, 0.0.0.0, ::1) or a host name`,
    );
  }
  return host;
}

/** The default folder of the quiz files, relative to the project. */
export const DEFAULT_QUIZ_DIR = "data/quizzes";

function quizDirOf(env: Env): string {
  const raw = env.QUIZ_DIR;
  if (raw === undefined || raw === "") return DEFAULT_QUIZ_DIR;
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f,]/.test(raw)) {
    throw new ConfigError(
      `QUIZ_DIR=${
        JSON.stringify(raw)
      }: expected a folder path without commas or control characters`,
    );
  }
  return raw.replace(/\/+$/, "") || "/";
}

/** A config for tests: defaults, overridden by `overrides`. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    ...loadConfig({ PBKDF2_ITERATIONS: "1000" }, ":memory:"),
    ...overrides,
  };
}
