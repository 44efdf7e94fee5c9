import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";

export const handler = {
  GET(ctx: Ctx) {
    return json(
      ctx.services.bank.map((q) => ({
        id: q.id,
        title: q.title,
        questionCount: q.questions.length,
      })),
    );
  },
};
