import type { Config } from "../base/config.ts";
import { sessionKey, userSessionKey, visitsKey } from "./keys.ts";
import { randomToken } from "../base/crypto.ts";
import {
  type BlindWrite,
  type Check,
  type GroupCommitter,
  StaleRead,
} from "./group_commit.ts";
import { createGroupReader, type GroupReader } from "./group_read.ts";
import { HttpError } from "../base/http_error.ts";
import { KnownSessions } from "./memory.ts";
import { counterValue, updateWithCheck } from "../base/kv_util.ts";
import {
  cookieMaxAge,
  cookieName,
  cookieValues,
  HITS_KEY,
  isAlive,
  isSessionRecord,
  renewDue,
  type Session,
  sessionCookie,
  SessionHandles,
  type SessionRecord,
  type SessionStore,
} from "./session.ts";

export { sessionKey, userSessionKey, visitsKey };

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
  handles: SessionHandles;
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

/** The deletes that end the session `handle` (with its counter and index entry). */
export function sessionDeletes(
  handle: string,
  user: string | null,
): BlindWrite[] {
  const deletes: BlindWrite[] = [
    { kind: "delete", key: sessionKey(handle) },
    { kind: "delete", key: visitsKey(handle) },
  ];
  if (user) deletes.push({ kind: "delete", key: userSessionKey(user, handle) });
  return deletes;
}

