import type { Ctx } from "./context.ts";
import { HttpError } from "./http_error.ts";
import { retrying, updateWithCheck } from "./kv_util.ts";
import {
  createDummyHash,
  hashPassword,
  needsRehash,
  normalizeUsername,
  validatePassword,
  validateUsername,
  verifyPassword,
} from "./password.ts";
import { scoreOf } from "./scoring.ts";
import type { SessionData } from "./session.ts";
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
export const MAX_HISTORY = 100;
const MAX_LIKES = 200;

/** The logged-in user's record (read once per request), or null for an anonymous visitor. */
export async function currentUser(ctx: Ctx): Promise<UserRecord | null> {
  const name = ctx.session.record.user;
  if (!name) return null;
  ctx.userRecord ??= retrying(() => ctx.kv.get<UserRecord>(userKey(name))).then(
    (e) => e.value,
  );
  return await ctx.userRecord;
}

/** The progress and likes this request acts on: the user's when logged in, else the session's. */
export async function ownerData(ctx: Ctx): Promise<OwnerData> {
  const user = await currentUser(ctx);
  return user ? user.data : ctx.session.record.data;
}

/**
 * Read-modify-write of the owner's data, never losing a concurrent change: through the
 * user record's atomic check when logged in, else through the session's update.
 * `change` may throw an HttpError to refuse; `onUser` may add to the user record (history).
 */
export async function updateOwnerData(
  ctx: Ctx,
  change: (data: OwnerData) => OwnerData,
  onUser: (user: UserRecord) => UserRecord = (u) => u,
): Promise<OwnerData> {
  const name = ctx.session.record.user;
  if (!name) {
    const record = await ctx.session.update((r) => ({
      ...r,
      data: { ...r.data, ...change(r.data) },
    }));
    return record.data;
  }
  let next: UserRecord | null = null;
  await updateWithCheck<UserRecord>(ctx.kv, userKey(name), (entry, atomic) => {
    if (!entry.value) throw new HttpError(409, "This account no longer exists");
    next = onUser({ ...entry.value, data: change(entry.value.data) });
    return atomic.set(userKey(name), next);
  });
  ctx.userRecord = Promise.resolve(next);
  return next!.data;
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

  /** Logs the session in as `username`: merges anonymous progress, new session id. */
  async function logIn(ctx: Ctx, username: string): Promise<void> {
    const anonymous: OwnerData = {
      quizzes: ctx.session.record.data.quizzes,
      likes: ctx.session.record.data.likes,
    };
    if (anonymous.quizzes || anonymous.likes) {
      await updateWithCheck<UserRecord>(
        ctx.kv,
        userKey(username),
        (entry, atomic) => {
          if (!entry.value) {
            throw new HttpError(409, "This account no longer exists");
          }
          const data = mergeOwnerData(entry.value.data, anonymous);
          return atomic.set(userKey(username), {
            ...entry.value,
            data,
            history: [
              ...entry.value.history,
              ...newlyFinished(ctx, entry.value.data, data),
            ].slice(-MAX_HISTORY),
          });
        },
      );
    }
    // New id; the pre-login record is deleted in the same commit (no session fixation).
    await ctx.session.rotate((r) => ({ ...r, user: username, data: {} }));
    ctx.userRecord = undefined;
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
      const user = normalizeUsername(username)
        ? (await retrying(() => ctx.kv.get<UserRecord>(userKey(name)))).value
        : null;
      dummy ??= createDummyHash(ctx.config.pbkdf2Iterations);
      const valid =
        await verifyPassword(password, user?.passwordHash ?? await dummy) &&
        user !== null;
      // A failure keeps its reserved slot.
      if (!valid) throw new HttpError(401, "Wrong username or password");
      await throttle.succeeded(slot);
      if (needsRehash(user.passwordHash, ctx.config.pbkdf2Iterations)) {
        const passwordHash = await hashPassword(
          password,
          ctx.config.pbkdf2Iterations,
        );
        await updateWithCheck<UserRecord>(
          ctx.kv,
          userKey(name),
          (entry, atomic) =>
            entry.value
              ? atomic.set(userKey(name), { ...entry.value, passwordHash })
              : null,
        );
      }
      await logIn(ctx, name);
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
      const record: UserRecord = {
        username: name,
        passwordHash: await hashPassword(password, ctx.config.pbkdf2Iterations),
        createdAt: ctx.now(),
        data: {},
        history: [],
      };
      const result = await retrying(() =>
        ctx.kv.atomic().check({ key: userKey(name), versionstamp: null }).set(
          userKey(name),
          record,
        ).commit()
      );
      if (!result.ok) {
        throw new HttpError(409, "That username is taken; choose another");
      }
      await logIn(ctx, name);
      return name;
    },
  };
}

export type Auth = ReturnType<typeof createAuth>;
