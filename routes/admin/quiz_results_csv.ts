import type { Ctx } from "../../lib/server/context.ts";
import { instructorQuiz } from "./_instructor.tsx";

export const handler = {
  GET(ctx: Ctx) {
    const quiz = instructorQuiz(ctx);
    // A file name of safe characters only: it goes into a header.
    const name = quiz.id.replace(/[^A-Za-z0-9._-]/g, "_");
    // Streamed a page of rows at a time: a quiz's participants need not fit in memory.
    return new Response(ctx.services.results.csv(quiz), {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="${name}-results.csv"`,
      },
    });
  },
};
