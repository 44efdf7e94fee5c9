/**
 * Sealed cookies for `SESSION_MODE=cookie`: the session state travels in the
 * cookie itself, so it must be both secret (the browser and anything on the
 * path may read cookies) and tamper-proof (the browser may write them).
 *
 * Value format (only cookie-safe characters, no quoting needed):
 *
 *     v1.<kid>.<base64url iv, 12 bytes>.<base64url ciphertext + 16-byte GCM tag>
 *
 * - AES-256-GCM keys come from HKDF-SHA-256 over each configured secret, so a
 *   human-chosen `SESSION_SECRET` never keys the cipher directly.
 * - `kid` (key id) is a separate HKDF output: it lets `open` pick the right key
 *   during rotation without trying every secret, and reveals nothing about the
 *   secret it names.
 * - The additional authenticated data binds the version, the kid and the
 *   caller's context (the cookie name), so a value copied into another cookie,
 *   or with its parts re-ordered or its kid swapped, fails authentication.
 * - The expiry is sealed inside, so a client cannot extend its own cookie by
 *   replaying it after the `Max-Age` it was given.
 *
 * Changing the salt, the info strings or the AAD layout invalidates every
 * cookie in circulation: bump the version prefix instead.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { BoundedMap } from "../base/bounded_map.ts";

/** Thrown by {@link CookieCodec.seal} when the sealed value would not fit in a cookie. */
export class CookieTooLargeError extends Error {
  /**
   * @param size the length in bytes the value would have had
   * @param limit the configured `maxValueBytes`
   */
  constructor(readonly size: number, readonly limit: number) {
    super(
      `sealed session cookie would be ${size} bytes, over the ${limit}-byte limit ` +
        `(browsers drop cookies whose name and value exceed 4096 bytes); ` +
        `store less in the session`,
    );
    this.name = "CookieTooLargeError";
  }
}

/** The result of a successful {@link CookieCodec.open}. */
export interface Opened<T> {
  /** The payload exactly as it was passed to `seal` (after a JSON round trip). */
  payload: T;
  /**
   * True when the value was sealed under a non-primary (older) secret: the
   * caller should re-seal and re-issue it so the old secret can be retired.
   */
  stale: boolean;
}

/** Seals and opens cookie values; create one with {@link createCookieCodec}. */
export interface CookieCodec {
  /**
   * Encrypts and authenticates `payload` (anything JSON can represent) under
   * the primary secret, with `expiresAt` (epoch ms) sealed inside.
   * Throws {@link CookieTooLargeError} if the cookie value would exceed
   * `maxValueBytes`, and `TypeError` for a payload JSON cannot represent or a
   * non-finite `expiresAt`.
   */
  seal(payload: unknown, expiresAt: number): Promise<string>;
  /**
   * The payload of a value this codec sealed, or null for anything else:
   * tampered, truncated, re-ordered parts, unknown key id, another context
   * (cookie name), expired (`now >= expiresAt`), invalid JSON, wrong format,
   * oversize input, non-string input. Never throws.
   */
  open<T = unknown>(value: string, now: number): Promise<Opened<T> | null>;
}

/** Options for {@link createCookieCodec}. */
export interface CookieCodecOptions {
  /** Secrets, primary first; the primary seals, all of them open. Each ≥ 32 bytes UTF-8. */
  secrets: string[];
  /** Bound into every value; pass the cookie name so values cannot move between cookies. */
  context: string;
  /** Largest cookie value `seal` produces, in bytes. Default {@link DEFAULT_MAX_VALUE_BYTES}. */
  maxValueBytes?: number;
}

/**
 * Default cap on a sealed value: browsers keep cookies whose name plus value
 * is at most 4096 bytes, and this leaves room for the name and `=`.
 */
export const DEFAULT_MAX_VALUE_BYTES = 3800;

/** Browsers' cap on a cookie's name plus value (RFC 6265bis §5.6). */
const BROWSER_COOKIE_LIMIT = 4096;
/** 32 bytes = 256 bits, the strength of the AES key the secret feeds. */
const MIN_SECRET_BYTES = 32;

const VERSION = "v1";
// A fixed, public salt is fine for HKDF (RFC 5869 §3.1): it separates this
// application's keys from any other use of the same secret.
const HKDF_SALT = "mcq-edge session cookie salt 2024";
const ENC_INFO = "mcq-edge cookie v1";
// A different info string makes the key id independent of the cipher key:
// knowing the kid says nothing about the key.
const KID_INFO = "mcq-edge cookie kid v1";
const KID_BYTES = 6; // 6 bytes -> exactly 8 base64url characters, no padding bits
const IV_BYTES = 12; // the GCM-recommended nonce size; random per seal
const TAG_BYTES = 16;

/**
 * Values this codec sealed are remembered (about this many at most, and this many
 * characters of value and plaintext in all; those unused for longest go first), so that
 * opening one needs no decryption: a value that matches one sealed here exactly is
 * authentic by construction. (A browser sends back the value it was given last.)
 */
