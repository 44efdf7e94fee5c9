/** How far the visitor is: a progress bar, the question's number and the score. */
export function ProgressLine(
  { index, total, answered, score }: {
    index: number;
    total: number;
    answered: number;
    score: number;
  },
) {
  return (
    <div class="progress-line">
      <progress
        max={total}
        value={answered}
        aria-label="Questions answered"
      />
      <p class="question-meta">
        <span>Question {index + 1} of {total}</span>
        <span>
          Score <strong data-testid="score">{score}</strong> of{" "}
          <span data-testid="answered">{answered}</span> answered
        </span>
      </p>
    </div>
  );
}
