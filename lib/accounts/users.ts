import type { Ctx } from "../server/context.ts";
import { HttpError } from "../base/http_error.ts";
import { retrying } from "../base/kv_util.ts";
import {
  createDummyHash,
  hashPassword,
  needsRehash,
  normalizeUsername,
  validatePassword,
  validateUsername,
  verifyPassword,
} from "./password.ts";
import {
  cleanOwnerData,
  cleanUserRecord,
  reportOnce,
} from "../server/kv_shapes.ts";
import { scoreOf } from "../quiz/scoring.ts";
import type { SessionData } from "../sessions/session.ts";
import { createThrottle } from "./throttle.ts";

/** Quiz progress and likes: kept in the session for a visitor, in the user record once logged in. */
export type OwnerData = Pick<SessionData, "quizzes" | "likes">;

export interface HistoryEntry {
  quizId: string;
  score: number;
  total: number;
  /** Epoch ms when the last question was answered. */
  at: number;
}

export interface UserRecord {
  /** Lowercase: usernames are unique without regard to case. */
  username: string;
  passwordHash: string;
  createdAt: number;
  data: OwnerData;
  /** Completed attempts, newest last, kept beyond any session. */
  history: HistoryEntry[];
}

export const userKey = (username: string) => ["users", username] as const;

/** A user record as read, with the versionstamp its commit checks (null: absent). */
export interface UserEntry {
  value: UserRecord | null;
  versionstamp: string | null;
}
export const MAX_HISTORY = 100;
const MAX_LIKES = 200;

/** The user record `name` as stored, with its versionstamp (for the commit's check). */
async function readUser(ctx: Ctx, name: string): Promise<UserEntry> {
  const { value, versionstamp } = await retrying(() =>
    ctx.kv.get<UserRecord>(userKey(name))
  );
  return { value: readableUser(ctx, name, value), versionstamp };
}

/** The logged-in user's entry, read at most once per request run. */
function currentUserEntry(ctx: Ctx): Promise<UserEntry> | null {
  const name = ctx.session.record.user;
  if (!name) return null;
  return ctx.userEntry ??= readUser(ctx, name);
}

/** The logged-in user's record (read once per request), or null for an anonymous visitor. */
export async function currentUser(ctx: Ctx): Promise<UserRecord | null> {
  return (await currentUserEntry(ctx))?.value ?? null;
}

// A malformed stored record reads as empty parts, or as no user: logged once, never thrown.
function readableUser(
  ctx: Ctx,
  name: string,
  value: unknown,
): UserRecord | null {
  return cleanUserRecord(value, (part) =>
    reportOnce(
      ctx.log,
      `store: users/${name} has a malformed ${part}; read as empty`,
    ));
}

/** The progress and likes this request acts on: the user's when logged in, else the session's. */
export async function ownerData(ctx: Ctx): Promise<OwnerData> {
  const user = await currentUser(ctx);
  if (user) return user.data;
  return cleanOwnerData(ctx.session.record.data, (part) =>
    reportOnce(
      ctx.log,
      `store: a session's data has a malformed ${part}; read as empty`,
    ));
}

/**
 * Stages `record` as the new value of its user entry in the request's one commit, checked
 * against `versionstamp` (as read; null: the user must not exist yet), so a concurrent change
 * of the record makes the request run again instead of being lost.
 */
function stageUser(
  ctx: Ctx,
  record: UserRecord,
  versionstamp: string | null,
): void {
  const key = userKey(record.username);
  ctx.session.stage([{ kind: "set", key, value: record }], [{
    key,
    versionstamp,
  }]);
  ctx.userEntry = Promise.resolve({ value: record, versionstamp });
}

/**
 * Read-modify-write of the owner's data, never losing a concurrent change: through the
 * user record (checked in the request's one commit) when logged in, else through the
 * session's update. `change` may throw an HttpError to refuse; `onUser` may add to the
 * user record (history).
 */
export async function updateOwnerData(
  ctx: Ctx,
  change: (data: OwnerData) => OwnerData,
  onUser: (user: UserRecord) => UserRecord = (u) => u,
): Promise<OwnerData> {
  const entry = currentUserEntry(ctx);
  if (!entry) {
    const record = await ctx.session.update((r) => ({
      ...r,
      data: { ...r.data, ...change(r.data) },
    }));
    return record.data;
  }
  const { value, versionstamp } = await entry;
  if (!value) throw new HttpError(409, "This account no longer exists");
  const next = onUser({ ...value, data: change(value.data) });
  stageUser(ctx, next, versionstamp);
  return next.data;
}

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

