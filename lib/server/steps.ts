/**
 * The request pipeline as small named steps, composed in a visible order (lib/server/app.ts).
 * Each step gets the request's state and `next`, and returns the response.
 *
 * @module
 */
import type { Config } from "../base/config.ts";
import { HttpError } from "../base/http_error.ts";
import type { Handler, Method, Route } from "./context.ts";
import { addSecurityHeaders, json } from "./http.ts";
import { renderError } from "./render.tsx";
import type { Match } from "./router.ts";

/** One request on its way through the steps. */
export interface Exchange {
  req: Request;
  url: URL;
  /** The request arrived over HTTPS (directly, or via a trusted proxy). */
  https: boolean;
  /** Our own origin as the browser sees it. */
  origin: string;
  /** The client's address, to throttle by (worked out on first use). */
  address: () => string;
  /** The route table's match, if any. */
  match: Match | null;
  /** The handler for the method (HEAD runs GET's), set by `route`. */
  handler?: Handler;
  /** The session's handle, for the log, once the request has one. */
  handle?: string;
  /** The admin Bearer token was checked (a `bearer` or `either` route). */
  bearer?: boolean;
}

export type Next = () => Promise<Response>;
export type Step = (x: Exchange, next: Next) => Promise<Response>;

/** Runs `steps` in order around `last`. */
export function compose(
  steps: Step[],
  last: (x: Exchange) => Promise<Response>,
): (x: Exchange) => Promise<Response> {
  return (x) => {
    const at = (i: number): Promise<Response> =>
      i === steps.length ? last(x) : steps[i](x, () => at(i + 1));
    return at(0);
  };
}

/** A change to the response on its way out; one step (`finish`) applies them in order. */
export type Finisher = (x: Exchange, response: Response) => Response;

/**
 * Applies `finishers` to the response, in order, then logs one line: method, path, status,
 * time, session handle (never the id). One step for all of them, so the way out costs one
 * await, not one per finisher (the pipeline runs on every request).
 */
export function finish(
  finishers: Finisher[],
  log: (line: string) => void,
): Step {
  return async function finish(x, next) {
    const started = performance.now();
    let response = await next();
    for (const f of finishers) response = f(x, response);
    const ms = (performance.now() - started).toFixed(1);
    log(
      `${x.req.method} ${x.url.pathname} ${response.status} ${ms}ms ${
        x.handle ?? "-"
      }`,
    );
    return response;
  };
}

/** HEAD is answered as GET, without the body. */
export const head: Finisher = function head(x, response) {
  if (x.req.method !== "HEAD") return response;
  response.body?.cancel().catch(() => {});
  return new Response(null, {
    status: response.status,
    headers: response.headers,
  });
};

/** The headers every response carries (HSTS over HTTPS). */
export const securityHeaders: Finisher = function securityHeaders(x, response) {
  addSecurityHeaders(response.headers, x.https);
  return response;
};

/** Responses of routes with a session depend on the cookie: never cached. */
export const noStore: Finisher = function noStore(x, response) {
  if (x.match && x.match.route.session !== "none") {
    response.headers.set("cache-control", "no-store");
    response.headers.append("vary", "Cookie");
  }
  return response;
};

/**
 * Turns whatever a later step throws into the answer: an HttpError as a page or JSON
 * `{"error"}` per the route's `errors` (unmatched paths: JSON under /api/ or when asked
 * for), anything else as a logged 500. A fresh response: whatever cookie the failed
 * attempt meant to set is not sent.
 */
export const errors: Step = async function errors(x, next) {
  try {
    return await next();
  } catch (error) {
    const e = error instanceof HttpError
      ? error
      : new HttpError(500, "Internal error");
    if (!(error instanceof HttpError) || e.status >= 500) {
      console.error(
        `${x.req.method} ${x.url.pathname} failed:`,
        error instanceof HttpError ? error.message : error,
      );
    }
    const response = wantsJson(x)
      ? json({ error: e.message, ...e.extra }, e.status)
      : renderError(e.status, e.message, x.url.pathname);
    for (const [name, value] of Object.entries(e.headers)) {
      response.headers.set(name, value);
    }
    return response;
  }
};

function wantsJson(x: Exchange): boolean {
  if (x.match) return x.match.route.errors === "json";
  return x.url.pathname.startsWith("/api/") ||
    (x.req.headers.get("accept") ?? "").startsWith("application/json");
}

/**
 * 404 for a path no route matches, and for every admin route while `ADMIN_TOKEN` is unset
 * (the admin area does not exist: not even a 405 may say otherwise); 405 with `Allow` for a
 * method the route has no handler for.
 */
export function route(config: Config): Step {
  return function route(x, next) {
    const found = x.match;
    if (!found || (found.route.admin !== "none" && !config.adminToken)) {
      throw new HttpError(404, "Not found");
    }
    x.handler = handlerFor(found.route, x.req.method);
    return next();
  };
}

function handlerFor(route: Route, requested: string): Handler {
  const handlers = route.module.handler;
  const method = (requested === "HEAD" ? "GET" : requested) as Method;
  // Own properties only: a method named "constructor" must not find Object.prototype.constructor.
  const handler = Object.hasOwn(handlers, method)
    ? handlers[method]
    : undefined;
  if (handler) return handler;
  const allow = Object.keys(handlers).flatMap((m) =>
    m === "GET" ? ["GET", "HEAD"] : [m]
  ).join(", ");
  throw new HttpError(405, `Method ${requested} not allowed`, {}, {
    Allow: allow,
  });
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Refuses cross-site unsafe requests (CSRF), before any body is read or state touched:
 * `Sec-Fetch-Site: cross-site`, or an `Origin` that is not ours (`null` included).
 */
export const sameOrigin: Step = function sameOrigin(x, next) {
  if (!UNSAFE.has(x.req.method)) return next();
  if (x.req.headers.get("sec-fetch-site") === "cross-site") {
    throw new HttpError(403, "Cross-site request refused");
  }
  const from = x.req.headers.get("origin");
  if (from !== null && from !== x.origin) {
    throw new HttpError(403, "Cross-origin request refused");
  }
  return next();
};

/**
 * The admin API's routes: the Bearer token is checked before anything else happens. An
 * `either` route checks it only when the request sends an `Authorization` header (a
 * script); a browser without one is judged by its admin session in the handler.
 */
export function adminBearer(
  gate: { requireBearer(req: Request, address: string): Promise<void> } | null,
): Step {
  return function adminBearer(x, next) {
    const admin = x.match?.route.admin;
    const either = admin === "either" && x.req.headers.has("authorization");
    if (admin !== "bearer" && !either) return next();
    if (!gate) throw new HttpError(404, "Not found");
    return gate.requireBearer(x.req, x.address()).then(() => {
      x.bearer = true;
      return next();
    });
  };
}
