/**
 * The owner of what a request acts on (quiz progress, likes): the logged-in user, whose record
 * lives in KV beyond any session, or else the anonymous session itself.
 */
import { HttpError } from "../base/http_error.ts";
import { retrying } from "../base/kv_util.ts";
import type { Session } from "../sessions/mod.ts";
import {
  type OwnerData,
  type UserEntry,
  userKey,
  type UserRecord,
} from "./records.ts";
import { cleanOwnerData, cleanUserRecord, reportOnce } from "./shapes.ts";

/** Reads user records; one per app. */
export class UserStore {
  constructor(
    private readonly kv: Deno.Kv,
    private readonly log: (line: string) => void,
  ) {}

  /** The user record `name` as stored, with its versionstamp (for a commit's check). */
  async read(name: string): Promise<UserEntry> {
    const { value, versionstamp } = await retrying(() =>
      this.kv.get<UserRecord>(userKey(name))
    );
    // A malformed stored record reads as empty parts, or as no user: logged once, never thrown.
    const clean = cleanUserRecord(value, (part) =>
      reportOnce(
        this.log,
        `store: users/${name} has a malformed ${part}; read as empty`,
      ));
    return { value: clean, versionstamp };
  }

  /** The owner of `session`'s request: one per session object (so per request run). */
  ownerOf(session: Session): Owner {
    let owner = this.#owners.get(session);
    if (!owner) {
      owner = new Owner(this, session, this.log);
      this.#owners.set(session, owner);
    }
    return owner;
  }

  #owners = new WeakMap<Session, Owner>();
}

/**
 * One request's owner. The user record is read at most once; changes are staged in the
 * request's one commit (`session.stage`), checked against the record as read.
 */
export class Owner {
  #entry: { name: string; entry: Promise<UserEntry> } | null = null;

  constructor(
    private readonly users: UserStore,
    readonly session: Session,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Who this is, for what is fixed per visitor (the order of shuffled choices): the user's
   * name when logged in, else the session's handle.
   */
  get visitor(): string {
    const name = this.session.record.user;
    return name ? `user:${name}` : `session:${this.session.handle}`;
  }

  /** The logged-in user's entry, or null for an anonymous visitor. */
  entry(): Promise<UserEntry> | null {
    const name = this.session.record.user;
    if (!name) return null;
    if (this.#entry?.name !== name) {
      this.#entry = { name, entry: this.users.read(name) };
    }
    return this.#entry.entry;
  }

  /** The logged-in user's record, or null for an anonymous visitor. */
  async user(): Promise<UserRecord | null> {
    return (await this.entry())?.value ?? null;
  }

  /** The progress and likes the request acts on: the user's when logged in, else the session's. */
  async data(): Promise<OwnerData> {
    const user = await this.user();
    if (user) return user.data;
    return cleanOwnerData(this.session.record.data, (part) =>
      reportOnce(
        this.log,
        `store: a session's data has a malformed ${part}; read as empty`,
      ));
  }

  /**
   * Stages `record` as the new value of its user entry in the request's one commit, checked
   * against `versionstamp` (as read; null: the user must not exist yet), so a concurrent
   * change of the record makes the request run again instead of being lost.
   */
  stageUser(record: UserRecord, versionstamp: string | null): void {
    const key = userKey(record.username);
    this.session.stage([{ kind: "set", key, value: record }], [{
      key,
      versionstamp,
    }]);
    this.#entry = {
      name: record.username,
      entry: Promise.resolve({ value: record, versionstamp }),
    };
  }

  /**
   * Read-modify-write of the owner's data, never losing a concurrent change: through the
   * user record (checked in the request's one commit) when logged in, else through the
   * session's update. `change` may throw an HttpError to refuse; `onUser` may add to the
   * user record (history).
   */
  async update(
    change: (data: OwnerData) => OwnerData,
    onUser: (user: UserRecord) => UserRecord = (u) => u,
  ): Promise<OwnerData> {
    const entry = this.entry();
    if (!entry) {
      const record = await this.session.update((r) => ({
        ...r,
        data: { ...r.data, ...change(r.data) },
      }));
      return record.data;
    }
    const { value, versionstamp } = await entry;
    if (!value) throw new HttpError(409, "This account no longer exists");
    const next = onUser({ ...value, data: change(value.data) });
    this.stageUser(next, versionstamp);
    return next.data;
  }
}
