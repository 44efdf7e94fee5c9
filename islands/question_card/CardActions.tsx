/** The submit button (its label follows the step) and, once hydrated, the keyboard hint. */
export function CardActions(
  { answering, last, busy, hydrated, choices }: {
    /** False while the feedback shows: the button then goes on. */
    answering: boolean;
    /** The feedback of the quiz's last question shows. */
    last: boolean;
    busy: boolean;
    hydrated: boolean;
    choices: number;
  },
) {
  return (
    <div class="actions">
      <button type="submit" class="button" disabled={busy}>
        {!answering
          ? (last ? "See results" : "Next question")
          : "Submit answer"}
      </button>
      {hydrated && (
        <p class="hint">
          Keys: <kbd>1</kbd>–<kbd>{choices}</kbd> choose, <kbd>Enter</kbd>{" "}
          {answering ? "submits" : "goes on"}.
        </p>
      )}
    </div>
  );
}
