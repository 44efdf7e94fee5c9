/**
 * The one face of the session machinery. The app calls `run()` for every request that has a
 * session, and the account and admin pages list and end sessions through the methods below,
 * the same in both modes (`SESSION_MODE=kv`: records in KV; `cookie`: sealed cookies). How a
 * session is loaded, remembered, verified, committed and retried stays behind this face.
 *
 * @module
 */
import { stringifySetCookie } from "cookie";
import type { Config } from "../base/config.ts";
import { HttpError } from "../base/http_error.ts";
import {
  conflictBackoff,
  retrying,
  storeUnavailable,
  withTimeout,
} from "../base/kv_util.ts";
import type { StoreLimits } from "../base/store_limits.ts";
import { listPage, type Page, type PageOptions } from "../base/list.ts";
import {
  createCookieSessionStore,
  revokeCookieSession,
  userRevocation,
} from "./cookie_store.ts";
import {
  createGroupCommitter,
  type GroupCommitStats,
  StaleRead,
} from "./group_commit.ts";
import {
  createKvSessionStore,
  endSession,
  sessionDeletes,
  type StoreOptions,
  type UserSessionEntry,
  userSessionKey,
} from "./kv_store.ts";
import { describeSession, type SessionSummary } from "./list.ts";
import { HITS_KEY } from "./keys.ts";
import type { Session, SessionData, SessionStore } from "./session.ts";
import { cookieName, cookieValues, isSessionRecord } from "./session.ts";

export type { Session, SessionData, SessionSummary };
export { isSessionRecord };
export { cookieValues };
export { isJanitorLease, JANITOR_LEASE_KEY, startJanitor } from "./janitor.ts";
export * from "./keys.ts";

/** How a route uses its session. */
export interface RunOptions {
  /** The request arrived over HTTPS: the cookie is `Secure` and `__Host-` named. */
  secure: boolean;
  /** The request counts as a hit and a visit when it succeeds. */
  counted: boolean;
  /** A GET: it changes nothing but session bookkeeping, so it may start from memory. */
  safe: boolean;
}

/** What a handler gets: the request's session and the site's hits, counting this request. */
export interface Visit {
  session: Session;
  hits: number;
  /**
   * The request sent a session cookie that named no live session (it timed out, or was
   * ended elsewhere): what to tell the visitor, who now has a fresh session.
   */
  ended?: string;
}

export interface UserSessionView extends UserSessionEntry {
  handle: string;
  current: boolean;
}

export interface SessionsOptions {
  config: Config;
  kv: Deno.Kv;
  /** Epoch milliseconds. */
  now: () => number;
  limits: Readonly<StoreLimits>;
  /** Replaces the store `config.mode` picks (tests, the benchmark's instrumented app). */
  store?: (opts: StoreOptions) => SessionStore | Promise<SessionStore>;
}

/** The marker cookie's name (`<cookie name>-seen`, `__Host-` prefixed when Secure). */
function markerName(config: Config, secure: boolean): string {
  return `${cookieName(config, secure)}-seen`;
}

function markerCookie(config: Config, secure: boolean, maxAge: number): string {
  return stringifySetCookie({
    name: markerName(config, secure),
    value: maxAge > 0 ? "1" : "",
    path: "/",
    httpOnly: true,
    sameSite: "lax",
    secure,
    maxAge,
  });
}

/** `seconds` as a person says it: "30 minutes", "24 hours", "90 seconds". */
export function duration(seconds: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (seconds % 86400 === 0 && seconds >= 86400 * 2) {
    return unit(seconds / 86400, "day");
  }
  if (seconds % 3600 === 0) return unit(seconds / 3600, "hour");
  if (seconds % 60 === 0) return unit(seconds / 60, "minute");
  return unit(seconds, "second");
}

/**
 * Other sessions of a user ended in the request's own commit by "log out everywhere
 * else", a password change or an account deletion: 3 deletes each, well within the 1,000
 * mutations of one commit beside the request's own writes.
 */
export const ENDED_IN_COMMIT = 200;

/** Runs of one request whose commit found its reads changed, before it gets a 503. */
const MAX_RUNS = 50;

