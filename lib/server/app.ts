import { type Assets, loadAssets } from "./assets.ts";
import { loadBank, type Quiz } from "../quiz/bank.ts";
import type { Config } from "../base/config.ts";
import type { AppDeps, Ctx, Method } from "./context.ts";
import { createGroupCommitter, StaleRead } from "../sessions/group_commit.ts";
import {
  addSecurityHeaders,
  clientAddress,
  json,
  prefersJson,
} from "./http.ts";
import { HttpError } from "../base/http_error.ts";
import { conflictBackoff, storeUnavailable } from "../base/kv_util.ts";
import { renderError } from "./render.tsx";
import { createRouter, type RouteKind } from "./router.ts";
import { routes } from "../../routes/_table.ts";
import type { Session, SessionStore } from "../sessions/session.ts";
import { createCookieSessionStore } from "../sessions/cookie_store.ts";
import { createKvSessionStore } from "../sessions/kv_store.ts";
import { limitsFor, type StoreLimits } from "../base/store_limits.ts";
import { createAuth } from "../accounts/users.ts";

export interface AppOptions {
  config: Config;
  kv: Deno.Kv;
  /** Epoch milliseconds; injected so tests can move time. */
  now?: () => number;
  bank?: Quiz[];
  assets?: Assets;
  log?: (line: string) => void;
  /** The store's limits (default: those of the store `config.kvPath` names). */
  limits?: Readonly<StoreLimits>;
  /** Replaces the session store chosen by `config.mode` (tests, fault injection). */
  store?: (deps: Omit<AppDeps, "store">) => SessionStore;
}

/** What Deno.serve passes as its second argument; optional so tests can omit it. */
export interface ConnInfo {
  remoteAddr: { hostname: string };
}

export type App = (req: Request, info?: ConnInfo) => Promise<Response>;

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Runs of one request whose commit found its reads changed, before it gets a 503. */
const MAX_RUNS = 50;

/** Refuses cross-site unsafe requests (CSRF), before any body is read or state touched. */
function checkSameOrigin(req: Request, origin: string) {
  if (req.headers.get("sec-fetch-site") === "cross-site") {
    throw new HttpError(403, "Cross-site request refused");
  }
  const from = req.headers.get("origin");
  if (from !== null && from !== origin) {
    throw new HttpError(403, "Cross-origin request refused");
  }
}

function errorResponse(
  error: unknown,
  req: Request,
  url: URL,
  kind: RouteKind | null,
): Response {
  const e = error instanceof HttpError
    ? error
    : new HttpError(500, "Internal error");
  if (!(error instanceof HttpError) || e.status >= 500) {
    console.error(
      `${req.method} ${url.pathname} failed:`,
      error instanceof HttpError ? error.message : error,
    );
  }
  const response = prefersJson(req, url.pathname) || kind === "api"
    ? json({ error: e.message, ...e.extra }, e.status)
    : renderError(e.status, e.message);
  for (const [name, value] of Object.entries(e.headers)) {
    response.headers.set(name, value);
  }
  return response;
}

