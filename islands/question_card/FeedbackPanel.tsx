import type { Feedback, PublicQuestion } from "./types.ts";

/** The verdict and explanation, announced politely to screen readers when it appears. */
export function FeedbackPanel(
  { question, feedback }: {
    question: PublicQuestion;
    feedback: Feedback | null;
  },
) {
  return (
    <div aria-live="polite" class="feedback-area">
      {feedback && (
        <div
          class={`feedback ${feedback.correct ? "right" : "wrong"}`}
          data-testid="feedback"
        >
          <p class="verdict">
            <strong>{feedback.correct ? "Correct!" : "Not quite."}</strong>{" "}
            The answer is “{question.choices[feedback.correctChoice]}”.
          </p>
          {feedback.feedback && (
            <p class="choice-feedback">{feedback.feedback}</p>
          )}
          <p>{feedback.explanation}</p>
        </div>
      )}
    </div>
  );
}
