import { HttpError } from "../base/http_error.ts";

/** A JSON answer (always an object or array, never a bare string). */
export function json(
  body: unknown,
  status = 200,
  headers: HeadersInit = {},
): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { status, headers: h });
}

// Printable ASCII minus space: safe in a header exactly as written.
const PRINTABLE = /^[\x21-\x7e]+$/;

const otherHost = (path: string) =>
  path.startsWith("//") || path.startsWith("/\\");

/**
 * A redirect to a same-site path. A printable-ASCII path is sent exactly as given (the string
 * `safeNext` validated): re-serializing it through `URL` collapses dot segments and turns
 * `/.//evil` into `//evil`. Any other path is percent-encoded through `URL`, since `Headers.set`
 * throws on non-ASCII and CR/LF must never reach a header. Throws a 400 when either form would
 * name another host (`//x`, `/\x`).
 */
export function redirect(
  path: string,
  status = 303,
  headers: HeadersInit = {},
): Response {
  // deno-lint-ignore no-control-regex -- control characters are exactly what must never reach a header
  if (!path.startsWith("/") || /[\x00-\x1f\x7f]/.test(path)) {
    throw new HttpError(400, "Bad redirect target");
  }
  const url = new URL(path, "http://local.invalid");
  const serialized = url.pathname + url.search + url.hash;
  const location = PRINTABLE.test(path) ? path : serialized;
  if (otherHost(location) || otherHost(serialized)) {
    throw new HttpError(400, "Bad redirect target");
  }
  const h = new Headers(headers);
  h.set("location", location);
  return new Response(null, { status, headers: h });
}

/** Whether the client asked for JSON rather than a page (used only for error bodies). */
export function prefersJson(req: Request, path: string): boolean {
  return path.startsWith("/api/") || path.startsWith("/admin/") ||
    (req.headers.get("accept") ?? "").startsWith("application/json");
}

const SECURITY_HEADERS: [string, string][] = [
  [
    "content-security-policy",
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  ],
  ["x-content-type-options", "nosniff"],
  ["referrer-policy", "strict-origin-when-cross-origin"],
  ["cross-origin-opener-policy", "same-origin"],
];

/** Adds the security headers every response carries (HSTS only over HTTPS). */
export function addSecurityHeaders(headers: Headers, secure: boolean): void {
  for (const [name, value] of SECURITY_HEADERS) headers.set(name, value);
  if (secure) {
    headers.set(
      "strict-transport-security",
      "max-age=63072000; includeSubDomains",
    );
  }
}

/** The address to throttle by: the connection's, or X-Forwarded-For's last hop behind a trusted proxy. */
export function clientAddress(
  req: Request,
  remote: string,
  trustProxy: boolean,
): string {
  if (trustProxy) {
    const hops = (req.headers.get("x-forwarded-for") ?? "").split(",").map((
      s,
    ) => s.trim()).filter(Boolean);
    const last = hops.at(-1);
    if (last && last.length <= 64) return last;
  }
  return remote;
}
