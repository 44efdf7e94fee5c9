import { stringifySetCookie } from "cookie";
import type { Config } from "../base/config.ts";
import { BoundedMap } from "../base/bounded_map.ts";
import { sha256Hex } from "../base/crypto.ts";
import type { BlindWrite, Check } from "./group_commit.ts";

/** What the app keeps for a visitor; lives in KV (kv mode) or in the cookie (cookie mode). */
export interface SessionData {
  /** quizId -> progress (questionId -> the answer kept, see lib/quiz/scoring.ts). */
  quizzes?: Record<string, { answers: Record<string, unknown> }>;
  /** Liked questions as "quizId/questionId". */
  likes?: string[];
  /** A one-shot message shown on the next page. */
  flash?: string;
  /** Epoch ms until which this session may use the admin dashboard. */
  adminUntil?: number;
}

/** The stored value of one session. Timestamps are epoch milliseconds. */
export interface SessionRecord {
  /** Start of the absolute lifetime: creation, login or registration. */
  createdAt: number;
  /** Last renewal of the idle window (not every request: see `renewDue`). */
  lastSeenAt: number;
  /** Normalised username, or null for an anonymous visitor. */
  user: string | null;
  /** Session-bound anti-CSRF token for forms. */
  csrf: string;
  userAgent?: string;
  data: SessionData;
  /**
   * Kv mode: the visit that created the session when it was counted (1), kept in the record
   * so that a first visit writes no counter row. Visits = this + the `visits` counter.
   */
  visitsAtStart?: number;
}

/** One request's view of its session, the same in both session modes. */
export interface Session {
  /** SHA-256 hex of the id: safe to log and show; never the id itself. */
  readonly handle: string;
  /** True until the session has been stored (a first visit). */
  readonly isNew: boolean;
  /** The session was ended by this request (`destroy`). */
  readonly destroyed: boolean;
  readonly record: SessionRecord;
  /** This session's visits, counting the current request. */
  readonly visits: number;
  /**
   * True while the record comes from the store's memory and no store call has confirmed
   * it yet (see `SessionStore.load`); `finish` confirms it in its commit.
   */
  readonly fromMemory: boolean;
  /**
   * Changes the record. Nothing is written until the request's one commit (`finish`), which
   * checks that the session is still as this request loaded it: if another request changed
   * it meanwhile, the commit fails with StaleRead and the whole request runs again from a
   * fresh read, so no change is lost. `change` may throw an HttpError to refuse.
   */
  update(
    change: (record: SessionRecord) => SessionRecord,
  ): Promise<SessionRecord>;
  /** New id (login, registration); the old one stops working in the same commit. */
  rotate(change?: (record: SessionRecord) => SessionRecord): Promise<void>;
  /** Ends the session: deleted from the store, cookie cleared. */
  destroy(): Promise<void>;
  /**
   * Adds writes, and the checks they depend on, to the request's one commit: they land with
   * its session change and counts if it succeeds, or not at all. A failing check makes the
   * request run again from a fresh read (StaleRead).
   */
  stage(writes: BlindWrite[], checks?: Check[]): void;
}

export interface SessionStore {
  /**
   * Finds the request's live session or starts a new, not yet stored one. Bad cookies never
   * throw. `hits` and the session's `visits` include this request when it will be `counted`.
   * With `fromMemory` (safe requests only) a store may answer from what it recently read,
   * without a store call; `finish` then verifies it and throws StaleRead (lib/sessions/group_commit.ts)
   * if the session changed meanwhile, and the request must run again without `fromMemory`.
   * A request may therefore run more than once; only its last run's commit lands.
   */
  load(
    req: Request,
    secure: boolean,
    counted?: boolean,
    fromMemory?: boolean,
  ): Promise<{ session: Session; hits: number }>;
  /**
   * After a successful answer: the request's one commit. Stores a new session or what the
   * request changed, counts the visit and the hit when `count`, renews the idle window when
   * due, commits what was staged, and sets the cookie header when it changed. Throws
   * StaleRead (nothing written) when something the request read has changed since: the
   * request must run again from a fresh read.
   */
  finish(session: Session, headers: Headers, count: boolean): Promise<void>;
  /**
   * Something wrote the store behind the sessions' back (the admin KV API): drop what is
   * remembered, so the next requests show what is stored.
   */
  forget?(): void;
}

