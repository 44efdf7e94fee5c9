import { publicQuiz } from "../../lib/bank.ts";
import type { Ctx } from "../../lib/context.ts";
import { json } from "../../lib/http.ts";
import { findQuiz } from "../../lib/quiz.ts";

export const handler = {
  GET(ctx: Ctx) {
    return json(publicQuiz(findQuiz(ctx)));
  },
};
