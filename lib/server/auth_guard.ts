import type { Ctx } from "./context.ts";
import { HttpError } from "../base/http_error.ts";
import { currentUser, type UserRecord } from "../accounts/users.ts";

/** The logged-in user, or a 303 to the login page that comes back here afterwards. */
export async function requireUser(ctx: Ctx): Promise<UserRecord> {
  const user = await currentUser(ctx);
  if (user) return user;
  const next = ctx.req.method === "GET" ? ctx.url.pathname : "/account";
  throw new HttpError(303, "Log in first", {}, {
    Location: `/login?next=${encodeURIComponent(next)}`,
  });
}
