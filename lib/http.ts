import { HttpError } from "./http_error.ts";

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

/**
 * A redirect to a same-site path. The path is parsed so that non-ASCII characters are
 * percent-encoded: `Headers.set` would throw on them, and CR/LF must never reach a header.
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
  const h = new Headers(headers);
  h.set("location", url.pathname + url.search + url.hash);
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

/** Adds the headers of SECURITY.md that every response carries. */
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
