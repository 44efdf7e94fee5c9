/**
 * `deno task cookies URL`: fetches URL once (redirects are not followed), prints the status and
 * every `Set-Cookie` header attribute by attribute, with warnings for risky cookies.
 *
 * Exit codes: 0 when the URL answered (even with warnings, even 4xx/5xx: the cookies are what is
 * inspected), 1 for a bad URL or a server that cannot be reached, 2 for usage errors.
 */
import { parseSetCookie, type SetCookie } from "cookie";
import { networkReason } from "./cookie_jar.ts";

const USAGE = `usage: deno task cookies [options] URL

Fetches URL (without following redirects) and prints each Set-Cookie header attribute by
attribute, with warnings for risky cookies.

options:
  --method METHOD    the request method (default GET)
  --cookie 'a=1; b=2'  send this Cookie header
  -h, --help         this help`;

/** A session-looking cookie name: its theft would be a stolen login. */
export const SESSION_NAME = /sess|sid|token|auth/i;
/** Browsers cap a cookie's lifetime at 400 days (RFC 6265bis). */
export const MAX_LIFETIME_DAYS = 400;
/** Beyond this, a session cookie outlives any sensible session. */
export const MAX_SESSION_LIFETIME_DAYS = 30;

const DAY = 86400;

/** One Set-Cookie header, understood. */
export interface CookieReport {
  header: string;
  cookie: SetCookie;
  /** Lifetime in seconds from the response's time; undefined for a session (non-persistent) cookie. */
  lifetime: number | undefined;
  prefix: "__Host-" | "__Secure-" | null;
  warnings: string[];
}

/** Which attributes a header names, however `parseSetCookie` reads their values. */
function attributeNames(header: string): Set<string> {
  return new Set(
    header.split(";").slice(1).map((part) =>
      part.split("=")[0].trim().toLowerCase()
    ),
  );
}

/** Parses one Set-Cookie header received from `url` and lists what is risky about it. */
export function inspectSetCookie(
  header: string,
  url: URL,
  now = Date.now(),
): CookieReport {
  const cookie = parseSetCookie(header, { decode: (raw) => raw });
  const prefix = prefixOf(cookie.name);
  const lifetime = lifetimeOf(cookie, now);
  const clears = lifetime !== undefined && lifetime <= 0;
  const session = SESSION_NAME.test(cookie.name);
  const warnings = [
    ...malformedWarnings(cookie, attributeNames(header)),
    ...exposureWarnings(cookie, session, clears),
    ...lifetimeWarnings(session, lifetime),
    ...secureWarnings(cookie, prefix, url),
  ];
  return { header, cookie, lifetime, prefix, warnings };
}

function prefixOf(name: string): CookieReport["prefix"] {
  return name.startsWith("__Host-")
    ? "__Host-"
    : name.startsWith("__Secure-")
    ? "__Secure-"
    : null;
}

/** Seconds from `now`; undefined for a session (non-persistent) cookie. */
function lifetimeOf(cookie: SetCookie, now: number): number | undefined {
  return cookie.maxAge !== undefined
    ? cookie.maxAge
    : cookie.expires
    ? Math.round((cookie.expires.getTime() - now) / 1000)
    : undefined;
}

/** Attributes present but unreadable, which browsers drop. */
function malformedWarnings(cookie: SetCookie, names: Set<string>): string[] {
  const warnings: string[] = [];
  if (!cookie.name) warnings.push("no cookie name: browsers may ignore it");
  if (names.has("max-age") && cookie.maxAge === undefined) {
    warnings.push("Max-Age is not a whole number: browsers ignore it");
  }
  if (names.has("expires") && !cookie.expires) {
    warnings.push("Expires is not a date: browsers ignore it");
  }
  if (names.has("samesite") && !cookie.sameSite) {
    warnings.push("SameSite is not Strict, Lax or None: browsers ignore it");
  }
  return warnings;
}

