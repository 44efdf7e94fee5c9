import type { Config } from "../base/config.ts";
import { limitsFor, type StoreLimits } from "../base/store_limits.ts";
import { UserStore } from "../accounts/owner.ts";
import { Accounts } from "../accounts/users.ts";
import type { Quiz } from "../quiz/bank.ts";
import { finishedBetween } from "../quiz/progress.ts";
import { QuizResults } from "../quiz/results.ts";
import { deletionStatsWrites, loginStatsWrites } from "../quiz/stats.ts";
import { Sessions, type SessionsOptions } from "../sessions/mod.ts";
import { AdminGate } from "./admin.ts";
import { AdminKv } from "./admin_kv.ts";
import { type Assets, loadAssets } from "./assets.ts";
import type { Ctx, Route, Services } from "./context.ts";
import { clientAddress } from "./http.ts";
import { createRouter } from "./router.ts";
import {
  adminBearer,
  compose,
  errors,
  type Exchange,
  finish,
  head,
  noStore,
  route,
  sameOrigin,
  securityHeaders,
} from "./steps.ts";

export interface AppOptions {
  config: Config;
  kv: Deno.Kv;
  /** The route table (routes/_table.ts). */
  routes: Route[];
  bank: Quiz[];
  /** Epoch milliseconds; injected so tests can move time. */
  now?: () => number;
  assets?: Assets;
  log?: (line: string) => void;
  /** The store's limits (default: those of the store `config.kvPath` names). */
  limits?: Readonly<StoreLimits>;
  /** Replaces the session store the configuration picks (the benchmark's instrumented app). */
  store?: SessionsOptions["store"];
}

/** What Deno.serve passes as its second argument; optional so tests can omit it. */
export interface ConnInfo {
  remoteAddr: { hostname: string };
}

export type App = ((req: Request, info?: ConnInfo) => Promise<Response>) & {
  services: Services;
};

/** Builds the services every handler gets. */
async function servicesOf(opts: AppOptions): Promise<Services> {
  const { config, kv, bank } = opts;
  const now = opts.now ?? Date.now;
  const log = opts.log ?? console.log;
  const sessions = await Sessions.create({
    config,
    kv,
    now,
    limits: opts.limits ?? limitsFor(config.kvPath),
    store: opts.store,
  });
  const users = new UserStore(kv, log);
  return {
    config,
    now,
    bank,
    assets: opts.assets ?? await loadAssets(),
    log,
    sessions,
    users,
    accounts: new Accounts({
      kv,
      users,
      now,
      pbkdf2Iterations: config.pbkdf2Iterations,
      finished: (before, after) => finishedBetween(bank, before, after, now()),
      stats: {
        login: (...args) => loginStatsWrites(bank, ...args),
        deleted: (name, data) => deletionStatsWrites(bank, name, data),
      },
    }),
    results: new QuizResults(kv),
    admin: config.adminToken ? new AdminGate(kv, config.adminToken, now) : null,
    adminKv: new AdminKv(kv, sessions, log),
    renderCache: new Map(),
  };
}

/** Builds the whole app: a plain `(Request) => Promise<Response>`. */
export async function createApp(opts: AppOptions): Promise<App> {
  const services = await servicesOf(opts);
  const { config } = services;
  const match = createRouter(opts.routes);
  const pipeline = compose([
    // On the way out: no-store, security headers, HEAD's empty body, the log line.
    finish([noStore, securityHeaders, head], services.log),
    errors,
    route(config),
    sameOrigin,
    adminBearer(services.admin),
  ], (x) => dispatch(x, services));

  const app = (req: Request, info?: ConnInfo): Promise<Response> => {
    const url = new URL(req.url);
    const https = url.protocol === "https:" ||
      (config.trustProxy && req.headers.get("x-forwarded-proto") === "https");
    // Behind a trusted proxy that rewrites Host, the browser's host is X-Forwarded-Host.
    const forwardedHost = config.trustProxy
      ? req.headers.get("x-forwarded-host")
      : null;
    const host = forwardedHost?.split(",")[0].trim() ||
      req.headers.get("host") || url.host;
    let address: string | undefined;
    return pipeline({
      req,
      url,
      https,
      origin: `${https ? "https" : "http"}://${host}`,
      // Only login, register and the admin API throttle by address: worked out on demand.
      address: () =>
        address ??= clientAddress(
          req,
          info?.remoteAddr.hostname ?? "local",
          config.trustProxy,
        ),
      match: match(url.pathname),
    });
  };
  return Object.assign(app, { services });
}

/** Runs the route's handler, inside its session when it has one. */
function dispatch(x: Exchange, services: Services): Promise<Response> {
  const { route, params } = x.match!;
  const { config } = services;
  const secure = config.cookieSecure === "auto"
    ? x.https
    : config.cookieSecure === "true";
  const ctx = {
    req: x.req,
    url: x.url,
    params,
    secure,
    origin: x.origin,
    clientAddress: x.address,
    route,
    hits: 0,
    services,
  } as Ctx;
  // A script with the admin token needs no session (none is created for it).
  if (route.session === "none" || x.bearer) {
    return Promise.resolve(x.handler!({ ...ctx, bearer: x.bearer }));
  }
  return services.sessions.run(x.req, {
    secure,
    counted: route.session === "counted",
    safe: x.req.method === "GET" || x.req.method === "HEAD",
  }, async ({ session, hits, ended }) => {
    const response = await x.handler!({ ...ctx, session, hits, notice: ended });
    x.handle = session.handle;
    return response;
  });
}
