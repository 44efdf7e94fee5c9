/**
 * The one error type of the app: thrown anywhere, turned into an HTML page or a JSON
 * `{"error": message, ...extra}` in one place (lib/server/app.ts). Only 5xx are logged with a stack.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Extra JSON fields for API answers (e.g. the unchanged score on a 409). */
    readonly extra: Record<string, unknown> = {},
    /** Extra response headers (e.g. `Allow`, `Retry-After`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}
