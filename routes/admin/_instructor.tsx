/** What the instructor pages share (routes/ files starting with "_" are not routes). */
import { HttpError } from "../../lib/base/http_error.ts";
import type { Ctx } from "../../lib/server/context.ts";
import { isAdminSession } from "../../lib/server/admin.ts";
import { findQuiz } from "../../lib/quiz/progress.ts";
import type { Quiz } from "../../lib/quiz/bank.ts";

/**
 * The instructor's guard: a script's Bearer token was checked before the handler (the
 * `either` policy); a browser needs the admin session that /admin's form opens.
 */
export function requireInstructor(ctx: Ctx): void {
  if (ctx.bearer) return;
  if (ctx.session && isAdminSession(ctx.session, ctx.services.now())) return;
  throw new HttpError(
    401,
    "Enter the admin token on the Admin page (/admin) first, or send it as a Bearer token",
    {},
    { "WWW-Authenticate": 'Bearer realm="admin"' },
  );
}

/** The quiz of the path, once the guard has let the request in (a 404 otherwise). */
export function instructorQuiz(ctx: Ctx): Quiz {
  requireInstructor(ctx);
  return findQuiz(ctx.services.bank, ctx.params.quizId);
}

/** A number as the pages show it: `0.75`, or a dash when there is none. */
export function decimal(x: number | null): string {
  return x === null ? "—" : x.toFixed(2);
}
