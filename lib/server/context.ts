import type { Config } from "../base/config.ts";
import type { Accounts } from "../accounts/users.ts";
import type { Owner, UserStore } from "../accounts/owner.ts";
import type { Quiz } from "../quiz/bank.ts";
import type { QuizResults } from "../quiz/results.ts";
import type { Session, Sessions } from "../sessions/mod.ts";
import type { AdminGate } from "./admin.ts";
import type { AdminKv } from "./admin_kv.ts";
import type { Assets } from "./assets.ts";

/** What the app is built from and hands to every handler; stateful parts are injected. */
export interface Services {
  config: Config;
  /** Epoch milliseconds. */
  now: () => number;
  bank: Quiz[];
  assets: Assets;
  log: (line: string) => void;
  sessions: Sessions;
  users: UserStore;
  accounts: Accounts;
  /** Judges admin tokens; null when `ADMIN_TOKEN` is unset. */
  admin: AdminGate | null;
  /** The instructors' statistics of the quizzes (admin routes only). */
  results: QuizResults;
  /** The admin key-value API over the store (admin routes only). */
  adminKv: AdminKv;
  /** Rendered pages by cache key, split at their stand-ins (lib/server/render.tsx); per app, bounded. */
  renderCache: Map<string, string[]>;
}

/**
 * How a route uses its session: `counted` ones count a hit and a visit when they succeed,
 * `uncounted` ones (admin pages) do not, and `none` never touch it (static files, health,
 * the bearer-token admin API).
 */
export type SessionPolicy = "counted" | "uncounted" | "none";

/** One row of the route table (routes/_table.ts). */
export interface Route {
  path: string;
  module: RouteModule;
  session: SessionPolicy;
  /** Error answers as a page or as JSON `{"error"}`. */
  errors: "html" | "json";
  /**
   * `session`: an admin page (it checks the admin session itself); `bearer`: the admin API,
   * `Authorization: Bearer <ADMIN_TOKEN>` checked before the handler; `either`: the Bearer
   * token when the request sends an `Authorization` header (then no session is loaded),
   * else the admin session (the handler checks it). All are 404 when `ADMIN_TOKEN` is unset.
   */
  admin: "none" | "session" | "bearer" | "either";
}

/** One request as the route handlers see it. */
export interface Ctx {
  req: Request;
  url: URL;
  params: Record<string, string>;
  /** The request arrived over HTTPS (directly, or via a trusted proxy). */
  secure: boolean;
  /** Our own origin as the browser sees it, for Origin checks. */
  origin: string;
  /** The address to throttle by (worked out on first use: few routes need it). */
  clientAddress(): string;
  route: Route;
  /** Present on routes with a session policy other than `none`. */
  session: Session;
  /** The site's total hits, counting this request. */
  hits: number;
  /** Shown once on the page: the visitor's previous session ended (see `Visit.ended`). */
  notice?: string;
  services: Services;
  /** An `either` admin route's Bearer token was checked: the request has no session. */
  bearer?: boolean;
}

export type Handler = (ctx: Ctx) => Response | Promise<Response>;
export type Method = "GET" | "POST" | "PUT" | "DELETE" | "PATCH";

/** What each file in routes/ exports. */
export interface RouteModule {
  handler: Partial<Record<Method, Handler>>;
}

/** The owner of what this request acts on: the logged-in user, else the session. */
export function owner(ctx: Ctx): Owner {
  return ctx.services.users.ownerOf(ctx.session);
}
