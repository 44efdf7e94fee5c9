/**
 * A cookie jar for the terminal client: tough-cookie's `CookieJar` persisted as a JSON file,
 * and a `fetch` that sends and stores cookies like a browser does (including on each redirect hop).
 */
import { Cookie, CookieJar } from "tough-cookie";

export { CookieJar };

/** A jar file that cannot be used. The file is never modified when this is thrown. */
export class JarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JarError";
  }
}

/** Redirect statuses `fetchWithJar` follows. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** How many redirect hops `fetchWithJar` follows before giving up. */
export const MAX_REDIRECTS = 5;

/**
 * Reads a jar saved by `saveJar`. A missing file is an empty jar; an unreadable or corrupt one is a
 * `JarError` naming the file (which is left as it is, so nothing the user had is lost).
 */
export async function loadJar(path: string): Promise<CookieJar> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return new CookieJar();
    throw new JarError(
      `cannot read cookie jar ${path}: ${reason(err)} (left untouched)`,
    );
  }
  let jar: CookieJar;
  try {
    const data: unknown = JSON.parse(text);
    if (
      typeof data !== "object" || data === null ||
      !Array.isArray((data as { cookies?: unknown }).cookies)
    ) {
      throw new Error("not a serialized cookie jar (no cookies array)");
    }
    jar = await CookieJar.deserialize(data);
  } catch (err) {
    throw new JarError(
      `cookie jar ${path} is corrupt (${
        reason(err)
      }); it was left untouched: fix it, or delete it to start afresh`,
    );
  }
  await dropExpired(jar);
  return jar;
}

/**
 * Writes the jar as JSON to a temporary file next to `path`, then renames it over `path`, so a
 * crash leaves either the old jar or the new one, never half of one. The file is private (0600):
 * it holds session cookies.
 */
export async function saveJar(jar: CookieJar, path: string): Promise<void> {
  await dropExpired(jar);
  const json = JSON.stringify(await jar.serialize(), null, 2) + "\n";
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(tmp, json, { mode: 0o600 });
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw new JarError(`cannot save cookie jar ${path}: ${reason(err)}`);
  }
}

/** Removes the cookies whose lifetime is over (a `Max-Age=0` cookie is over at once). */
export async function dropExpired(
  jar: CookieJar,
  now = Date.now(),
): Promise<void> {
  for (const cookie of await jar.store.getAllCookies()) {
    const expiry = cookie.expiryTime();
    if (expiry !== undefined && expiry <= now) {
      await jar.store.removeCookie(cookie.domain, cookie.path, cookie.key);
    }
  }
}

/** Every cookie of the jar (expired ones dropped first), sorted by domain, path and name. */
export async function listCookies(jar: CookieJar): Promise<Cookie[]> {
  await dropExpired(jar);
  const all = await jar.store.getAllCookies();
  return all.sort((a, b) =>
    `${a.domain}\0${a.path}\0${a.key}`.localeCompare(
      `${b.domain}\0${b.path}\0${b.key}`,
    )
  );
}

/**
 * Stores one `Set-Cookie` header received from `url`. Returns false when the cookie was refused
 * (unparsable, wrong domain, a `__Host-` cookie without Secure, ...), as a browser silently would.
 *
 * tough-cookie 6 computes a Max-Age cookie's expiry from its *last access*, so every read would
 * push it further away. Browsers (RFC 6265 §5.3) fix the expiry when the cookie is received:
 * so do we, turning Max-Age into the absolute Expires it stands for.
 */
export async function storeSetCookie(
  jar: CookieJar,
  header: string,
  url: string | URL,
  now = new Date(),
): Promise<boolean> {
  const cookie = Cookie.parse(header);
  if (!cookie) return false;
  if (typeof cookie.maxAge === "number") {
    cookie.expires = cookie.maxAge <= 0
      ? new Date(0)
      : new Date(now.getTime() + cookie.maxAge * 1000);
    cookie.maxAge = null;
  }
  try {
    const stored = await jar.setCookie(cookie, String(url), { now });
    return stored !== undefined;
  } catch {
    return false;
  }
}

/**
 * `fetch` with a cookie jar: sends the jar's `Cookie` header for the URL, stores every
 * `Set-Cookie` of the answer, and follows up to `MAX_REDIRECTS` redirects itself so the cookies of
 * each hop are stored too (303, and 301/302 after a POST, continue as GET without a body, as
 * browsers do). The answer of the last hop is
 * returned (its `url` is the URL that answered).
 */
export async function fetchWithJar(
  jar: CookieJar,
  url: string | URL,
  init: RequestInit = {},
): Promise<Response> {
  let current = new URL(url);
  let method = (init.method ?? "GET").toUpperCase();
  let body = init.body ?? null;
  const headers = new Headers(init.headers);
  for (let hop = 0;; hop++) {
    const cookieHeader = await jar.getCookieString(current.href);
    if (cookieHeader) headers.set("cookie", cookieHeader);
    else headers.delete("cookie");
    const response = await fetch(current, {
      ...init,
      method,
      headers,
      body,
      redirect: "manual",
    });
    for (const header of response.headers.getSetCookie()) {
      await storeSetCookie(jar, header, current);
    }
    const location = response.headers.get("location");
    if (!REDIRECTS.has(response.status) || location === null) {
      return response;
    }
    if (hop >= MAX_REDIRECTS) {
      await response.body?.cancel();
      throw new Error(
        `too many redirects (more than ${MAX_REDIRECTS}) from ${url}`,
      );
    }
    const next = new URL(location, current);
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      return response;
    }
    const keepsBody = response.status === 307 || response.status === 308;
    if (keepsBody && body instanceof ReadableStream) {
      // A streamed body was consumed by the first request: it cannot be sent again.
      return response;
    }
    await response.body?.cancel();
    if (!keepsBody && (response.status === 303 || method === "POST")) {
      if (method !== "HEAD") method = "GET";
      body = null;
      headers.delete("content-type");
      headers.delete("content-length");
    }
    if (next.origin !== current.origin) headers.delete("authorization");
    current = next;
  }
}

/**
 * Why a `fetch` failed, in a few words: Deno's own message is "fetch failed", the details are in
 * its `cause` ("... tcp connect error: Connection refused (os error 111)").
 */
export function networkReason(err: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    messages.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  const all = messages.join(" | ");
  if (/connection refused/i.test(all)) return "connection refused";
  if (/dns error|failed to lookup|name or service not known/i.test(all)) {
    return "host not found";
  }
  if (/certificate|invalid peer|tls handshake/i.test(all)) {
    return "TLS error (the certificate was refused)";
  }
  if (/timed? ?out|timeout/i.test(all)) return "timed out";
  if (/connection reset/i.test(all)) return "connection reset";
  if (/connection closed|unexpected eof|incomplete message/i.test(all)) {
    return "the server closed the connection";
  }
  const detail = messages[messages.length - 1].split("\n")[0];
  return detail.replace(/^error sending request for url \([^)]*\): /, "");
}

/**
 * An error's message on one line. V8's JSON.parse quotes the text it choked on, newlines and all
 * (`Unexpected token 'c', "cookies:\n  - a"...`): they are shown as `\n` so the message stays whole.
 */
function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\r?\n/g, "\\n");
}