export class Sessions {
  private constructor(
    private readonly opts: SessionsOptions,
    private readonly store: SessionStore,
    private readonly statsOf: () => GroupCommitStats,
  ) {}

  static async create(opts: SessionsOptions): Promise<Sessions> {
    const committer = createGroupCommitter(opts.kv, opts.limits);
    const storeOpts = { ...opts, committer };
    const store = opts.store
      ? await opts.store(storeOpts)
      : opts.config.mode === "cookie"
      ? await createCookieSessionStore(storeOpts)
      : createKvSessionStore(storeOpts);
    return new Sessions(opts, store, () => committer.stats());
  }

  /**
   * Runs `handler` with the request's session, then commits everything the request did (its
   * session change, what it staged, its counts) in one commit and sets the cookie; an error
   * answer (status ≥ 400) commits nothing.
   *
   * **The handler may run more than once.** A safe request first runs from what this process
   * remembers of its session, unread; should that prove stale when its commit checks it, or
   * the answer be an error, it runs again from a fresh read. Any request whose commit finds
   * that what it read has changed since runs again from a fresh read (up to 50 times, then
   * 503). So a handler must change nothing but through its session (`update`, `rotate`,
   * `destroy`, `stage`) before it returns.
   */
  async run(
    req: Request,
    { secure, counted, safe }: RunOptions,
    handler: (visit: Visit) => Response | Promise<Response>,
  ): Promise<Response> {
    for (let run = 0;; run++) {
      const fromMemory = run === 0 && safe;
      let session: Session | undefined;
      try {
        const loaded = await this.store.load(req, secure, counted, fromMemory);
        session = loaded.session;
        const ended = session.isNew && this.#hadSession(req, secure);
        const response = await handler(
          ended ? { ...loaded, ended: this.#endedNotice() } : loaded,
        );
        if (session.fromMemory && response.status >= 400) continue;
        if (response.status < 400) {
          await this.store.finish(session, response.headers, counted);
          this.#mark(session, secure, response.headers);
        }
        return response;
      } catch (error) {
        if (fromMemory && session?.fromMemory) continue;
        if (!(error instanceof StaleRead)) throw error;
        if (run >= MAX_RUNS) throw storeUnavailable();
        await conflictBackoff(run);
      }
    }
  }

  /**
   * The request had a session that is gone: it sent a session cookie that named none, or no
   * session cookie (a browser drops it at its Max-Age) but the marker that it had one.
   */
  #hadSession(req: Request, secure: boolean): boolean {
    const header = req.headers.get("cookie");
    const { config } = this.opts;
    return cookieValues(header, cookieName(config, secure), 1).length > 0 ||
      cookieValues(header, markerName(config, secure), 1).length > 0;
  }

