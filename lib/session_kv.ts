import type { Config } from "./config.ts";
import { randomToken } from "./crypto.ts";
import {
  type BlindWrite,
  type Check,
  type GroupCommitter,
  StaleRead,
} from "./group_commit.ts";
import { createGroupReader } from "./group_read.ts";
import { HttpError } from "./http_error.ts";
import { KnownSessions } from "./known_sessions.ts";
import {
  conflictBackoff,
  counterValue,
  retrying,
  storeUnavailable,
  updateWithCheck,
} from "./kv_util.ts";
import {
  cookieMaxAge,
  cookieName,
  cookieValues,
  handleOfSessionId,
  HITS_KEY,
  isAlive,
  isSessionRecord,
  renewDue,
  type Session,
  sessionCookie,
  sessionHandle,
  type SessionRecord,
  type SessionStore,
} from "./session.ts";

export const sessionKey = (handle: string) => ["sessions", handle] as const;
/**
 * Kept beside the session so visits can be counted with blind `sum`s (from the second
 * visit on: the first is in the record, `visitsAtStart`); deleted with it.
 */
export const visitsKey = (handle: string) => ["visits", handle] as const;
/** Per-user index of live sessions, written in the same commits as the sessions. */
export const userSessionKey = (user: string, handle: string) =>
  ["user_sessions", user, handle] as const;

export interface UserSessionEntry {
  createdAt: number;
  lastSeenAt: number;
  userAgent?: string;
}

export interface StoreOptions {
  kv: Deno.Kv;
  config: Config;
  now: () => number;
  committer: GroupCommitter;
}

interface KvSessionOptions extends StoreOptions {
  known: KnownSessions;
}

/** A fresh, unsaved record. */
export function newRecord(
  now: number,
  userAgent?: string | null,
): SessionRecord {
  return {
    createdAt: now,
    lastSeenAt: now,
    user: null,
    csrf: randomToken(),
    userAgent: userAgent?.slice(0, 200) || undefined,
    data: {},
  };
}

type SetWrite = Extract<BlindWrite, { kind: "set" }>;

/** The writes that store `record` under `handle`: the session and its user-index entry. */
export function sessionSets(
  handle: string,
  record: SessionRecord,
  config: Config,
  now: number,
): SetWrite[] {
  const expireIn = Math.max(1, cookieMaxAge(record, config, now)) * 1000;
  const sets: SetWrite[] = [{
    kind: "set",
    key: sessionKey(handle),
    value: record,
    expireIn,
  }];
  if (record.user) {
    const entry: UserSessionEntry = {
      createdAt: record.createdAt,
      lastSeenAt: record.lastSeenAt,
      userAgent: record.userAgent,
    };
    sets.push({
      kind: "set",
      key: userSessionKey(record.user, handle),
      value: entry,
      expireIn,
    });
  }
  return sets;
}

function putSession(
  atomic: Deno.AtomicOperation,
  handle: string,
  record: SessionRecord,
  config: Config,
  now: number,
): Deno.AtomicOperation {
  for (const w of sessionSets(handle, record, config, now)) {
    atomic.set(w.key, w.value, { expireIn: w.expireIn });
  }
  return atomic;
}

/** Adds the deletes that end the session `handle` (with its counter and index entry). */
export function dropSession(
  atomic: Deno.AtomicOperation,
  handle: string,
  user: string | null,
): Deno.AtomicOperation {
  atomic.delete(sessionKey(handle)).delete(visitsKey(handle));
  if (user) atomic.delete(userSessionKey(user, handle));
  return atomic;
}

/**
 * Ends the stored session `handle` atomically. Returns false when there was none.
 * Used by logout, "forget me", the admin API and "log out everywhere".
 */
export async function endSession(
  kv: Deno.Kv,
  handle: string,
): Promise<boolean> {
  let existed = false;
  await updateWithCheck<SessionRecord>(
    kv,
    sessionKey(handle),
    (entry, atomic) => {
      existed = entry.value !== null;
      if (!existed) return null;
      const user = isSessionRecord(entry.value) ? entry.value.user : null;
      return dropSession(atomic, handle, user);
    },
  );
  return existed;
}

function sessionEnded(): HttpError {
  return new HttpError(
    409,
    "Your session has ended; reload the page to start a new one",
  );
}

class KvSession implements Session {
  /** The cookie to send with this response, if any: a value, or "" to clear it. */
  private pendingCookie: { value: string; maxAge: number } | null = null;
  destroyed = false;

  constructor(
    private readonly opts: KvSessionOptions,
    readonly secure: boolean,
    private id: string,
    public handle: string,
    public record: SessionRecord,
    public isNew: boolean,
    public visits: number,
    /** The stored entry's versionstamp as loaded or last written (null while new). */
    public versionstamp: string | null = null,
    /** `record` came from memory, unconfirmed: the commit must check `versionstamp`. */
    public fromMemory = false,
  ) {}

