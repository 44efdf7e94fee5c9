import type { Ctx } from "../../lib/server/context.ts";
import { page } from "../../lib/server/render.tsx";
import { decimal, requireInstructor } from "./_instructor.tsx";

export const handler = {
  async GET(ctx: Ctx) {
    requireInstructor(ctx);
    const quizzes = await ctx.services.results.overview(ctx.services.bank);
    return page(
      ctx,
      "Quiz results",
      <>
        <h1>Quiz results</h1>
        <p>
          <a href="/admin">Admin dashboard</a>
        </p>
        <table class="admin-quizzes" data-testid="admin-quizzes">
          <thead>
            <tr>
              <th scope="col">Quiz</th>
              <th scope="col">Questions</th>
              <th scope="col">Participants</th>
              <th scope="col">Mean score</th>
              <th scope="col">CSV</th>
            </tr>
          </thead>
          <tbody>
            {quizzes.map((q) => (
              <tr key={q.id}>
                <td>
                  <a href={`/admin/quizzes/${q.id}`}>{q.title}</a>
                </td>
                <td>{q.questionCount}</td>
                <td>{q.participants}</td>
                <td>
                  {q.meanScore === null
                    ? "—"
                    : `${decimal(q.meanScore)} / ${q.questionCount}`}
                </td>
                <td>
                  <a href={`/admin/quizzes/${q.id}/results.csv`} download>
                    results.csv
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </>,
    );
  },
};
