/**
 * `SESSION_MODE=cookie`: the whole session travels in the cookie, sealed by
 * lib/sessions/cookie_codec.ts (AES-256-GCM under HKDF keys from `SESSION_SECRET`, key
 * id for rotation, expiry sealed inside, refused past the 4 KB cookie limit),
 * behind the same {@link SessionStore} interface as the KV mode.
 *
 * KV still holds what a cookie cannot carry:
 * - the site's `hits` counter (group-committed, exactly as in KV mode);
 * - `["cookie_revoked", handle]`: written when a cookie session ends (logout,
 *   forget) or is replaced (login), so a copy of the cookie stops working;
 *   it lives until the session's absolute deadline, after which every copy is
 *   dead anyway;
 * - `["user_valid_after", user]`: "log out everywhere" — logged-in cookies
 *   created before it are dead.
 * Both are read in the same `getMany` as `hits`, so a request still costs one
 * read and, when it counts, one (group) commit.
 *
 * @module
 */
import type { Config } from "../base/config.ts";
import { cookieRevokedKey, userValidAfterKey } from "./keys.ts";
import {
  type CookieCodec,
  CookieTooLargeError,
  createCookieCodec,
} from "./cookie_codec.ts";
import { randomToken } from "../base/crypto.ts";
import type { BlindWrite, Check, GroupCommitter } from "./group_commit.ts";
import { createGroupReader, type GroupReader } from "./group_read.ts";
import { HttpError } from "../base/http_error.ts";
import { KnownSessions, Remembered } from "./memory.ts";
import { retrying } from "../base/kv_util.ts";
import {
  cookieMaxAge,
  cookieName,
  cookieValues,
  HITS_KEY,
  isAlive,
  isSessionId,
  isSessionRecord,
  renewDue,
  type Session,
  sessionCookie,
  SessionHandles,
  type SessionRecord,
  type SessionStore,
} from "./session.ts";
import { newRecord } from "./kv_store.ts";

export { cookieRevokedKey, userValidAfterKey };

/**
 * Extra lifetime for revocation entries beyond the deadline they guard, so an
 * instance whose clock runs a little behind still sees them.
 */
const CLOCK_SKEW_MS = 60_000;

/** What the cookie carries (sealed). */
export interface CookiePayload {
  /** Random id naming this cookie session (crypto.randomUUID()); new on rotation. */
  sid: string;
  record: SessionRecord;
  /** Visits counted so far (the current request is added when it counts). */
  visits: number;
}

export interface CookieStoreOptions {
  kv: Deno.Kv;
  config: Config;
  now: () => number;
  committer: GroupCommitter;
}

interface CookieSessionOptions extends CookieStoreOptions {
  handles: SessionHandles;
}

function isPayload(value: unknown): value is CookiePayload {
  const p = value as CookiePayload;
  return typeof p === "object" && p !== null &&
    typeof p.sid === "string" && isSessionId(p.sid) &&
    Number.isSafeInteger(p.visits) && p.visits >= 0 &&
    isSessionRecord(p.record);
}

/** When a cookie holding `record`, last seen at `lastSeenAt`, stops opening. */
function expiryOf(record: SessionRecord, config: Config): number {
  return Math.min(
    record.lastSeenAt + config.idleTimeout * 1000,
    record.createdAt + config.absoluteTimeout * 1000,
  );
}

/**
 * The write that ends the cookie session `handle` wherever a copy of it is.
 * Every copy shares `createdAt` (it only changes with the sid), so none
 * outlives the absolute deadline: the entry need not either.
 */
function revocation(
  handle: string,
  record: SessionRecord,
  config: Config,
  now: number,
): BlindWrite {
  const deadline = record.createdAt + config.absoluteTimeout * 1000;
  return {
    kind: "set",
    key: cookieRevokedKey(handle),
    value: now,
    expireIn: Math.max(1000, deadline - now) + CLOCK_SKEW_MS,
  };
}

/**
 * "Log out everywhere": the write that makes every cookie session of `user` created
 * before `now` stop working (checked on each request of a logged-in cookie session).
 * Rotate the current session in the same request to keep it: its new `createdAt` is
 * `now`, which is not before `now`.
 */