/** Builds the whole app: a plain `(Request) => Promise<Response>`. */
export async function createApp(opts: AppOptions): Promise<App> {
  const { config, kv } = opts;
  const now = opts.now ?? Date.now;
  const committer = createGroupCommitter(
    kv,
    opts.limits ?? limitsFor(config.kvPath),
  );
  const base = {
    config,
    kv,
    now,
    bank: opts.bank ?? loadBank(),
    assets: opts.assets ?? await loadAssets(),
    log: opts.log ?? console.log,
    committer,
    auth: createAuth(),
    renderCache: new Map(),
  };
  const deps: AppDeps = {
    ...base,
    store: opts.store
      ? opts.store(base)
      : config.mode === "cookie"
      ? await createCookieSessionStore({ kv, config, now, committer })
      : createKvSessionStore({ kv, config, now, committer }),
  };
  const match = createRouter(routes);

  return async function app(req: Request, info?: ConnInfo): Promise<Response> {
    const started = performance.now();
    const url = new URL(req.url);
    const https = url.protocol === "https:" ||
      (config.trustProxy && req.headers.get("x-forwarded-proto") === "https");
    const secure = config.cookieSecure === "auto"
      ? https
      : config.cookieSecure === "true";
    const found = match(url.pathname);
    const kind = found?.route.kind ?? null;
    let session: Session | undefined;
    let response: Response;
    try {
      // Without ADMIN_TOKEN the admin area does not exist: not even a 405 may say otherwise.
      const adminOff = !config.adminToken &&
        (url.pathname === "/admin" || url.pathname.startsWith("/admin/"));
      if (!found || adminOff) throw new HttpError(404, "Not found");
      const handlers = found.route.module.handler;
      const method = (req.method === "HEAD" ? "GET" : req.method) as Method;
      // Own properties only: a method named "constructor" must not find Object.prototype.constructor.
      const handler = Object.hasOwn(handlers, method)
        ? handlers[method]
        : undefined;
      if (!handler) {
        const allow = Object.keys(handlers).flatMap((m) =>
          m === "GET" ? ["GET", "HEAD"] : [m]
        ).join(", ");
        throw new HttpError(405, `Method ${req.method} not allowed`, {}, {
          Allow: allow,
        });
      }
      // Behind a trusted proxy that rewrites Host, the browser's host is X-Forwarded-Host.
      const forwardedHost = config.trustProxy
        ? req.headers.get("x-forwarded-host")
        : null;
      const host = forwardedHost?.split(",")[0].trim() ||
        req.headers.get("host") || url.host;
      const origin = `${https ? "https" : "http"}://${host}`;
      if (UNSAFE.has(method)) checkSameOrigin(req, origin);
      // Only login, register and the admin API throttle by address: worked out on demand.
      let address: string | undefined;
      const addressOf = () =>
        address ??= clientAddress(
          req,
          info?.remoteAddr.hostname ?? "local",
          config.trustProxy,
        );
      const counted = kind === "page" || kind === "api";
      // A GET (it changes nothing) is first served from what the store remembers of its
      // session, if anything. Should that prove stale when the commit checks it, or the
      // answer be an error, the request runs once more from a fresh read. Any request
      // whose one commit finds that what it read has changed since (StaleRead) runs again
      // from a fresh read, replaying only its own change.
      for (let run = 0;; run++) {
        const fromMemory = run === 0 && method === "GET";
        session = undefined;
        const ctx = {
          ...deps,
          req,
          url,
          params: found.params,
          secure,
          origin,
          clientAddress: addressOf,
          hits: 0,
        } as Ctx;
        try {
          if (kind !== "plain") {
            const loaded = await deps.store.load(
              req,
              secure,
              counted,
              fromMemory,
            );
            ctx.session = session = loaded.session;
            ctx.hits = loaded.hits;
          }
          response = await handler(ctx);
          if (session?.fromMemory && response.status >= 400) continue;
          if (session && response.status < 400) {
            await deps.store.finish(session, response.headers, counted);
          }
          break;
        } catch (error) {
          if (fromMemory && session?.fromMemory) continue;
          if (!(error instanceof StaleRead)) throw error;
          if (run >= MAX_RUNS) throw storeUnavailable();
          await conflictBackoff(run);
        }
      }
    } catch (error) {
      // A fresh response: whatever cookie the failed attempt meant to set is not sent.
      response = errorResponse(error, req, url, kind);
    }
    addSecurityHeaders(response.headers, https);
    if (kind !== "plain") {
      response.headers.set("cache-control", "no-store");
      response.headers.append("vary", "Cookie");
    }
    const ms = (performance.now() - started).toFixed(1);
    deps.log(
      `${req.method} ${url.pathname} ${response.status} ${ms}ms ${
        session?.handle ?? "-"
      }`,
    );
    if (req.method === "HEAD") {
      return new Response(null, {
        status: response.status,
        headers: response.headers,
      });
    }
    return response;
  };
}
