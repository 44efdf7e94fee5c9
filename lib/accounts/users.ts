/** Registration and login: credentials, the user record, throttling, rotation. */
import { HttpError } from "../base/http_error.ts";
import {
  createDummyHash,
  hashPassword,
  needsRehash,
  normalizeUsername,
  validatePassword,
  validateUsername,
  verifyPassword,
} from "./password.ts";
import type { Owner, UserStore } from "./owner.ts";
import type { Session } from "../sessions/mod.ts";
import {
  type HistoryEntry,
  MAX_HISTORY,
  MAX_LIKES,
  type OwnerData,
  userKey,
  type UserRecord,
} from "./records.ts";
import { createThrottle, type Reservation, type Throttle } from "./throttle.ts";

/** Anonymous progress and likes carried over at login: the user's own answers win. */
export function mergeOwnerData(
  user: OwnerData,
  anonymous: OwnerData,
): OwnerData {
  const quizzes = { ...user.quizzes };
  for (const [quizId, progress] of Object.entries(anonymous.quizzes ?? {})) {
    quizzes[quizId] = {
      answers: { ...progress.answers, ...quizzes[quizId]?.answers },
    };
  }
  const likes = [
    ...new Set([...(user.likes ?? []), ...(anonymous.likes ?? [])]),
  ].slice(0, MAX_LIKES);
  return { quizzes, likes };
}

export interface Credentials {
  username: string;
  password: string;
}

/** Username and password from a form or JSON body: 400 unless both are strings. */
export function credentialsFrom(body: Record<string, unknown>): Credentials {
  const { username, password } = body;
  if (typeof username !== "string" || typeof password !== "string") {
    throw new HttpError(400, "Send a username and a password");
  }
  return { username, password };
}

export interface AccountsOptions {
  kv: Deno.Kv;
  users: UserStore;
  now: () => number;
  pbkdf2Iterations: number;
  /** History entries for the quizzes `after` completes and `before` did not. */
  finished: (before: OwnerData, after: OwnerData) => HistoryEntry[];
  /** The quiz statistics' writes for a login and for an account deletion (lib/quiz/stats.ts). */
  stats?: AccountStats;
}

type Writes = Parameters<Session["stage"]>[0];

/** What logging in and deleting an account do to the quiz statistics' rows and counts. */
export interface AccountStats {
  /** The anonymous session `handle`'s rows move into `username`'s. */
  login(
    handle: string,
    username: string,
    user: OwnerData,
    anonymous: OwnerData,
    merged: OwnerData,
  ): Writes;
  /** `username`'s rows go. */
  deleted(username: string, data: OwnerData): Writes;
}

/**
 * Runs `judge` on the attempt holding `slot`: if it returns, the attempt was right and gives
 * its slot back; if it throws (a wrong password, or a failure on the way), the slot stays
 * counted. Settled either way, so attempts waiting on this address's slots go on.
 */
async function judged<T>(
  throttle: Throttle,
  slot: Reservation,
  judge: () => Promise<T>,
): Promise<T> {
  try {
    const result = await judge();
    await throttle.succeeded(slot);
    return result;
  } finally {
    throttle.settled(slot);
  }
}

/** Logging in and registering; the dummy hash is made once, on first use. */
export class Accounts {
  #dummy: Promise<string> | undefined;
  /** One per bucket for the app's life: a throttle takes an address's attempts in turn. */
  readonly #throttles: Record<"login" | "register", Throttle>;