export function userRevocation(
  user: string,
  now: number,
  absoluteTimeout = 400 * 86400,
): Extract<BlindWrite, { kind: "set" }> {
  return {
    kind: "set",
    key: userValidAfterKey(user),
    value: now,
    expireIn: absoluteTimeout * 1000 + CLOCK_SKEW_MS,
  };
}

/** {@link userRevocation}, committed on its own. */
export async function revokeUserCookieSessions(
  kv: Deno.Kv,
  user: string,
  now: number,
  absoluteTimeout = 400 * 86400,
): Promise<void> {
  const { key, value, expireIn } = userRevocation(user, now, absoluteTimeout);
  await retrying(() => kv.set(key, value, { expireIn }));
}

/**
 * Ends one cookie session by its handle (e.g. from the admin API), until the
 * longest possible lifetime has passed.
 */
export async function revokeCookieSession(
  kv: Deno.Kv,
  handle: string,
  config: Config,
  now: number,
): Promise<void> {
  await retrying(() =>
    kv.set(cookieRevokedKey(handle), now, {
      expireIn: config.absoluteTimeout * 1000 + CLOCK_SKEW_MS,
    })
  );
}

function sessionEnded(): HttpError {
  return new HttpError(
    409,
    "Your session has ended; reload the page to start a new one",
  );
}

function tooLarge(error: CookieTooLargeError): HttpError {
  return new HttpError(
    413,
    `Your session has grown too large for a cookie (${error.size} bytes, ` +
      `limit ${error.limit}); this change was not saved. ` +
      `Remove some likes or start a quiz over to make room.`,
  );
}

class CookieSession implements Session {
  /** Changed since it was loaded: the cookie must be re-sealed. */
  dirty = false;
  destroyed = false;
  /** KV writes to commit with this response (revocations, staged), only if it succeeds. */
  readonly pending: BlindWrite[] = [];
  /** Checks the staged writes depend on. */
  readonly stagedChecks: Check[] = [];

  constructor(
    private readonly opts: CookieSessionOptions,
    readonly secure: boolean,
    public sid: string,
    public handle: string,
    public record: SessionRecord,
    public isNew: boolean,
    public visits: number,
    /** Sealed under an older secret: re-issue under the primary one. */
    readonly stale: boolean,
    /** The client holds a cookie with this sid (so a copy may exist elsewhere). */
    private issued: boolean,
    /**
     * Set when the revocation state was not read but taken from memory: what the commit
     * must still find (no revocation of this cookie; the user's "valid after" unchanged).
     */
    readonly checks: Check[] = [],
  ) {}

  get fromMemory(): boolean {
    return this.checks.length > 0;
  }

  update(
    change: (record: SessionRecord) => SessionRecord,
  ): Promise<SessionRecord> {
    if (this.destroyed) return Promise.reject(sessionEnded());
    try {
      this.record = change(this.record);
    } catch (error) {
      return Promise.reject(error);
    }
    this.dirty = true;
    return Promise.resolve(this.record);
  }

