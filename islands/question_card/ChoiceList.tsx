import type { Feedback, PublicQuestion } from "./types.ts";

/** The question's choices as radios; once answered, the right one and a wrong pick are marked. */
export function ChoiceList(
  { question, choice, feedback, choose }: {
    question: PublicQuestion;
    choice: number | null;
    feedback: Feedback | null;
    choose: (i: number) => void;
  },
) {
  return (
    <div class="choices">
      {question.choices.map((text, i) => {
        const state = !feedback
          ? ""
          : i === feedback.correctChoice
          ? "right"
          : i === choice
          ? "wrong"
          : "";
        return (
          <label class={`choice ${state}`} key={`${question.id}-${i}`}>
            <input
              type="radio"
              name="choice"
              value={String(i)}
              checked={choice === i}
              disabled={feedback !== null}
              onChange={() => choose(i)}
              required
            />
            <span class="choice-key" aria-hidden="true">{i + 1}</span>
            <span class="choice-text">{text}</span>
            {state && (
              <span class="choice-mark">
                {state === "right" ? "✔ Answer" : "✘ Your pick"}
              </span>
            )}
          </label>
        );
      })}
    </div>
  );
}
