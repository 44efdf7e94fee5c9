/**
 * Like/unlike one question: a plain form, so it works without JavaScript. Shared by the
 * server pages and the QuestionCard island (which keeps it on the question shown).
 */
export function LikeForm(
  { csrf, item, back, liked }: {
    csrf: string;
    item: string;
    back: string;
    liked: boolean;
  },
) {
  return (
    <form method="post" action="/likes" class="inline like-form">
      <input type="hidden" name="_csrf" value={csrf} />
      <input type="hidden" name="item" value={item} />
      <input type="hidden" name="back" value={back} />
      <button
        type="submit"
        class="link"
        aria-pressed={liked ? "true" : "false"}
      >
        {liked ? "♥ Liked (unlike)" : "♡ Like this question"}
      </button>
    </form>
  );
}