  constructor(private readonly opts: AccountsOptions) {
    const { kv, now } = opts;
    this.#throttles = {
      login: createThrottle(kv, { now, bucket: "login" }),
      register: createThrottle(kv, { now, bucket: "register" }),
    };
  }

  #throttle(bucket: "login" | "register"): Throttle {
    return this.#throttles[bucket];
  }

  /**
   * Logs the owner's session in as `user` (read at `versionstamp`, null for a new account):
   * merges anonymous progress into the record (and the anonymous statistics rows into the
   * user's), new session id, all in the request's one commit.
   */
  async #logIn(
    owner: Owner,
    user: UserRecord,
    versionstamp: string | null,
    changed: boolean,
  ): Promise<void> {
    const { data: anonymous } = owner.session.record;
    if (anonymous.quizzes || anonymous.likes) {
      const data = mergeOwnerData(user.data, anonymous);
      const { handle } = owner.session;
      const writes = this.opts.stats?.login(
        handle,
        user.username,
        user.data,
        anonymous,
        data,
      );
      if (writes) owner.session.stage(writes);
      const history = [...user.history, ...this.opts.finished(user.data, data)];
      user = { ...user, data, history: history.slice(-MAX_HISTORY) };
      changed = true;
    }
    if (changed) owner.stageUser(user, versionstamp);
    // New id; the pre-login record is deleted in the same commit (no session fixation).
    await owner.session.rotate((r) => ({
      ...r,
      user: user.username,
      data: {},
    }));
  }

  /**
   * Checks credentials and logs `owner`'s session in. Unknown user and wrong password are
   * indistinguishable: same status, message and cookie behaviour, and the same hashing work
   * (a dummy hash). `address` is the client's, for throttling.
   * @throws HttpError 401 on failure, 429 while throttled.
   */
  async login(
    owner: Owner,
    { username, password }: Credentials,
    address: string,
  ): Promise<string> {
    const { pbkdf2Iterations } = this.opts;
    const name = normalizeUsername(username) ??
      username.toLowerCase().slice(0, 64);
    const throttle = this.#throttle("login");
    // Counted as a failure before the slow verify, so parallel guesses cannot outrun it.
    const slot = await throttle.reserve(address, name);
    const { user, versionstamp } = await judged(throttle, slot, async () => {
      const entry = normalizeUsername(username)
        ? await this.opts.users.read(name)
        : null;
      const user = entry?.value ?? null;
      this.#dummy ??= createDummyHash(pbkdf2Iterations);
      // A lone surrogate is hashed as U+FFFD, so it would match another one: refused like
      // a wrong password, after the same hashing work.
      const wellFormed = password.isWellFormed();
      const valid = await verifyPassword(
        password,
        user?.passwordHash ?? await this.#dummy,
      ) && user !== null && wellFormed;
      // A failure keeps its reserved slot.
      if (!valid) throw new HttpError(401, "Wrong username or password");
      return { user, versionstamp: entry!.versionstamp };
    });
    const rehash = needsRehash(user.passwordHash, pbkdf2Iterations);
    const record = rehash
      ? {
        ...user,
        passwordHash: await hashPassword(password, pbkdf2Iterations),
      }
      : user;
    await this.#logIn(owner, record, versionstamp, rehash);
    return name;
  }

  /**
   * Creates the account and logs `owner`'s session in.
   * @throws HttpError 400 (invalid), 409 (taken), 429 (throttled).
   */
  async register(
    owner: Owner,
    { username, password }: Credentials,
    address: string,
  ): Promise<string> {
    const problem = validateUsername(username) ?? validatePassword(password);
    if (problem) throw new HttpError(400, problem);
    const name = normalizeUsername(username)!;
    // Before the hash: a flood from one address pays for only its allowance of them.
    await this.#throttle("register").reserve(address);
    // Checked again in the commit (the name must still be free), so of concurrent
    // registrations of one name exactly one succeeds.
    if ((await this.opts.users.read(name)).versionstamp !== null) {
      throw new HttpError(409, "That username is taken; choose another");
    }
    const record: UserRecord = {
      username: name,
      passwordHash: await hashPassword(password, this.opts.pbkdf2Iterations),
      createdAt: this.opts.now(),
      data: {},
      history: [],
    };
    await this.#logIn(owner, record, null, true);
    return name;
  }

  /**
   * Checks `password` against the logged-in user's record, throttled like a login (the
   * slot is reserved before the hash is checked). Returns the record as read.
   * @throws HttpError 401 (wrong password, or not logged in), 429 while throttled.
   */
  async #confirm(
    owner: Owner,
    password: string,
    address: string,
  ): Promise<{ user: UserRecord; versionstamp: string | null }> {
    const name = owner.session.record.user;
    if (!name) throw new HttpError(401, "Log in first");
    const throttle = this.#throttle("login");
    const slot = await throttle.reserve(address, name);
    return await judged(throttle, slot, async () => {
      const entry = await this.opts.users.read(name);
      this.#dummy ??= createDummyHash(this.opts.pbkdf2Iterations);
      const user = entry.value;
      const valid = password.isWellFormed() &&
        await verifyPassword(
          password,
          user?.passwordHash ?? await this.#dummy,
        ) &&
        user !== null;
      if (!valid) throw new HttpError(401, "Wrong password");
      return { user, versionstamp: entry.versionstamp };
    });
  }

  /**
   * Changes the logged-in user's password: a new hash in the request's one commit. The
   * caller ends the user's other sessions and rotates this one.
   * @throws HttpError 400 (a new password that is not allowed), 401, 429.
   */
  async changePassword(
    owner: Owner,
    password: string,
    newPassword: string,
    address: string,
  ): Promise<void> {
    const problem = validatePassword(newPassword);
    if (problem) throw new HttpError(400, problem);
    const { user, versionstamp } = await this.#confirm(
      owner,
      password,
      address,
    );
    const passwordHash = await hashPassword(
      newPassword,
      this.opts.pbkdf2Iterations,
    );
    owner.stageUser({ ...user, passwordHash }, versionstamp);
  }

  /**
   * Deletes the logged-in user's record (progress, likes and history with it) and their
   * quiz statistics rows in the request's one commit, so the name is free again. The caller
   * ends the user's sessions.
   * @throws HttpError 401, 429.
   */
  async deleteAccount(
    owner: Owner,
    password: string,
    address: string,
  ): Promise<string> {
    const { user, versionstamp } = await this.#confirm(
      owner,
      password,
      address,
    );
    const key = userKey(user.username);
    owner.session.stage([{ kind: "delete", key }], [{ key, versionstamp }]);
    const writes = this.opts.stats?.deleted(user.username, user.data);
    if (writes) owner.session.stage(writes);
    return user.username;
  }
}
