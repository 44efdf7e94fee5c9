import type { Ctx } from "../server/context.ts";
import { HttpError } from "../base/http_error.ts";
import { retrying } from "../base/kv_util.ts";
import {
  endSession,
  type UserSessionEntry,
  userSessionKey,
} from "./kv_store.ts";
import {
  revokeCookieSession,
  revokeUserCookieSessions,
} from "./cookie_store.ts";

export interface UserSessionView extends UserSessionEntry {
  handle: string;
  current: boolean;
}

/** The user's live sessions from the per-user index (kv mode); null in cookie mode, which keeps none. */
export async function listUserSessions(
  ctx: Ctx,
  user: string,
): Promise<UserSessionView[] | null> {
  if (ctx.config.mode === "cookie") return null;
  const { idleTimeout, absoluteTimeout } = ctx.config;
  const now = ctx.now();
  const out: UserSessionView[] = [];
  for await (
    const e of ctx.kv.list<UserSessionEntry>({
      prefix: ["user_sessions", user],
    }, { limit: 100 })
  ) {
    // expireIn only bounds the store: a timed-out session may linger, so judge by its timestamps.
    if (
      now - e.value.lastSeenAt >= idleTimeout * 1000 ||
      now >= e.value.createdAt + absoluteTimeout * 1000
    ) continue;
    const handle = String(e.key[2]);
    out.push({ ...e.value, handle, current: handle === ctx.session.handle });
  }
  return out.sort((a, b) => b.lastSeenAt - a.lastSeenAt);
}

/** Ends one of the user's other sessions; a handle that is not theirs is a 404. */
export async function endUserSession(
  ctx: Ctx,
  user: string,
  handle: string,
): Promise<void> {
  const entry = /^[0-9a-f]{64}$/.test(handle)
    ? await retrying(() => ctx.kv.get(userSessionKey(user, handle)))
    : null;
  if (!entry?.value) throw new HttpError(404, "No such session of yours");
  await endSession(ctx.kv, handle);
}

/** "Log out everywhere else": every other session of the user ends; this one gets a new id. */
export async function endOtherSessions(ctx: Ctx, user: string): Promise<void> {
  if (ctx.config.mode === "cookie") {
    await revokeUserCookieSessions(
      ctx.kv,
      user,
      ctx.now(),
      ctx.config.absoluteTimeout,
    );
  } else {
    // The whole index, not the first page that /account shows.
    for await (const e of ctx.kv.list({ prefix: ["user_sessions", user] })) {
      const handle = String(e.key[2]);
      if (handle !== ctx.session.handle) await endSession(ctx.kv, handle);
    }
  }
  await ctx.session.rotate();
}

/**
 * Ends any session by its handle (admin). In kv mode false when there is none; in cookie
 * mode the server cannot know, so the handle is revoked and the answer is true.
 */
export async function endSessionByHandle(
  ctx: Ctx,
  handle: string,
): Promise<boolean> {
  if (ctx.config.mode === "cookie") {
    await revokeCookieSession(ctx.kv, handle, ctx.config, ctx.now());
    return true;
  }
  return await endSession(ctx.kv, handle);
}
