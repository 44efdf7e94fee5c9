import type { Quiz } from "../quiz/bank.ts";
import type { Config } from "../base/config.ts";
import type { Assets } from "./assets.ts";
import type { GroupCommitter } from "../sessions/group_commit.ts";
import type { Session, SessionStore } from "../sessions/session.ts";
import type { Auth, UserEntry } from "../accounts/users.ts";

/** What the app is built from; everything stateful is injected so tests can fake it. */
export interface AppDeps {
  config: Config;
  kv: Deno.Kv;
  /** Epoch milliseconds. */
  now: () => number;
  bank: Quiz[];
  assets: Assets;
  log: (line: string) => void;
  committer: GroupCommitter;
  store: SessionStore;
  auth: Auth;
  /** Rendered pages by cache key, split at their stand-ins (lib/server/render.tsx); per app, bounded. */
  renderCache: Map<string, string[]>;
}

/** One request as the route handlers see it. */
export interface Ctx extends AppDeps {
  req: Request;
  url: URL;
  params: Record<string, string>;
  /** The request arrived over HTTPS (directly, or via a trusted proxy). */
  secure: boolean;
  /** Our own origin as the browser sees it, for Origin checks. */
  origin: string;
  /** The address to throttle by (worked out on first use: few routes need it). */
  clientAddress(): string;
  /** Present on page and API routes; other routes never touch the session. */
  session: Session;
  /** The site's total hits, counting this request. */
  hits: number;
  /** The logged-in user's entry, read at most once per request run (see lib/accounts/users.ts). */
  userEntry?: Promise<UserEntry>;
}

export type Handler = (ctx: Ctx) => Response | Promise<Response>;
export type Method = "GET" | "POST" | "PUT" | "DELETE" | "PATCH";

/** What each file in routes/ exports. */
export interface RouteModule {
  handler: Partial<Record<Method, Handler>>;
}