/** Who else gets to read or send the cookie: page scripts, other sites. */
function exposureWarnings(
  cookie: SetCookie,
  session: boolean,
  clears: boolean,
): string[] {
  const warnings: string[] = [];
  if (session && !cookie.httpOnly && !clears) {
    warnings.push(
      "looks like a session cookie but has no HttpOnly: page scripts (and XSS) can read it",
    );
  }
  if (!cookie.sameSite && !clears) {
    warnings.push(
      "no SameSite: browsers differ on the default; say Lax or Strict to limit cross-site requests",
    );
  }
  if (cookie.sameSite === "none" && !cookie.secure) {
    warnings.push("SameSite=None without Secure: browsers reject it");
  }
  return warnings;
}

function lifetimeWarnings(
  session: boolean,
  lifetime: number | undefined,
): string[] {
  if (lifetime !== undefined && lifetime > MAX_LIFETIME_DAYS * DAY) {
    return [
      `lifetime over ${MAX_LIFETIME_DAYS} days (${
        humanSeconds(lifetime)
      }): browsers cap it at ${MAX_LIFETIME_DAYS} days`,
    ];
  }
  if (
    session && lifetime !== undefined &&
    lifetime > MAX_SESSION_LIFETIME_DAYS * DAY
  ) {
    return [
      `session-looking cookie living over ${MAX_SESSION_LIFETIME_DAYS} days (${
        humanSeconds(lifetime)
      }): a stolen one stays useful that long`,
    ];
  }
  return [];
}

/** Secure, and the attributes that require it: the name prefixes and Partitioned. */
function secureWarnings(
  cookie: SetCookie,
  prefix: CookieReport["prefix"],
  url: URL,
): string[] {
  const warnings: string[] = [];
  if (url.protocol === "https:" && !cookie.secure) {
    warnings.push(
      "no Secure on an https site: the cookie would also be sent over plain http",
    );
  }
  warnings.push(...prefixWarnings(cookie, prefix));
  if (cookie.partitioned && !cookie.secure) {
    warnings.push("Partitioned without Secure: browsers reject it");
  }
  if (url.protocol === "http:" && cookie.secure && !isLoopback(url.hostname)) {
    warnings.push("Secure cookie set over plain http: browsers reject it");
  }
  return warnings;
}

function prefixWarnings(
  cookie: SetCookie,
  prefix: CookieReport["prefix"],
): string[] {
  if (prefix === "__Host-") {
    const problems = [];
    if (!cookie.secure) problems.push("no Secure");
    if (cookie.domain !== undefined) problems.push("a Domain");
    if (cookie.path !== "/") problems.push("a Path other than /");
    return problems.length
      ? [`__Host- cookie with ${problems.join(", ")}: browsers reject it`]
      : [];
  }
  if (prefix === "__Secure-" && !cookie.secure) {
    return ["__Secure- cookie without Secure: browsers reject it"];
  }
  return [];
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname.endsWith(".localhost") ||
    /^127\./.test(hostname) || hostname === "[::1]";
}

