import { type Ctx, owner } from "../lib/server/context.ts";
import { readCheckedForm } from "../lib/server/forms.ts";
import { redirect } from "../lib/server/http.ts";
import { HttpError } from "../lib/base/http_error.ts";
import { findLiked, toggleLike } from "../lib/quiz/progress.ts";
import { safeNext } from "../lib/server/safe_next.ts";
import { page } from "../lib/server/render.tsx";
import { LikeButton } from "./_components.tsx";

export const handler = {
  async GET(ctx: Ctx) {
    const likes = (await owner(ctx).data()).likes ?? [];
    const liked = likes.flatMap((item) => {
      try {
        return [findLiked(ctx.services.bank, item)];
      } catch {
        return []; // a question since removed from the bank
      }
    });
    return page(
      ctx,
      "Likes",
      <>
        <h1>Questions you liked</h1>
        {liked.length === 0
          ? (
            <p>
              No likes yet. Use “♡ Like this question” on any question to keep
              it here.
            </p>
          )
          : (
            <ul class="likes">
              {liked.map(({ quiz, question }) => (
                <li
                  class="card"
                  key={`${quiz.id}/${question.id}`}
                  data-testid="liked"
                >
                  <p class="question-text">{question.text}</p>
                  <p>
                    From <a href={`/quiz/${quiz.id}`}>{quiz.title}</a>
                  </p>
                  <LikeButton
                    ctx={ctx}
                    quiz={quiz}
                    question={question}
                    likes={likes}
                  />
                </li>
              ))}
            </ul>
          )}
      </>,
    );
  },

  async POST(ctx: Ctx) {
    const form = await readCheckedForm(ctx);
    if (!form.item) throw new HttpError(400, "Say which question to like");
    await toggleLike(owner(ctx), ctx.services.bank, form.item);
    return redirect(safeNext(form.back, "/likes"));
  },
};
