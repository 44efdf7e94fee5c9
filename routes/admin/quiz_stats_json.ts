import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { instructorQuiz } from "./_instructor.tsx";

export const handler = {
  async GET(ctx: Ctx) {
    const quiz = instructorQuiz(ctx);
    return json(await ctx.services.results.stats(quiz));
  },
};