export { HITS_KEY } from "./keys.ts";

const UUID_V4 =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** True for exactly what `crypto.randomUUID()` produces, checked before any store call. */
export function isSessionId(value: string): boolean {
  return value.length === 36 && UUID_V4.test(value);
}

/** How many session ids' handles a {@link SessionHandles} keeps (those unused for longest go first). */
export const HANDLES_KEPT = 10_000;

/**
 * The store key ("handle") of a session id: its SHA-256. Returning visitors send the same
 * id again and again, so the handles of recently used ids are kept in memory (never in the
 * store, which holds handles only): hashing was about 6 % of a page view's JavaScript time.
 * Each session store owns one, so two apps in one process share nothing through it.
 */
export class SessionHandles {
  readonly #handles = new BoundedMap<string, string>(HANDLES_KEPT);

  /** The handle of session id `id`. */
  of(id: string): string {
    let handle = this.#handles.get(id);
    if (handle === undefined) {
      handle = sha256Hex(id);
      this.#handles.set(id, handle);
    }
    return handle;
  }

  /**
   * The handle of a cookie value if it is a session id, else undefined. A value whose
   * handle is remembered was checked when it was first hashed, so it is not checked again.
   */
  ofCookieValue(value: string): string | undefined {
    return this.#handles.get(value) ??
      (isSessionId(value) ? this.of(value) : undefined);
  }
}

/** The cookie name for this request: a Secure cookie carries the `__Host-` prefix. */
export function cookieName(config: Config, secure: boolean): string {
  return secure ? `__Host-${config.cookieName}` : config.cookieName;
}

/**
 * Every value the Cookie header holds under `name`, in order (browsers send duplicates
 * when cookies of several paths match), at most `max` of them. Never throws.
 */
export function cookieValues(
  header: string | null,
  name: string,
  max = 3,
): string[] {
  if (!header || header.length > 16384) return [];
  const values: string[] = [];
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      value = value.slice(1, -1);
    }
    values.push(value);
    if (values.length >= max) break;
  }
  return values;
}

/** Whether a stored record is still alive at `now`, by the timestamps inside it. */
export function isAlive(
  record: SessionRecord,
  config: Config,
  now: number,
): boolean {
  return now - record.lastSeenAt < config.idleTimeout * 1000 &&
    now < record.createdAt + config.absoluteTimeout * 1000;
}

/** Seconds the cookie should live: the idle timeout, or less if the absolute deadline is nearer. */
export function cookieMaxAge(
  record: SessionRecord,
  config: Config,
  now: number,
): number {
  const untilAbsolute = Math.floor(
    (record.createdAt + config.absoluteTimeout * 1000 - now) / 1000,
  );
  return Math.max(0, Math.min(config.idleTimeout, untilAbsolute));
}

/** Renew the idle window once a tenth of it has passed, not on every request. */
export function renewDue(
  record: SessionRecord,
  config: Config,
  now: number,
): boolean {
  return now - record.lastSeenAt >= Math.max(1000, config.idleTimeout * 100);
}

/** Rejects values that are not session records (e.g. garbage written through the admin API). */
export function isSessionRecord(value: unknown): value is SessionRecord {
  const r = value as SessionRecord;
  return typeof r === "object" && r !== null &&
    typeof r.createdAt === "number" &&
    typeof r.lastSeenAt === "number" &&
    (r.user === null || typeof r.user === "string") &&
    typeof r.csrf === "string" && typeof r.data === "object" && r.data !== null;
}

/** The `Set-Cookie` value for the session cookie; an empty value with maxAge 0 clears it. */
export function sessionCookie(
  config: Config,
  secure: boolean,
  value: string,
  maxAge: number,
): string {
  return stringifySetCookie({
    name: cookieName(config, secure),
    value,
    path: "/",
    httpOnly: true,
    sameSite: "lax",
    secure,
    maxAge,
  });
}