/** Adds the deletes that end the session `handle` (with its counter and index entry). */
export function dropSession(
  atomic: Deno.AtomicOperation,
  handle: string,
  user: string | null,
): Deno.AtomicOperation {
  for (const w of sessionDeletes(handle, user)) atomic.delete(w.key);
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

/** A stored session this request replaced (rotation): deleted in the request's commit. */
interface Retired {
  handle: string;
  user: string | null;
  /** The versionstamps read of its record and of its visit counter (null: no row). */
  versionstamp: string;
  visitsVersionstamp: string | null;
}

/**
 * One request's session in kv mode. Nothing it does is written until `finish`: its change
 * to the record, a rotation or an end, the writes `stage`d by the request's handler and the
 * counts all go into one group commit, checked against what the request read, so a request
 * either lands whole or not at all (StaleRead: it runs again from a fresh read).
 */
class KvSession implements Session {
  /** The record changed: it is written, checked against `versionstamp`. */
  dirty = false;
  destroyed = false;
  /** Set by the first rotation of a stored session. */
  retired: Retired | null = null;
  /** The handler's own writes and checks, by key (the last write of a key wins). */
  // Made on the first `stage`: most requests stage nothing.
  #staged: Map<string, BlindWrite> | null = null;
  #stagedChecks: Map<string, Check> | null = null;

  constructor(
    private readonly opts: KvSessionOptions,
    readonly secure: boolean,
    private id: string,
    public handle: string,
    public record: SessionRecord,
    public isNew: boolean,
    public visits: number,
    /** The stored entry's versionstamp as loaded (null while new). */
    public versionstamp: string | null = null,
    /** `record` came from memory, unconfirmed: the commit must check `versionstamp`. */
    public fromMemory = false,
    /** The visit counter's versionstamp in the read (null: no counter row). */
    public visitsVersionstamp: string | null = null,
  ) {
    this.loadedUser = record.user;
  }

  /** Whose index entry the stored session has (a rotation may change `record.user`). */
  readonly loadedUser: string | null;

  /** The record is not in the store under `handle` yet: new, or just rotated. */
  get unstored(): boolean {
    return this.isNew || this.retired !== null;
  }

  update(
    change: (record: SessionRecord) => SessionRecord,
  ): Promise<SessionRecord> {
    try {
      if (this.destroyed) throw sessionEnded();
      this.record = change(this.record);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.unstored) this.dirty = true;
    return Promise.resolve(this.record);
  }

  rotate(
    change: (record: SessionRecord) => SessionRecord = (r) => r,
  ): Promise<void> {
    try {
      if (this.destroyed) throw sessionEnded();
      const now = this.opts.now();
      this.record = {
        ...change(this.record),
        createdAt: now,
        lastSeenAt: now,
        csrf: randomToken(),
      };
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.unstored) {
      this.retired = {
        handle: this.handle,
        user: this.loadedUser,
        versionstamp: this.versionstamp!,
        visitsVersionstamp: this.visitsVersionstamp,
      };
    }
    this.dirty = false;
    this.id = crypto.randomUUID();
    this.handle = this.opts.handles.of(this.id);
    return Promise.resolve();
  }

  destroy(): Promise<void> {
    this.destroyed = true;
    return Promise.resolve();
  }

  stage(writes: BlindWrite[], checks: Check[] = []): void {
    for (const w of writes) {
      const staged = this.#staged ??= new Map();
      staged.set(
        w.kind === "sum" ? `${staged.size}` : JSON.stringify(w.key),
        w,
      );
    }
    for (const c of checks) {
      const id = JSON.stringify(c.key);
      const checks = this.#stagedChecks ??= new Map();
      if (!checks.has(id)) checks.set(id, c);
    }
  }

  /** What the request's one commit writes and checks, at `now`, counting it when `count`. */
  commitOf(now: number, count: boolean): {
    writes: BlindWrite[];
    checks: Check[];
  } {
    const { config } = this.opts;
    const writes: BlindWrite[] = [];
    const checks: Check[] = this.#stagedChecks
      ? [...this.#stagedChecks.values()]
      : [];
    if (count) writes.push({ kind: "sum", key: HITS_KEY, n: 1n });
    const retired = this.retired;
    if (retired) {
      // Checked, so a visit counted meanwhile makes the request run again instead of
      // being lost: the count moves exactly as stored, into the new record.
      writes.push(...sessionDeletes(retired.handle, retired.user));
      checks.push(
        { key: sessionKey(retired.handle), versionstamp: retired.versionstamp },
        {
          key: visitsKey(retired.handle),
          versionstamp: retired.visitsVersionstamp,
        },
      );
    } else if (this.destroyed && !this.isNew) {
      writes.push(...sessionDeletes(this.handle, this.loadedUser));
    }
    if (!this.destroyed) {
      if (this.unstored) {
        // Its visits so far are in the record: no counter row until the next visit.
        this.record = { ...this.record, visitsAtStart: this.visits };
        writes.push(...sessionSets(this.handle, this.record, config, now));
      } else {
        if (this.dirty || renewDue(this.record, config, now)) {
          this.dirty = true;
          this.record = { ...this.record, lastSeenAt: now };
          writes.push(...sessionSets(this.handle, this.record, config, now));
        }
        if (this.dirty || this.fromMemory) {
          checks.push({
            key: sessionKey(this.handle),
            versionstamp: this.versionstamp,
          });
        }
        // From memory, the visit count shown is this process's: checked, so a visit another
        // process counted meanwhile makes the request run again from a fresh read.
        if (this.fromMemory && !this.dirty) {
          checks.push({
            key: visitsKey(this.handle),
            versionstamp: this.visitsVersionstamp,
          });
        }
        if (count) {
          writes.push({ kind: "sum", key: visitsKey(this.handle), n: 1n });
        }
      }
    }
    if (this.#staged) writes.push(...this.#staged.values());
    return { writes, checks };
  }

  /** The Set-Cookie header for this response, if the cookie changed. */
  setCookie(now: number): string | null {
    const { config } = this.opts;
    if (this.destroyed) return sessionCookie(config, this.secure, "", 0);
    if (this.unstored || this.dirty) {
      return sessionCookie(
        config,
        this.secure,
        this.id,
        cookieMaxAge(this.record, config, now),
      );
    }
    return null;
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
  return new KvSessionStore(opts);
}

/** One request's `load`: what every step of it needs. */
interface Loading {
  req: Request;
  secure: boolean;
  /** The request's time. */
  t: number;
  /** 1 when this request counts as a visit and a hit, else 0. */
  inc: number;
}

/** The store {@link createKvSessionStore} describes: one per app. */
export class KvSessionStore implements SessionStore {
  readonly #reader: GroupReader;
  readonly #known = new KnownSessions();
  readonly #sessionOpts: KvSessionOptions;

  constructor(private readonly opts: StoreOptions) {
    this.#reader = createGroupReader(opts.kv);
    this.#sessionOpts = { ...opts, handles: new SessionHandles() };
  }

  async load(
    req: Request,
    secure: boolean,
    counted = true,
    fromMemory = false,
  ): Promise<{ session: Session; hits: number }> {
    const l: Loading = {
      req,
      secure,
      t: this.opts.now(),
      inc: counted ? 1 : 0,
    };
    const { ids, handles } = this.#idsOf(l);
    // A first visit (no id) has nothing to read but the hit counter: from memory if known.
    const knownHits = fromMemory ? this.#known.hits(l.t) : undefined;
    if (handles.length === 0 && knownHits !== undefined) {
      return this.#fresh(l, knownHits + l.inc);
    }
    if (fromMemory && handles.length === 1) {
      const remembered = this.#remembered(l, ids[0], handles[0], knownHits);
      if (remembered) return remembered;
    }
    return await this.#read(l, ids, handles);
  }

  forget(): void {
    this.#known.clear();
  }

  async finish(session: Session, headers: Headers, count: boolean) {
    const s = session as KvSession;
    const t = this.opts.now();
    const { writes, checks } = s.commitOf(t, count);
    let versionstamp;
    try {
      versionstamp = await this.opts.committer.write(writes, checks);
    } catch (error) {
      if (error instanceof StaleRead) this.#known.forget(s.handle);
      throw error;
    }
    this.#landed(s, t, count, versionstamp);
    const cookie = s.setCookie(t);
    if (cookie) headers.append("Set-Cookie", cookie);
  }

  /** The session ids among the request's cookies, with their handles. */
  #idsOf({ req, secure }: Loading): { ids: string[]; handles: string[] } {
    const ids: string[] = [];
    const handles: string[] = [];
    for (
      const value of cookieValues(
        req.headers.get("cookie"),
        cookieName(this.opts.config, secure),
      )
    ) {
      const handle = this.#sessionOpts.handles.ofCookieValue(value);
      if (handle === undefined) continue;
      ids.push(value);
      handles.push(handle);
    }
    return { ids, handles };
  }

  /** A new, not yet stored session. */
  #fresh({ req, secure, t, inc }: Loading, hits: number) {
    const id = crypto.randomUUID();
    const record = newRecord(t, req.headers.get("user-agent"));
    const session = new KvSession(
      this.#sessionOpts,
      secure,
      id,
      this.#sessionOpts.handles.of(id),
      record,
      true,
      inc,
    );
    return { session, hits };
  }

  /** The session `handle` as remembered (with the hits), if it is and alive: no store call. */
  #remembered(
    l: Loading,
    id: string,
    handle: string,
    knownHits: number | undefined,
  ) {
    const k = this.#known.session(handle, l.t);
    const alive = k && isAlive(k.record, this.opts.config, l.t);
    if (!alive || knownHits === undefined) return undefined;
    return {
      session: new KvSession(
        this.#sessionOpts,
        l.secure,
        id,
        handle,
        k.record,
        false,
        k.visits + l.inc,
        k.versionstamp,
        true,
        k.visitsVersionstamp,
      ),
      hits: knownHits + l.inc,
    };
  }

  /** Everything this request needs from the store, in one read. */
  #read(l: Loading, ids: string[], handles: string[]) {
    const keys: Deno.KvKey[] = [
      HITS_KEY,
      ...handles.flatMap((h) => [sessionKey(h), visitsKey(h)]),
    ];
    return this.#known.read(
      () => this.#reader.getMany(keys),
      l.t,
      (entries, stored, landed) => {
        const hits = stored + l.inc;
        for (let i = 0; i < ids.length; i++) {
          const { value: record, versionstamp } = entries[1 + 2 * i];
          if (
            !isSessionRecord(record) || !isAlive(record, this.opts.config, l.t)
          ) {
            continue;
          }
          const counted = entries[2 + 2 * i];
          const visits = this.#known.remember(handles[i], {
            record,
            versionstamp: versionstamp!,
            visits: (record.visitsAtStart ?? 0) + counterValue(counted.value),
            visitsVersionstamp: counted.versionstamp,
            at: l.t,
          }, landed);
          return {
            session: new KvSession(
              this.#sessionOpts,
              l.secure,
              ids[i],
              handles[i],
              record,
              false,
              visits + l.inc,
              versionstamp,
              false,
              counted.versionstamp,
            ),
            hits,
          };
        }
        return this.#fresh(l, hits);
      },
    );
  }

  /** `s`'s commit has landed: what is remembered counts only what has. */
  #landed(
    s: KvSession,
    t: number,
    count: boolean,
    versionstamp: string | null,
  ) {
    const known = this.#known;
    if (s.destroyed || s.dirty) known.forget(s.handle);
    if (s.retired) known.forget(s.retired.handle);
    if (s.unstored && !s.destroyed && versionstamp) {
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
        // A new or rotated session's visits are in the record just remembered.
        handle: s.unstored || s.destroyed ? null : s.handle,
      });
    }
  }
}
