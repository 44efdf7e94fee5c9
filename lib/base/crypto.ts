import { createHash } from "node:crypto";

const encoder = new TextEncoder();
/**
 * Lowercase hex SHA-256 of a string: the session "handle" that the store keys by.
 * Synchronous through node:crypto: about 1 µs, where an awaited `crypto.subtle.digest`
 * costs some 30 µs of the request's JavaScript time (measured in the benchmark).
 */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Compares two byte strings in time that depends only on their lengths, so a
 * mismatch position never leaks through timing.
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    diff |= (a[i % a.length] ?? 0) ^ (b[i % b.length] ?? 0);
  }
  return diff === 0;
}

/** {@link timingSafeEqual} for strings, compared as UTF-8. */
export function timingSafeEqualString(a: string, b: string): boolean {
  return timingSafeEqual(encoder.encode(a), encoder.encode(b));
}

/** A random token of `bytes` random bytes, base64url without padding. */
export function randomToken(bytes = 32): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replaceAll("+", "-").replaceAll(
    "/",
    "_",
  )
    .replace(/=+$/, "");
}
