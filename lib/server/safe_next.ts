const MAX_LENGTH = 2048;
const PROBE_ORIGIN = "http://x.invalid";

// Printable ASCII minus space: rules out control characters (which browsers
// strip, turning "/\t/evil.com" into "//evil.com"), Unicode spaces, bidi and
// zero-width characters. Our own paths are percent-encoded, so none is lost.
const PRINTABLE = /^[\x21-\x7e]+$/;

function looksLikeOtherHost(path: string): boolean {
  return path.startsWith("//") || path.startsWith("/\\") ||
    path.includes("\\");
}

// Whether `path` stays on this site once resolved the way a URL parser or a
// normalising proxy would: dot segments, also percent-encoded ones ("/%2e//x"),
// collapse, so "/.//evil" and "/a/..//evil" come out as "//evil".
function resolvesHere(path: string): boolean {
  try {
    const url = new URL(path, PROBE_ORIGIN);
    return url.origin === PROBE_ORIGIN && !looksLikeOtherHost(url.pathname);
  } catch {
    return false;
  }
}

/**
 * Returns `next` if it is a path on this site, otherwise `fallback`.
 * Prevents open redirects through `?next=`: accepts only a string of at most
 * 2048 printable ASCII characters that starts with exactly one `/`, contains
 * no backslash, still starts with one `/` and has no control characters once
 * percent-decoded, and resolves (dot segments collapsed, before and after that
 * decoding) to a path on the same origin that does not start with `//`.
 * Send the returned string as is (`redirect()` in lib/server/http.ts does).
 */
export function safeNext(
  next: string | null | undefined,
  fallback = "/",
): string {
  if (typeof next !== "string" || next.length > MAX_LENGTH) return fallback;
  if (!PRINTABLE.test(next) || !next.startsWith("/")) return fallback;
  if (looksLikeOtherHost(next)) return fallback;

  // Some proxies and frameworks decode once before routing or redirecting.
  let decoded: string;
  try {
    decoded = decodeURIComponent(next);
  } catch {
    return fallback;
  }
  // deno-lint-ignore no-control-regex
  if (looksLikeOtherHost(decoded) || /[\x00-\x1f\x7f-\x9f]/.test(decoded)) {
    return fallback;
  }

  if (!resolvesHere(next) || !resolvesHere(decoded)) return fallback;
  return next;
}
