import { readForm } from "./body.ts";
import type { Ctx } from "./context.ts";
import { timingSafeEqualString } from "../base/crypto.ts";
import { HttpError } from "../base/http_error.ts";

/**
 * Reads a form POST and checks its session-bound anti-CSRF token (`_csrf`).
 * A stale form (session ended or rotated since) gets a 403 that says what to do.
 */
export async function readCheckedForm(
  ctx: Ctx,
): Promise<Record<string, string>> {
  const form = await readForm(ctx.req, ctx.services.config.maxBodyBytes);
  const token = form._csrf ?? "";
  if (
    ctx.session.isNew || !timingSafeEqualString(token, ctx.session.record.csrf)
  ) {
    throw new HttpError(
      403,
      "This form has expired; go back, reload the page and try again",
    );
  }
  return form;
}