export const SEALED_KEPT = 10_000;
export const SEALED_KEPT_CHARS = 16_000_000;

const encoder = new TextEncoder();
// fatal: a plaintext that is not valid UTF-8 is rejected rather than patched
// up with U+FFFD (it cannot come from us, so it must not open).
const decoder = new TextDecoder("utf-8", { fatal: true });

const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;
const KID_RE = /^[A-Za-z0-9_-]{8}$/;

/** base64url without padding (node's Buffer: a fifth of a cookie page view's time otherwise). */
function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString("base64url");
}

/**
 * Strict base64url decoding: null unless `text` is the one canonical encoding
 * of its bytes. A lenient decoder ignores the spare low bits of the last
 * character, so several strings would open to the same cookie; requiring the
 * canonical form makes every character of the value matter.
 */
function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!BASE64URL_RE.test(text) || text.length % 4 === 1) return null;
  const bytes = new Uint8Array(Buffer.from(text, "base64url"));
  return toBase64Url(bytes) === text ? bytes : null;
}

/** Length of the unpadded base64url encoding of `n` bytes. */
function base64UrlLength(n: number): number {
  return Math.ceil((n * 4) / 3);
}

/**
 * Additional authenticated data: JSON keeps the fields unambiguous whatever
 * characters the context contains (a plain "." join would let "a.b" + "c"
 * collide with "a" + "b.c").
 */
function aadFor(kid: string, context: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify([VERSION, kid, context]));
}

interface DerivedKey {
  kid: string;
  key: CryptoKey;
  primary: boolean;
}

async function deriveKey(
  secret: string,
  primary: boolean,
): Promise<DerivedKey> {
  const ikm = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    "HKDF",
    false,
    ["deriveKey", "deriveBits"],
  );
  const salt = encoder.encode(HKDF_SALT);
  const key = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info: encoder.encode(ENC_INFO) },
    ikm,
    { name: "AES-GCM", length: 256 },
    false, // never exportable: the raw key stays inside WebCrypto
    ["encrypt", "decrypt"],
  );
  const kidBits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt, info: encoder.encode(KID_INFO) },
    ikm,
    KID_BYTES * 8,
  );
  return { kid: toBase64Url(new Uint8Array(kidBits)), key, primary };
}

/**
 * Builds a codec for one cookie. Derives every key up front, so `seal` and
 * `open` do no key derivation per request.
 *
 * Throws (with a message that names the problem but never a secret's value)
 * when there is no secret, a secret is shorter than 32 bytes of UTF-8, the
 * context is empty, or `maxValueBytes` is not a positive integer that keeps
 * name plus value within the browsers' 4096 bytes.
 */
export async function createCookieCodec(
  opts: CookieCodecOptions,
): Promise<CookieCodec> {
  const maxValueBytes = checkOptions(opts);
  const keys = await Promise.all(
    opts.secrets.map((s, i) => deriveKey(s, i === 0)),
  );
  return new CookieSealer(keys, opts.context, maxValueBytes);
}

/** Throws on the options {@link createCookieCodec} refuses; returns `maxValueBytes`. */
function checkOptions(opts: CookieCodecOptions): number {
  const { secrets, context } = opts;
  const maxValueBytes = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new Error("cookie codec: at least one SESSION_SECRET is required");
  }
  secrets.forEach((secret, i) => {
    if (typeof secret !== "string") {
      throw new TypeError(
        `cookie codec: SESSION_SECRET entry ${i + 1} is not a string`,
      );
    }
    const bytes = encoder.encode(secret).length;
    if (bytes < MIN_SECRET_BYTES) {
      // The length is fine to report; the value never is.
      throw new Error(
        `cookie codec: SESSION_SECRET entry ${i + 1} is ${bytes} bytes; ` +
          `at least ${MIN_SECRET_BYTES} are required`,
      );
    }
  });
  if (typeof context !== "string" || context === "") {
    throw new Error(
      "cookie codec: context (the cookie name) must be a non-empty string",
    );
  }
  const contextBytes = encoder.encode(context).length;
  if (
    !Number.isSafeInteger(maxValueBytes) || maxValueBytes <= 0 ||
    contextBytes + 1 + maxValueBytes > BROWSER_COOKIE_LIMIT
  ) {
    throw new RangeError(
      `cookie codec: maxValueBytes must be a positive integer with ` +
        `name + "=" + value <= ${BROWSER_COOKIE_LIMIT} bytes ` +
        `(name is ${contextBytes} bytes), got ${maxValueBytes}`,
    );
  }
  return maxValueBytes;
}