  rotate(
    change: (record: SessionRecord) => SessionRecord = (r) => r,
  ): Promise<void> {
    try {
      if (this.destroyed) throw sessionEnded();
      const { config } = this.opts;
      const now = this.opts.now();
      const next = {
        ...change(this.record),
        createdAt: now,
        lastSeenAt: now,
        csrf: randomToken(),
      };
      // The cookie the client holds (and any copy of it) stops working once
      // this response is sent: same effect as deleting the old KV session.
      if (this.issued) {
        this.pending.push(revocation(this.handle, this.record, config, now));
      }
      const sid = crypto.randomUUID();
      this.handle = this.opts.handles.of(sid);
      this.sid = sid;
      this.record = next;
      this.issued = false;
      this.dirty = true;
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  stage(writes: BlindWrite[], checks: Check[] = []): void {
    this.pending.push(...writes);
    this.stagedChecks.push(...checks);
  }

  destroy(): Promise<void> {
    if (this.issued && !this.destroyed) {
      const { config } = this.opts;
      this.pending.push(
        revocation(this.handle, this.record, config, this.opts.now()),
      );
    }
    this.destroyed = true;
    return Promise.resolve();
  }
}

/** A cookie that opened: authentic, alive, not yet checked against revocations. */
interface Candidate {
  payload: CookiePayload;
  stale: boolean;
  handle: string;
}

/**
 * Sessions kept entirely in a sealed cookie. Async because the codec derives
 * its keys (for the plain and the `__Host-` cookie name) up front.
 * @throws when `config.secrets` is empty or a secret is too short.
 */
export async function createCookieSessionStore(
  opts: CookieStoreOptions,
): Promise<SessionStore> {
  // The cookie name is the codec's context, so a value cannot move between
  // the plain and the `__Host-` cookie.
  const [plain, hosted] = await Promise.all(
    [false, true].map((secure) =>
      createCookieCodec({
        secrets: opts.config.secrets,
        context: cookieName(opts.config, secure),
      })
    ),
  );
  return new CookieSessionStore(opts, plain, hosted);
}

/** A user's "valid after" entry as last read. */
interface ValidAfter {
  value: unknown;
  versionstamp: string | null;
  at: number;
}

/** Anything but a number there (garbage from the admin API) fails closed. */
const acceptedBy = (validAfter: unknown, record: SessionRecord) =>
  validAfter === null ||
  (typeof validAfter === "number" && record.createdAt >= validAfter);

/** The store {@link createCookieSessionStore} describes: one per app. */
export class CookieSessionStore implements SessionStore {
  readonly #reader: GroupReader;
  // The hit counter and each user's "valid after" entry as last read: a GET can be served
  // without a read, its commit checking that nothing was revoked meanwhile (as in kv mode).
  readonly #known = new KnownSessions();
  readonly #validAfters = new Remembered<ValidAfter>();
  readonly #sessionOpts: CookieSessionOptions;

  /** `plain` and `hosted`: the codecs of the plain and the `__Host-` cookie. */
  constructor(
    private readonly opts: CookieStoreOptions,
    private readonly plain: CookieCodec,
    private readonly hosted: CookieCodec,
  ) {
    this.#reader = createGroupReader(opts.kv);
    this.#sessionOpts = { ...opts, handles: new SessionHandles() };
  }

  forget(): void {
    this.#known.clear();
    this.#validAfters.clear();
  }

  async load(
    req: Request,
    secure: boolean,
    counted = true,
    fromMemory = false,
  ): Promise<{ session: Session; hits: number }> {
    const inc = counted ? 1 : 0;
    const t = this.opts.now();
    const values = cookieValues(
      req.headers.get("cookie"),
      cookieName(this.opts.config, secure),
    );
    const candidates = await this.#open(values, secure, t);
    const knownHits = fromMemory ? this.#known.hits(t) : undefined;
    if (knownHits !== undefined && candidates.length === 1) {
      const checks = this.#memoryChecks(candidates[0], t);
      if (checks) {
        return {
          session: this.#fromCookie(candidates[0], secure, inc, checks),
          hits: knownHits + inc,
        };
      }
    }
    if (knownHits !== undefined && values.length === 0) {
      return this.#newSession(t, secure, knownHits + inc, inc);
    }
    return await this.#read(candidates, secure, t, inc);
  }

  async finish(session: Session, headers: Headers, count: boolean) {
    const s = session as CookieSession;
    const t = this.opts.now();
    const cookie = await this.#cookieOf(s, t, count);
    const writes = [...s.pending];
    if (count) writes.push({ kind: "sum", key: HITS_KEY, n: 1n });
    const versionstamp = await this.opts.committer.write(writes, [
      ...s.checks,
      ...s.stagedChecks,
    ]);
    if (count && versionstamp) {
      this.#known.landed({ versionstamp, hit: true, handle: null });
    }
    if (cookie) headers.append("Set-Cookie", cookie);
  }

  #codecFor(secure: boolean): CookieCodec {
    return secure ? this.hosted : this.plain;
  }

  /** The cookies among `values` that open: authentic and alive. */
  async #open(
    values: string[],
    secure: boolean,
    t: number,
  ): Promise<Candidate[]> {
    const codec = this.#codecFor(secure);
    const candidates: Candidate[] = [];
    for (const value of values) {
      const opened = await codec.open<unknown>(value, t);
      if (
        opened && isPayload(opened.payload) &&
        isAlive(opened.payload.record, this.opts.config, t)
      ) {
        candidates.push({
          payload: opened.payload,
          stale: opened.stale,
          handle: this.#sessionOpts.handles.of(opened.payload.sid),
        });
      }
    }
    return candidates;
  }