  /** The stored session is changing: memory of it is stale, and nothing is left to verify. */
  private changing(): void {
    this.opts.known.forget(this.handle);
    this.fromMemory = false;
  }

  async update(
    change: (record: SessionRecord) => SessionRecord,
  ): Promise<SessionRecord> {
    if (this.destroyed) throw sessionEnded();
    if (this.isNew) {
      this.record = change(this.record);
      return this.record;
    }
    const { kv, config, committer } = this.opts;
    const now = this.opts.now();
    const key = sessionKey(this.handle);
    this.opts.known.forget(this.handle);
    // The first attempt starts from the record this request loaded (its versionstamp is
    // checked in the commit), later ones from a fresh read. The write shares a group
    // commit with other requests' writes (never with another write of this session).
    let entry: { value: unknown; versionstamp: string | null } = {
      value: this.record,
      versionstamp: this.versionstamp,
    };
    for (let conflict = 0;; conflict++) {
      // Never resurrect a session that a concurrent request ended.
      if (
        entry.versionstamp === null || !isSessionRecord(entry.value) ||
        !isAlive(entry.value, config, now)
      ) throw sessionEnded();
      // Writing anyway, so the idle window is renewed for free.
      const next = { ...change(entry.value), lastSeenAt: now };
      try {
        this.versionstamp = await committer.write(
          sessionSets(this.handle, next, config, now),
          [{ key, versionstamp: entry.versionstamp }],
        );
      } catch (error) {
        if (!(error instanceof StaleRead)) throw error;
        // Changed meanwhile: replay this change on a fresh copy.
        if (conflict >= 50) throw storeUnavailable();
        await conflictBackoff(conflict);
        entry = await retrying(() => kv.get(key));
        continue;
      }
      this.record = next;
      this.fromMemory = false;
      this.pendingCookie = {
        value: this.id,
        maxAge: cookieMaxAge(next, config, now),
      };
      return next;
    }
  }

  async rotate(
    change: (record: SessionRecord) => SessionRecord = (r) => r,
  ): Promise<void> {
    if (this.destroyed) throw sessionEnded();
    const { config } = this.opts;
    const now = this.opts.now();
    this.changing();
    const id = crypto.randomUUID();
    const handle = sessionHandle(id);
    const fresh = (r: SessionRecord) => ({
      ...change(r),
      createdAt: now,
      lastSeenAt: now,
      csrf: randomToken(),
    });
    this.record = this.isNew
      ? fresh(this.record)
      : await this.moveTo(handle, fresh, now);
    this.id = id;
    this.handle = handle;
    this.pendingCookie = {
      value: id,
      maxAge: cookieMaxAge(this.record, config, now),
    };
  }

  /**
   * Rotation's commit: the record and its visit counter move to `handle` in one atomic,
   * both read fresh and checked, so a visit that another request counts meanwhile makes
   * the commit retry instead of being lost, and the count moves exactly as stored.
   */
  private async moveTo(
    handle: string,
    fresh: (record: SessionRecord) => SessionRecord,
    now: number,
  ): Promise<SessionRecord> {
    const { kv, config } = this.opts;
    const from = this.handle;
    for (let conflict = 0; conflict < 50; conflict++) {
      const [entry, visits] = await retrying(() =>
        kv.getMany<[SessionRecord, Deno.KvU64]>([
          sessionKey(from),
          visitsKey(from),
        ])
      );
      if (
        !isSessionRecord(entry.value) || !isAlive(entry.value, config, now)
      ) throw sessionEnded();
      const next = fresh(entry.value);
      const atomic = kv.atomic().check(entry, visits);
      dropSession(atomic, from, entry.value.user);
      if (visits.value) atomic.set(visitsKey(handle), visits.value);
      putSession(atomic, handle, next, config, now);
      const result = await retrying(() => atomic.commit());
      if (result.ok) {
        this.versionstamp = result.versionstamp;
        return next;
      }
      await conflictBackoff(conflict);
    }
    throw storeUnavailable();
  }

  async destroy(): Promise<void> {
    this.changing();
    if (!this.isNew && !this.destroyed) {
      await endSession(this.opts.kv, this.handle);
    }
    this.destroyed = true;
    this.pendingCookie = { value: "", maxAge: 0 };
  }

  /** The Set-Cookie header for this response, if the cookie changed. */
  setCookie(now: number): string | null {
    const { config } = this.opts;
    if (this.isNew && !this.destroyed) {
      return sessionCookie(
        config,
        this.secure,
        this.id,
        cookieMaxAge(this.record, config, now),
      );
    }
    const c = this.pendingCookie;
    return c ? sessionCookie(config, this.secure, c.value, c.maxAge) : null;
  }
}

/**
 * Server-side sessions in Deno KV, keyed by the SHA-256 handle of a UUID v4 cookie.
 *
 * A safe request (`fromMemory`) of a session this process read or wrote less than a second
 * ago is served from that memory, without reading the store: its group commit then checks
 * that the stored session still has the versionstamp remembered, so a session that was
 * ended, rotated or changed meanwhile (by any process) fails the check, nothing is written,
 * and the request runs again from a fresh read. Visit counters are not checked: blind sums
 * stay exact, and the count shown may lag other processes' counts by at most that second.
 */