/** A number of seconds as "30 minutes", "400 days", ... */
export function humanSeconds(seconds: number): string {
  const units: [string, number][] = [["day", DAY], ["hour", 3600], [
    "minute",
    60,
  ]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${unit}${Math.abs(n) === 1 ? "" : "s"}`;
    }
  }
  if (Math.abs(seconds) >= DAY) {
    return `about ${Math.round(seconds / DAY)} days`;
  }
  return `${seconds} second${Math.abs(seconds) === 1 ? "" : "s"}`;
}

/** The lines printed for one cookie. */
export function formatReport(report: CookieReport, index: number): string[] {
  const { cookie, lifetime, prefix, warnings } = report;
  const yes = (b: boolean | undefined) => (b ? "yes" : "no");
  const rows: [string, string][] = [
    ["name", cookie.name || "(none)"],
    ["value", plural((cookie.value ?? "").length, "character")],
    ["Path", cookie.path ?? "(not set: the default path of the URL)"],
    ["Domain", cookie.domain ?? "(not set: this host only)"],
    [
      "Max-Age",
      cookie.maxAge === undefined
        ? "(not set)"
        : `${cookie.maxAge} (${
          cookie.maxAge <= 0
            ? "deletes the cookie"
            : humanSeconds(cookie.maxAge)
        })`,
    ],
    [
      "Expires",
      cookie.expires === undefined
        ? "(not set)"
        : `${cookie.expires.toUTCString()}${
          cookie.maxAge === undefined && lifetime !== undefined && lifetime <= 0
            ? " (in the past: deletes the cookie)"
            : ""
        }`,
    ],
    ["HttpOnly", yes(cookie.httpOnly)],
    ["Secure", yes(cookie.secure)],
    [
      "SameSite",
      cookie.sameSite
        ? String(cookie.sameSite)[0].toUpperCase() +
          String(cookie.sameSite).slice(1)
        : "(not set)",
    ],
    ["Partitioned", yes(cookie.partitioned)],
    ["prefix", prefix ?? "none"],
    [
      "lifetime",
      lifetime === undefined
        ? "session (until the browser is closed)"
        : lifetime <= 0
        ? "none: this header deletes the cookie"
        : humanSeconds(lifetime),
    ],
  ];
  if (cookie.priority) rows.push(["Priority", cookie.priority]);
  const lines = [`Set-Cookie #${index}: ${cookie.name || "(no name)"}`];
  for (const [key, value] of rows) lines.push(`  ${key.padEnd(12)}${value}`);
  for (const warning of warnings) lines.push(`  warning: ${warning}`);
  return lines;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

class UsageError extends Error {}
class FailError extends Error {}

interface Options {
  url: URL;
  method: string;
  cookie: string | null;
}

function parseArgs(argv: string[]): Options | null {
  let method = "GET";
  let cookie: string | null = null;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const value = () => {
      if (eq !== -1) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    if (flag === "-h" || flag === "--help") return null;
    else if (flag === "--method" || flag === "-X") {
      method = value().toUpperCase();
    } else if (flag === "--cookie") cookie = value();
    else if (arg.startsWith("-") && arg.length > 1) {
      throw new UsageError(`unknown option ${arg} (see --help)`);
    } else rest.push(arg);
  }
  if (rest.length !== 1) {
    throw new UsageError(
      rest.length === 0 ? "which URL? (see --help)" : "give exactly one URL",
    );
  }
  let url: URL;
  try {
    url = new URL(rest[0]);
  } catch {
    throw new FailError(`${rest[0]} is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new FailError(`${rest[0]} is not an http:// or https:// URL`);
  }
  if (!/^[A-Z]+$/.test(method)) {
    throw new UsageError(`--method ${method} is not a method`);
  }
  return { url, method, cookie };
}

/** Runs the inspector, printing to stdout; answers the exit code. */
export async function main(argv: string[]): Promise<number> {
  let options: Options | null;
  try {
    options = parseArgs(argv);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  }
  if (options === null) {
    console.log(USAGE);
    return 0;
  }
  const { url, method, cookie } = options;
  const headers = new Headers();
  if (cookie !== null) headers.set("cookie", cookie);
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      redirect: "manual",
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    console.error(`error: cannot reach ${url.origin}: ${networkReason(err)}`);
    return 1;
  }
  await response.body?.cancel().catch(() => {});
  console.log(
    `${method} ${url.href} → ${response.status} ${response.statusText}`
      .trimEnd(),
  );
  const location = response.headers.get("location");
  if (location !== null) {
    console.log(`Location: ${location} (not followed)`);
  }
  const date = Date.parse(response.headers.get("date") ?? "");
  const now = Number.isFinite(date) ? date : Date.now();
  const headersList = response.headers.getSetCookie();
  if (headersList.length === 0) {
    console.log("No Set-Cookie headers.");
    return 0;
  }
  console.log(
    `${headersList.length} Set-Cookie header${
      headersList.length === 1 ? "" : "s"
    }`,
  );
  let warnings = 0;
  headersList.forEach((header, i) => {
    const report = inspectSetCookie(header, url, now);
    warnings += report.warnings.length;
    console.log("");
    console.log(formatReport(report, i + 1).join("\n"));
  });
  console.log("");
  console.log(
    warnings === 0
      ? "No warnings."
      : `${warnings} warning${warnings === 1 ? "" : "s"}.`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(
      `error: ${
        (err instanceof Error ? err.message : String(err)).split("\n")[0]
      }`,
    );
    Deno.exit(1);
  }
}
