/** Components several routes render (routes/ files starting with "_" are not routes). */
import type { Question, Quiz } from "../lib/quiz/bank.ts";
import { likeId } from "../lib/quiz/progress.ts";
import type { Ctx } from "../lib/server/context.ts";
import { LikeForm } from "../islands/LikeForm.tsx";

/** The like/unlike form of one question, coming back to `back` (default: this page's path). */
export function LikeButton(
  { ctx, quiz, question, likes, back }: {
    ctx: Ctx;
    quiz: Quiz;
    question: Question;
    likes: string[] | undefined;
    back?: string;
  },
) {
  const id = likeId(quiz, question);
  const liked = (likes ?? []).includes(id);
  return (
    <LikeForm
      csrf={ctx.session.record.csrf}
      item={id}
      back={back ?? ctx.url.pathname}
      liked={liked}
    />
  );
}

/** A moment as the pages show it, e.g. `2026-12-01 22:14 UTC`. */
export function when(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}