  /**
   * What the commit must find still true for `candidate` to be served from memory (not
   * revoked; its user's "valid after" unchanged), or undefined if memory cannot tell.
   */
  #memoryChecks(
    { payload, handle }: Candidate,
    t: number,
  ): Check[] | undefined {
    const user = payload.record.user;
    const va = user ? this.#validAfters.get(user, t) : undefined;
    if (user && !(va && acceptedBy(va.value, payload.record))) return undefined;
    const checks: Check[] = [
      { key: cookieRevokedKey(handle), versionstamp: null },
    ];
    if (user) {
      checks.push({
        key: userValidAfterKey(user),
        versionstamp: va!.versionstamp,
      });
    }
    return checks;
  }

  /** Everything this request needs from the store, in one read. */
  #read(candidates: Candidate[], secure: boolean, t: number, inc: number) {
    const keys: Deno.KvKey[] = [HITS_KEY];
    const at = candidates.map(({ payload, handle }) => {
      const revoked = keys.push(cookieRevokedKey(handle)) - 1;
      const user = payload.record.user;
      const validAfter = user ? keys.push(userValidAfterKey(user)) - 1 : -1;
      return { revoked, validAfter };
    });
    return this.#known.read(
      () => this.#reader.getMany(keys),
      t,
      (entries, stored) => {
        const hits = stored + inc;
        for (let i = 0; i < candidates.length; i++) {
          const { record } = candidates[i].payload;
          if (record.user) {
            const { value, versionstamp } = entries[at[i].validAfter];
            this.#validAfters.set(record.user, { value, versionstamp, at: t });
            if (!acceptedBy(value, record)) continue;
          }
          if (entries[at[i].revoked].value !== null) continue;
          return {
            session: this.#fromCookie(candidates[i], secure, inc),
            hits,
          };
        }
        return this.#newSession(t, secure, hits, inc);
      },
    );
  }

  /** The session an opened cookie carries, counting this request when `inc` is 1. */
  #fromCookie(
    { payload, stale, handle }: Candidate,
    secure: boolean,
    inc: number,
    checks?: Check[],
  ): CookieSession {
    return new CookieSession(
      this.#sessionOpts,
      secure,
      payload.sid,
      handle,
      payload.record,
      false,
      payload.visits + inc,
      stale,
      true,
      checks,
    );
  }

  #newSession(t: number, secure: boolean, hits: number, inc: number) {
    const sid = crypto.randomUUID();
    const session = new CookieSession(
      this.#sessionOpts,
      secure,
      sid,
      this.#sessionOpts.handles.of(sid),
      // No user agent: it would only cost cookie bytes (kv mode keeps it
      // for the admin listing, which has no cookie sessions to list).
      newRecord(t, null),
      true,
      inc,
      false,
      false,
    );
    return { session, hits };
  }

  /** The Set-Cookie value for `s`'s response, or null when the cookie stays as it is. */
  async #cookieOf(
    s: CookieSession,
    t: number,
    count: boolean,
  ): Promise<string | null> {
    const { config } = this.opts;
    if (s.destroyed) return sessionCookie(config, s.secure, "", 0);
    if (
      !(count || s.dirty || s.isNew || s.stale || renewDue(s.record, config, t))
    ) {
      return null;
    }
    // Sealed before anything is committed: a 413 here leaves no trace,
    // and the client keeps its previous cookie.
    const record = { ...s.record, lastSeenAt: t };
    const payload: CookiePayload = { sid: s.sid, record, visits: s.visits };
    let value: string;
    try {
      value = await this.#codecFor(s.secure).seal(
        payload,
        expiryOf(record, config),
      );
    } catch (error) {
      if (error instanceof CookieTooLargeError) throw tooLarge(error);
      throw error;
    }
    return sessionCookie(
      config,
      s.secure,
      value,
      cookieMaxAge(record, config, t),
    );
  }
}
