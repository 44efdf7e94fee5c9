import { type Quiz, validateBank } from "../../lib/quiz/bank.ts";
import cookies from "./cookies.ts";
import http from "./http.ts";
import security from "./security.ts";

/**
 * The question bank, imported as modules rather than read from disk so it also runs on an
 * edge platform. Keys are the files' paths, used in validation errors; order is display order.
 */
export const quizFiles: Record<string, unknown> = {
  "data/quizzes/http.ts": http,
  "data/quizzes/cookies.ts": cookies,
  "data/quizzes/security.ts": security,
};

/** The validated bank. Call it once at start-up and pass the result down. */
export function loadBank(): Quiz[] {
  return validateBank(quizFiles);
}