/** The codec {@link createCookieCodec} describes, over keys derived up front. */
class CookieSealer implements CookieCodec {
  readonly #primary: DerivedKey;
  /**
   * kid -> candidate keys, primary first. A list, not a single key, so that
   * a (2^-48) kid collision between two secrets still opens correctly.
   */
  readonly #byKid = new Map<string, DerivedKey[]>();
  /** "v1." + kid + "." + iv + "." — fixed for every value. */
  readonly #overhead: number;
  /**
   * Opening looks at no more than this. Twice the sealing limit, not the limit
   * itself, so lowering maxValueBytes does not log out every session carrying
   * a cookie sealed under the old, larger limit.
   */
  readonly #maxInputLength: number;
  readonly #primaryAad: Uint8Array<ArrayBuffer>;
  /** Sealed value -> its plaintext (see SEALED_KEPT). */
  readonly #sealedHere = new BoundedMap<string, string>(SEALED_KEPT, {
    maxWeight: SEALED_KEPT_CHARS,
    weigh: (value, text) => value.length + text.length,
  });

  constructor(
    keys: DerivedKey[],
    private readonly context: string,
    private readonly maxValueBytes: number,
  ) {
    this.#primary = keys[0];
    for (const k of keys) {
      const list = this.#byKid.get(k.kid);
      if (list) list.push(k);
      else this.#byKid.set(k.kid, [k]);
    }
    this.#overhead = VERSION.length + 1 + this.#primary.kid.length + 1 +
      base64UrlLength(IV_BYTES) + 1;
    this.#maxInputLength = maxValueBytes * 2;
    this.#primaryAad = aadFor(this.#primary.kid, context);
  }

  async seal(payload: unknown, expiresAt: number): Promise<string> {
    if (typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) {
      throw new TypeError(
        "cookie codec: expiresAt must be a finite epoch-ms number",
      );
    }
    if (JSON.stringify(payload) === undefined) {
      // undefined, functions and symbols vanish in JSON; sealing them would
      // give back a payload different from what was sealed.
      throw new TypeError(
        "cookie codec: payload must be representable as JSON",
      );
    }
    const text = JSON.stringify({ p: payload, e: expiresAt });
    const plaintext = encoder.encode(text);
    // The size is known before encrypting: refuse early, without crypto work.
    const size = this.#overhead +
      base64UrlLength(plaintext.length + TAG_BYTES);
    if (size > this.maxValueBytes) {
      throw new CookieTooLargeError(size, this.maxValueBytes);
    }

    const primary = this.#primary;
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: this.#primaryAad },
      primary.key,
      plaintext,
    );
    const value = `${VERSION}.${primary.kid}.${toBase64Url(iv)}.${
      toBase64Url(new Uint8Array(sealed))
    }`;
    this.#sealedHere.set(value, text);
    return value;
  }

  async open<T = unknown>(
    value: string,
    now: number,
  ): Promise<Opened<T> | null> {
    try {
      // Cheap checks first: a forged or oversized cookie costs no crypto.
      if (typeof value !== "string" || value.length > this.#maxInputLength) {
        return null;
      }
      // A NaN `now` would make the expiry comparison false, i.e. never expire.
      if (typeof now !== "number" || Number.isNaN(now)) return null;
      const text = this.#sealedHere.get(value);
      if (text !== undefined) return payloadOf<T>(text, now, true);
      return await this.#decrypt<T>(value, now);
    } catch {
      return null; // invalid UTF-8, invalid JSON, anything unforeseen
    }
  }

  /** Opens a value not sealed here (or no longer remembered); may throw. */
  async #decrypt<T>(value: string, now: number): Promise<Opened<T> | null> {
    const parts = value.split(".");
    if (parts.length !== 4) return null;
    const [version, kid, ivText, sealedText] = parts;
    if (version !== VERSION || !KID_RE.test(kid)) return null;
    const candidates = this.#byKid.get(kid);
    if (!candidates) return null;
    const iv = fromBase64Url(ivText);
    if (!iv || iv.length !== IV_BYTES) return null;
    const sealed = fromBase64Url(sealedText);
    if (!sealed || sealed.length <= TAG_BYTES) return null;

    const additionalData = aadFor(kid, this.context);
    for (const candidate of candidates) {
      let plaintext: ArrayBuffer;
      try {
        plaintext = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv, additionalData },
          candidate.key,
          sealed,
        );
      } catch {
        continue; // authentication failed under this key
      }
      return payloadOf<T>(decoder.decode(plaintext), now, candidate.primary);
    }
    return null;
  }
}

/** The payload in an authentic plaintext, or null if expired or not of our format. */
function payloadOf<T>(
  text: string,
  now: number,
  primaryKey: boolean,
): Opened<T> | null {
  // Authentic, but still checked: a bug or a future format must not turn
  // into a crash or a silently wrong session.
  const data: unknown = JSON.parse(text);
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return null;
  }
  const record = data as Record<string, unknown>;
  if (!Object.hasOwn(record, "p")) return null;
  const expiresAt = record.e;
  if (typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) {
    return null;
  }
  if (now >= expiresAt) return null;
  return { payload: record.p as T, stale: !primaryKey };
}