/** History entries for the quizzes that `after` completes and `before` did not (finished anonymously). */
function newlyFinished(
  ctx: Ctx,
  before: OwnerData,
  after: OwnerData,
): HistoryEntry[] {
  return ctx.bank.flatMap((quiz) => {
    const was = scoreOf(quiz, before.quizzes?.[quiz.id]);
    const now = scoreOf(quiz, after.quizzes?.[quiz.id]);
    if (was.answered === was.total || now.answered < now.total) return [];
    return [{
      quizId: quiz.id,
      score: now.score,
      total: now.total,
      at: ctx.now(),
    }];
  });
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

/** Builds the login/registration service; the dummy hash is made once, on first use. */
export function createAuth() {
  let dummy: Promise<string> | undefined;

  const throttleOf = (ctx: Ctx, bucket: "login" | "register") =>
    createThrottle(ctx.kv, { now: ctx.now, bucket });

  /**
   * Logs the session in as `user` (read at `versionstamp`, null for a new account): merges
   * anonymous progress into the record, new session id, all in the request's one commit.
   */
  async function logIn(
    ctx: Ctx,
    user: UserRecord,
    versionstamp: string | null,
    changed: boolean,
  ): Promise<void> {
    const anonymous: OwnerData = {
      quizzes: ctx.session.record.data.quizzes,
      likes: ctx.session.record.data.likes,
    };
    if (anonymous.quizzes || anonymous.likes) {
      const data = mergeOwnerData(user.data, anonymous);
      user = {
        ...user,
        data,
        history: [...user.history, ...newlyFinished(ctx, user.data, data)]
          .slice(-MAX_HISTORY),
      };
      changed = true;
    }
    if (changed) stageUser(ctx, user, versionstamp);
    // New id; the pre-login record is deleted in the same commit (no session fixation).
    await ctx.session.rotate((r) => ({ ...r, user: user.username, data: {} }));
    ctx.userEntry = undefined;
  }

  return {
    /**
     * Checks credentials. Unknown user and wrong password are indistinguishable: same
     * status, message and cookie behaviour, and the same hashing work (a dummy hash).
     * @throws HttpError 401 on failure, 429 while throttled.
     */
    async login(
      ctx: Ctx,
      { username, password }: Credentials,
    ): Promise<string> {
      const name = normalizeUsername(username) ??
        username.toLowerCase().slice(0, 64);
      const throttle = throttleOf(ctx, "login");
      // Counted as a failure before the slow verify, so parallel guesses cannot outrun it.
      const slot = await throttle.reserve(ctx.clientAddress(), name);
      const entry = normalizeUsername(username)
        ? await readUser(ctx, name)
        : null;
      const user = entry?.value ?? null;
      dummy ??= createDummyHash(ctx.config.pbkdf2Iterations);
      // A lone surrogate is hashed as U+FFFD, so it would match another one: refused like
      // a wrong password, after the same hashing work.
      const wellFormed = password.isWellFormed();
      const valid =
        await verifyPassword(password, user?.passwordHash ?? await dummy) &&
        user !== null && wellFormed;
      // A failure keeps its reserved slot.
      if (!valid) throw new HttpError(401, "Wrong username or password");
      await throttle.succeeded(slot);
      const rehash = needsRehash(
        user.passwordHash,
        ctx.config.pbkdf2Iterations,
      );
      const record = rehash
        ? {
          ...user,
          passwordHash: await hashPassword(
            password,
            ctx.config.pbkdf2Iterations,
          ),
        }
        : user;
      await logIn(ctx, record, entry!.versionstamp, rehash);
      return name;
    },

    /** Creates the account and logs in. @throws HttpError 400 (invalid), 409 (taken). */
    async register(
      ctx: Ctx,
      { username, password }: Credentials,
    ): Promise<string> {
      const problem = validateUsername(username) ?? validatePassword(password);
      if (problem) throw new HttpError(400, problem);
      const name = normalizeUsername(username)!;
      // Before the hash: a flood from one address pays for only its allowance of them.
      await throttleOf(ctx, "register").reserve(ctx.clientAddress());
      // Checked again in the commit (the name must still be free), so of concurrent
      // registrations of one name exactly one succeeds.
      if ((await readUser(ctx, name)).versionstamp !== null) {
        throw new HttpError(409, "That username is taken; choose another");
      }
      const record: UserRecord = {
        username: name,
        passwordHash: await hashPassword(password, ctx.config.pbkdf2Iterations),
        createdAt: ctx.now(),
        data: {},
        history: [],
      };
      await logIn(ctx, record, null, true);
      return name;
    },
  };
}

export type Auth = ReturnType<typeof createAuth>;