  /**
   * Keeps the marker that this browser has a session: set with a new session, cleared when
   * a session is ended on purpose (logout, forget, deletion), so only a timeout is told.
   * It holds no id: "1", for a year.
   */
  #mark(session: Session, secure: boolean, headers: Headers): void {
    const { config } = this.opts;
    if (session.destroyed) {
      headers.append("Set-Cookie", markerCookie(config, secure, 0));
    } else if (session.isNew) {
      headers.append("Set-Cookie", markerCookie(config, secure, 365 * 86400));
    }
  }

  #endedNotice(): string {
    const { idleTimeout, absoluteTimeout } = this.opts.config;
    return `Your previous session has ended: sessions end after ${
      duration(idleTimeout)
    } without activity, or ${
      duration(absoluteTimeout)
    } after they began. This is a fresh one.`;
  }

  /** Whether sessions can be listed (kv mode) or live only in their cookies (cookie mode). */
  get listable(): boolean {
    return this.opts.config.mode !== "cookie";
  }

  /** A page of live sessions (none in cookie mode, which keeps none). */
  async list(page: PageOptions): Promise<Page<SessionSummary>> {
    if (!this.listable) return { items: [], cursor: null };
    const { entries, cursor } = await listPage(this.opts.kv, {
      prefix: ["sessions"],
    }, page);
    const now = this.opts.now();
    const items = entries.map((e) => describeSession(e, this.opts.config, now))
      .filter((s) => s !== null);
    return { items, cursor };
  }

  /** `user`'s live sessions, newest first, `current` marked; null in cookie mode. */
  async ofUser(
    user: string,
    current: Session,
  ): Promise<UserSessionView[] | null> {
    if (!this.listable) return null;
    const { kv, config } = this.opts;
    const now = this.opts.now();
    const out: UserSessionView[] = [];
    for await (
      const e of kv.list<UserSessionEntry>(
        { prefix: ["user_sessions", user] },
        {
          limit: 100,
        },
      )
    ) {
      // expireIn only bounds the store: a timed-out session may linger, so judge by its timestamps.
      if (
        now - e.value.lastSeenAt >= config.idleTimeout * 1000 ||
        now >= e.value.createdAt + config.absoluteTimeout * 1000
      ) continue;
      const handle = String(e.key[2]);
      out.push({ ...e.value, handle, current: handle === current.handle });
    }
    return out.sort((a, b) => b.lastSeenAt - a.lastSeenAt);
  }

  /** Ends one of `user`'s sessions; a handle that is not theirs is a 404. */
  async endOfUser(user: string, handle: string): Promise<void> {
    const entry = /^[0-9a-f]{64}$/.test(handle)
      ? await retrying(() => this.opts.kv.get(userSessionKey(user, handle)))
      : null;
    if (!entry?.value) throw new HttpError(404, "No such session of yours");
    await endSession(this.opts.kv, handle);
    this.store.forget?.();
  }

  /**
   * "Log out everywhere else": every other session of the user of `current` ends, and
   * `current` gets a new id, all in the request's one commit (so an error answer ended
   * nothing). Beyond {@link ENDED_IN_COMMIT} other sessions, more than one commit can hold,
   * the oldest-listed rest are ended first, one at a time; repeating the request is safe.
   */
  async endOthers(current: Session): Promise<void> {
    await this.#endOthersOf(current);
    await current.rotate();
  }

  /** Every session of the user of `current` ends, `current` too (account deletion). */
  async endAll(current: Session): Promise<void> {
    await this.#endOthersOf(current);
    await current.destroy();
  }

  async #endOthersOf(current: Session): Promise<void> {
    const user = current.record.user;
    if (!user) throw new HttpError(403, "Log in first");
    const { kv, config } = this.opts;
    if (!this.listable) {
      current.stage([
        userRevocation(user, this.opts.now(), config.absoluteTimeout),
      ]);
    } else {
      // The whole index, not the first page that /account shows.
      const others: string[] = [];
      for await (const e of kv.list({ prefix: ["user_sessions", user] })) {
        const handle = String(e.key[2]);
        if (handle !== current.handle) others.push(handle);
      }
      const first = Math.max(0, others.length - ENDED_IN_COMMIT);
      for (const handle of others.slice(0, first)) {
        await endSession(kv, handle);
      }
      current.stage(
        others.slice(first).flatMap((handle) => sessionDeletes(handle, user)),
      );
    }
    this.store.forget?.();
  }

  /**
   * Ends any session by its handle (admin): its cookie stops working at once. In kv mode
   * false when there is none; in cookie mode the server cannot know, so the handle is
   * revoked and the answer is true.
   */
  async end(handle: string): Promise<boolean> {
    const { kv, config } = this.opts;
    let ended = true;
    if (!this.listable) {
      await revokeCookieSession(kv, handle, config, this.opts.now());
    } else {
      ended = await endSession(kv, handle);
    }
    this.store.forget?.();
    return ended;
  }

  /** Something wrote the store behind the sessions' back (the admin KV API): forget what is remembered. */
  invalidate(): void {
    this.store.forget?.();
  }

  /** Whether the store answers a read within `ms` (the health check). */
  async probe(ms = 1000): Promise<boolean> {
    try {
      await withTimeout(this.opts.kv.get(HITS_KEY), ms);
      return true;
    } catch {
      return false;
    }
  }

  /** The group commit's batch statistics (the benchmark reports them). */
  commitStats(): GroupCommitStats {
    return this.statsOf();
  }
}
