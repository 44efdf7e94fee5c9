import { type Ctx, owner } from "./context.ts";
import { HttpError } from "../base/http_error.ts";
import type { UserRecord } from "../accounts/records.ts";

/** The logged-in user, or a 303 to the login page that comes back here afterwards. */
export async function requireUser(ctx: Ctx): Promise<UserRecord> {
  const user = await owner(ctx).user();
  if (user) return user;
  const next = ctx.req.method === "GET" ? ctx.url.pathname : "/account";
  throw new HttpError(303, "Log in first", {}, {
    Location: `/login?next=${encodeURIComponent(next)}`,
  });
}
