/** Account actions shared by the account pages and the JSON API. */
import { HttpError } from "../base/http_error.ts";
import { type Ctx, owner } from "./context.ts";

/** Changes the password: a new hash, this session rotated, every other session ended. */
export async function changePassword(
  ctx: Ctx,
  password: unknown,
  newPassword: unknown,
): Promise<void> {
  if (typeof password !== "string" || typeof newPassword !== "string") {
    throw new HttpError(400, "Send the current and the new password");
  }
  await ctx.services.accounts.changePassword(
    owner(ctx),
    password,
    newPassword,
    ctx.clientAddress(),
  );
  await ctx.services.sessions.endOthers(ctx.session);
}

/**
 * Deletes the account: the user record (progress, likes, history) and every session of
 * the user, this one included; the name is free again.
 */
export async function deleteAccount(
  ctx: Ctx,
  password: unknown,
): Promise<void> {
  if (typeof password !== "string") {
    throw new HttpError(400, "Send your password to delete the account");
  }
  const name = await ctx.services.accounts.deleteAccount(
    owner(ctx),
    password,
    ctx.clientAddress(),
  );
  await ctx.services.sessions.endAll(ctx.session);
  ctx.services.log(`account deleted: ${name}`);
}