export function createKvSessionStore(opts: StoreOptions): SessionStore {
  const { kv, config, now, committer } = opts;
  const reader = createGroupReader(kv);
  const known = new KnownSessions();
  const sessionOpts: KvSessionOptions = { ...opts, known };

  return {
    async load(req, secure, counted = true, fromMemory = false) {
      const inc = counted ? 1 : 0;
      const t = now();
      const ids: string[] = [];
      const handles: string[] = [];
      for (
        const value of cookieValues(
          req.headers.get("cookie"),
          cookieName(config, secure),
        )
      ) {
        const handle = handleOfSessionId(value);
        if (handle === undefined) continue;
        ids.push(value);
        handles.push(handle);
      }
      const fresh = (hits: number) => {
        const id = crypto.randomUUID();
        const record = newRecord(t, req.headers.get("user-agent"));
        const session = new KvSession(
          sessionOpts,
          secure,
          id,
          sessionHandle(id),
          record,
          true,
          inc,
        );
        return { session, hits };
      };
      // A first visit (no id) has nothing to read but the hit counter: from memory if known.
      const knownHits = fromMemory ? known.hits(t) : undefined;
      if (handles.length === 0 && knownHits !== undefined) {
        return fresh(knownHits + inc);
      }
      if (fromMemory && handles.length === 1) {
        const k = known.session(handles[0], t);
        const hits = k && isAlive(k.record, config, t) ? knownHits : undefined;
        if (k && hits !== undefined) {
          return {
            session: new KvSession(
              sessionOpts,
              secure,
              ids[0],
              handles[0],
              k.record,
              false,
              k.visits + inc,
              k.versionstamp,
              true,
            ),
            hits: hits + inc,
          };
        }
      }
      // Everything this request needs from the store, in one read.
      const keys: Deno.KvKey[] = [
        HITS_KEY,
        ...handles.flatMap((h) => [sessionKey(h), visitsKey(h)]),
      ];
      return await known.read(
        () => reader.getMany(keys),
        t,
        (entries, stored, landed) => {
          const hits = stored + inc;
          for (let i = 0; i < ids.length; i++) {
            const { value: record, versionstamp } = entries[1 + 2 * i];
            if (!isSessionRecord(record) || !isAlive(record, config, t)) {
              continue;
            }
            const counted = entries[2 + 2 * i];
            const visits = known.remember(handles[i], {
              record,
              versionstamp: versionstamp!,
              visits: (record.visitsAtStart ?? 0) +
                counterValue(counted.value),
              visitsVersionstamp: counted.versionstamp,
              at: t,
            }, landed);
            return {
              session: new KvSession(
                sessionOpts,
                secure,
                ids[i],
                handles[i],
                record,
                false,
                visits + inc,
                versionstamp,
              ),
              hits,
            };
          }
          return fresh(hits);
        },
      );
    },

    forget: () => known.clear(),

    async finish(session, headers, count) {
      const s = session as KvSession;
      const t = now();
      const writes: BlindWrite[] = [];
      const checks: Check[] = [];
      if (count) writes.push({ kind: "sum", key: HITS_KEY, n: 1n });
      if (!s.destroyed) {
        if (s.isNew) {
          // A brand-new random key: nothing to check, so it can share the group commit.
          // Its first visit is counted in the record: no counter row until the second.
          if (count) s.record = { ...s.record, visitsAtStart: 1 };
          writes.push(...sessionSets(s.handle, s.record, config, t));
        } else {
          if (renewDue(s.record, config, t)) {
            await s.update((r) => r).catch(
              () => {/* ended meanwhile: nothing to renew */},
            );
          }
          if (count) {
            writes.push({ kind: "sum", key: visitsKey(s.handle), n: 1n });
          }
        }
        if (s.fromMemory) {
          checks.push({
            key: sessionKey(s.handle),
            versionstamp: s.versionstamp!,
          });
        }
      }
      let versionstamp;
      try {
        versionstamp = await committer.write(writes, checks);
      } catch (error) {
        if (error instanceof StaleRead) known.forget(s.handle);
        throw error;
      }
      // What is remembered counts only what has landed.
      if (s.isNew && !s.destroyed && versionstamp) {
        known.remember(s.handle, {
          record: s.record,
          versionstamp,
          visits: s.visits,
          visitsVersionstamp: null,
          at: t,
        });
      }
      if (count && versionstamp) {
        known.landed({
          versionstamp,
          hit: true,
          // A new session's first visit is in the record just remembered.
          handle: s.isNew || s.destroyed ? null : s.handle,
        });
      }
      const cookie = s.setCookie(t);
      if (cookie) headers.append("Set-Cookie", cookie);
    },
  };
}
