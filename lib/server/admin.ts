import { timingSafeEqualString } from "../base/crypto.ts";
import { HttpError } from "../base/http_error.ts";
import { createThrottle, type Throttle } from "../accounts/throttle.ts";
import type { Session } from "../sessions/mod.ts";

/** How long entering the admin token in the dashboard's form lasts. */
export const ADMIN_WINDOW_MS = 15 * 60_000;

/** Whether `session` entered the admin token less than ADMIN_WINDOW_MS before `now`. */
export function isAdminSession(session: Session, now: number): boolean {
  return (session.record.data.adminUntil ?? 0) > now;
}

/**
 * Judges admin tokens, throttled per address in the `admin` bucket (apart from logins, so
 * a login flood does not lock the admin out). Each attempt reserves its slot before the
 * token is judged, so parallel guesses cannot outrun the limit. Only built when
 * `ADMIN_TOKEN` is set.
 */
export class AdminGate {
  /** One for the app's life: it takes an address's attempts in turn. */
  readonly #throttle: Throttle;

  constructor(
    kv: Deno.Kv,
    private readonly token: string,
    now: () => number,
  ) {
    this.#throttle = createThrottle(kv, { now, bucket: "admin" });
  }

  /** Whether `given` is the admin token; 429 while `address` is throttled. */
  async judge(given: string, address: string): Promise<boolean> {
    const throttle = this.#throttle;
    const slot = await throttle.reserve(address, address);
    try {
      if (!timingSafeEqualString(given, this.token)) return false;
      await throttle.succeeded(slot);
      return true;
    } finally {
      throttle.settled(slot);
    }
  }

  /**
   * The admin API's guard: 401 without the right `Authorization: Bearer` token (scheme in
   * any case, token compared in constant time), 429 after repeated failures.
   */
  async requireBearer(req: Request, address: string): Promise<void> {
    const given = bearerToken(req.headers.get("authorization") ?? "");
    if (!await this.judge(given, address)) {
      throw new HttpError(401, "A valid admin token is required", {}, {
        "WWW-Authenticate": 'Bearer realm="admin"',
      });
    }
  }
}

/**
 * The credentials of a Bearer `Authorization` header, "" for any other scheme. The scheme
 * is matched in any case (RFC 9110: auth schemes are case-insensitive).
 */
export function bearerToken(header: string): string {
  const scheme = /^bearer +/i.exec(header);
  return scheme ? header.slice(scheme[0].length).trim() : "";
}

/** Writes `key` as its parts joined by "/", a part's own "/" and "%" percent-encoded. */
export function formatKey(key: Deno.KvKey): string {
  return key.map((part) =>
    String(part).replaceAll("%", "%25").replaceAll("/", "%2F")
  ).join("/");
}

/** Deno KV refuses keys longer than this once encoded, with a TypeError. */
export const MAX_KEY_BYTES = 2048;

const utf8 = new TextEncoder();

/** A key of string parts as Deno KV encodes it: a tag and a terminator per part, NUL escaped. */
function encodedKeyBytes(key: string[]): number {
  let bytes = 0;
  for (const part of key) {
    bytes += 2 + utf8.encode(part).length + part.split("\0").length - 1;
  }
  return bytes;
}

/**
 * The inverse of {@link formatKey}; every part is read as a string (all mcq-edge keys are).
 * 400 for an empty part, bad percent-encoding, or a key past Deno KV's 2 KiB limit.
 */
export function parseKey(text: string): string[] {
  if (text === "") return [];
  const key = text.split("/").map((part) => {
    if (part === "") throw new HttpError(400, "A key part may not be empty");
    try {
      return decodeURIComponent(part);
    } catch {
      throw new HttpError(400, "Malformed percent-encoding in key");
    }
  });
  const bytes = encodedKeyBytes(key);
  if (bytes > MAX_KEY_BYTES) {
    throw new HttpError(
      400,
      `The key is too long: ${bytes} bytes once encoded, the store allows ${MAX_KEY_BYTES}`,
    );
  }
  return key;
}

/** KV values as JSON: counters become `{"$u64": "12"}`, bytes `{"$bytes": "<base64>"}`. */
export function toJsonValue(value: unknown): unknown {
  if (value instanceof Deno.KvU64) return { $u64: value.value.toString() };
  if (value instanceof Uint8Array) {
    return { $bytes: btoa(String.fromCharCode(...value)) };
  }
  if (typeof value === "bigint") return { $bigint: value.toString() };
  return value;
}

/** The inverse of {@link toJsonValue} for values written through the API. */
export function fromJsonValue(value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const v = (value as Record<string, unknown>)[keys[0]];
    if (keys.length === 1 && typeof v === "string") {
      if (keys[0] === "$u64" && /^\d{1,20}$/.test(v) && BigInt(v) < 2n ** 64n) {
        return new Deno.KvU64(BigInt(v));
      }
      if (keys[0] === "$bigint" && /^-?\d{1,40}$/.test(v)) return BigInt(v);
      if (keys[0] === "$bytes") {
        try {
          return Uint8Array.from(atob(v), (c) => c.charCodeAt(0));
        } catch {
          throw new HttpError(400, "Malformed $bytes value");
        }
      }
    }
  }
  return value;
}
