import { timingSafeEqual } from "../base/crypto.ts";

/** The production PBKDF2 cost (OWASP Password Storage Cheat Sheet, 2023+). */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;

// Matches PBKDF2_ITERATIONS' upper bound in lib/base/config.ts; also stops a
// tampered stored hash from making one verify burn minutes of CPU.
const MAX_ITERATIONS = 10_000_000;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const PREFIX = "pbkdf2-sha256";
const MIN_PASSWORD_CHARS = 8;
const MAX_PASSWORD_BYTES = 1024;
const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;

const encoder = new TextEncoder();

interface ParsedHash {
  iterations: number;
  salt: Uint8Array<ArrayBuffer>;
  hash: Uint8Array<ArrayBuffer>;
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/** Strict: only canonical padded base64, so one hash has one spelling. */
function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    return null;
  }
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return toBase64(bytes) === text ? bytes : null;
}

function parse(stored: unknown): ParsedHash | null {
  if (typeof stored !== "string") return null;
  const parts = stored.split("$");
  if (parts.length !== 4 || parts[0] !== PREFIX) return null;
  if (!/^[1-9][0-9]{0,7}$/.test(parts[1])) return null;
  const iterations = Number(parts[1]);
  if (iterations > MAX_ITERATIONS) return null;
  const salt = fromBase64(parts[2]);
  const hash = fromBase64(parts[3]);
  if (
    !salt || salt.length < SALT_BYTES || !hash || hash.length !== HASH_BYTES
  ) {
    return null;
  }
  return { iterations, salt, hash };
}

function checkIterations(iterations: number): void {
  if (
    !Number.isSafeInteger(iterations) || iterations < 1 ||
    iterations > MAX_ITERATIONS
  ) {
    throw new RangeError(
      `PBKDF2 iterations must be a whole number from 1 to ${MAX_ITERATIONS}`,
    );
  }
}

async function derive(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<Uint8Array> {
  // NFKC so the same password typed on different keyboards/IMEs matches
  // (NIST SP 800-63B §5.1.1.2).
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(password.normalize("NFKC")),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    HASH_BYTES * 8,
  );
  return new Uint8Array(bits);
}

/**
 * Hashes a password with PBKDF2-HMAC-SHA-256 and a fresh 16-byte salt.
 * The result, `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`, carries its
 * own cost so the default can be raised later without breaking old hashes.
 * @throws RangeError when `iterations` is not a whole number from 1 to 10,000,000.
 */
export async function hashPassword(
  password: string,
  iterations: number = DEFAULT_PBKDF2_ITERATIONS,
): Promise<string> {
  checkIterations(iterations);
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations);
  return `${PREFIX}$${iterations}$${toBase64(salt)}$${toBase64(hash)}`;
}

/**
 * Checks `password` against a string made by {@link hashPassword}, at the
 * iteration count stored in it, comparing in constant time. A malformed or
 * tampered `stored` value yields `false`; this never throws.
 */
export async function verifyPassword(
  password: string,
  stored: string,
): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed || typeof password !== "string") return false;
  try {
    const actual = await derive(password, parsed.salt, parsed.iterations);
    return timingSafeEqual(actual, parsed.hash);
  } catch {
    return false;
  }
}

/**
 * Whether a stored hash should be replaced (after a successful login) because
 * it is malformed, uses another scheme or is cheaper than `iterations`.
 * A stronger stored hash is kept: lowering the config never weakens it.
 */
export function needsRehash(stored: string, iterations: number): boolean {
  const parsed = parse(stored);
  return !parsed || parsed.salt.length !== SALT_BYTES ||
    parsed.iterations < iterations;
}

/**
 * A hash of a random password at the given cost. Verify against it when the
 * user does not exist so that unknown-user and wrong-password answers take
 * the same time. Make it once at start-up and reuse it.
 */
export function createDummyHash(iterations: number): Promise<string> {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  return hashPassword(toBase64(secret), iterations);
}

/**
 * Returns why `pw` is not an acceptable new password, or `null` if it is:
 * it must be a string of at least 8 characters (code points) and at most
 * 1024 UTF-8 bytes. Longer input is rejected, never truncated.
 */
export function validatePassword(pw: unknown): string | null {
  if (typeof pw !== "string") return "Password must be a string";
  // A lone surrogate would be encoded as U+FFFD, so distinct inputs would collide.
  if (!pw.isWellFormed()) return "Password contains invalid characters";
  if ([...pw].length < MIN_PASSWORD_CHARS) {
    return `Password must be at least ${MIN_PASSWORD_CHARS} characters`;
  }
  if (encoder.encode(pw).length > MAX_PASSWORD_BYTES) {
    return `Password must be at most ${MAX_PASSWORD_BYTES} bytes`;
  }
  return null;
}

/**
 * The canonical (lowercase) form of a username, or `null` if it is not 3–32
 * ASCII letters, digits, `_`, `-` or `.`. Nothing is trimmed: ASCII only, so
 * look-alike Unicode names cannot impersonate each other.
 */
export function normalizeUsername(name: unknown): string | null {
  if (typeof name !== "string" || !USERNAME.test(name)) return null;
  return name.toLowerCase();
}

/** Returns why `name` is not an acceptable username, or `null` if it is. */
export function validateUsername(name: unknown): string | null {
  if (typeof name !== "string") return "Username must be a string";
  if (name.length < 3 || name.length > 32) {
    return "Username must be 3 to 32 characters long";
  }
  if (!USERNAME.test(name)) {
    return "Username may contain only letters, digits, _, - and .";
  }
  return null;
}
