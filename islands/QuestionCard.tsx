import { LikeForm } from "./LikeForm.tsx";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

export interface PublicQuestion {
  id: string;
  text: string;
  choices: string[];
}

/** JSON-only props: the public questions, never an answer or an explanation. */
export interface QuestionCardProps {
  quizId: string;
  csrf: string;
  questions: PublicQuestion[];
  answeredIds: string[];
  currentId: string;
  score: number;
  /** Ids of this quiz's questions the visitor has liked. */
  likedIds: string[];
}

interface Feedback {
  correct: boolean;
  correctChoice: number;
  explanation: string;
  score: number;
  answered: number;
  total: number;
}

/**
 * The current question. Server-rendered it is a plain form (works without JavaScript);
 * hydrated it answers through the JSON API with instant feedback and keyboard shortcuts
 * (1-5 choose, Enter submits / goes on).
 */
export default function QuestionCard(props: QuestionCardProps) {
  const { quizId, csrf, questions } = props;
  const [answered, setAnswered] = useState(props.answeredIds);
  const [currentId, setCurrentId] = useState<string | null>(props.currentId);
  const [choice, setChoice] = useState<number | null>(null);
  const [feedback, setFeedback] = useState<Feedback | null>(null);
  const [score, setScore] = useState(props.score);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [hydrated, setHydrated] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  // Where focus goes after the next render; only user actions set it, so hydration never steals focus.
  const focusNext = useRef<"button" | "choice" | null>(null);

  const index = questions.findIndex((q) => q.id === currentId);
  const question = index >= 0 ? questions[index] : null;
  const total = questions.length;

  useEffect(() => setHydrated(true), []);

  // A layout effect, so focus moves in the same frame as the new content appears.
  useLayoutEffect(() => {
    const form = formRef.current;
    const target = focusNext.current;
    focusNext.current = null;
    if (!form || !target) return;
    // Disabled radios lose focus once the feedback shows; keep the keyboard user in place.
    const selector = target === "button"
      ? "button[type=submit]"
      : "input[name=choice]";
    form.querySelector<HTMLElement>(selector)?.focus();
  }, [feedback, currentId]);

  async function submit(event?: Event) {
    event?.preventDefault();
    if (!question || busy) return;
    if (feedback) return next();
    if (choice === null) return setError("Choose an answer first.");
    setBusy(true);
    setError(null);
    try {
      const res = await fetch(
        `/api/quizzes/${encodeURIComponent(quizId)}/answers`,
        {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json",
          },
          body: JSON.stringify({ questionId: question.id, choice }),
        },
      );
      const body = await res.json();
      if (res.status === 409) {
        setAnswered((a) => [...a, question.id]);
        setScore(body.score);
        setError("You had already answered this one; moving on.");
        next();
      } else if (!res.ok) {
        setError(body.error ?? `The server answered ${res.status}.`);
      } else {
        focusNext.current = "button";
        setFeedback(body);
        setScore(body.score);
        setAnswered((a) => [...a, question.id]);
      }
    } catch {
      setError("Network error; try again.");
    } finally {
      setBusy(false);
    }
  }

  function next() {
    const done = new Set([...answered, ...(question ? [question.id] : [])]);
    const upcoming = questions.find((q) => !done.has(q.id));
    if (!upcoming) {
      location.assign(`/quiz/${encodeURIComponent(quizId)}/result`);
      return;
    }
    focusNext.current = "choice";
    setFeedback(null);
    setChoice(null);
    setCurrentId(upcoming.id);
  }

  // The key handler is registered once and reads the latest render through this ref: a handler
  // re-registered by an effect would still see the previous state until the effect runs.
  const latest = useRef({ question, feedback, busy, submit });
  latest.current = { question, feedback, busy, submit };

  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      const { question, feedback, busy, submit } = latest.current;
      if (!question || busy || e.repeat) return;
      if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
      // Only when the quiz has the focus: Enter on a nav link or the like button keeps its meaning.
      const target = e.target as Node | null;
      const form = formRef.current;
      if (target !== document.body && !form?.contains(target)) return;
      const n = Number(e.key);
      if (
        !feedback && Number.isInteger(n) && n >= 1 &&
        n <= question.choices.length
      ) {
        setChoice(n - 1);
        setError(null);
        form?.querySelector<HTMLInputElement>(`input[value="${n - 1}"]`)
          ?.focus();
      } else if (e.key === "Enter") {
        e.preventDefault();
        submit();
      }
    }
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  if (!question) return <p class="card">All questions answered.</p>;

  const liked = props.likedIds.includes(question.id);
  const last = feedback !== null && answered.length >= total;

  return (
    <>
      <form
        ref={formRef}
        class="question-card card"
        method="post"
        action={`/quiz/${quizId}/answer`}
        onSubmit={submit}
        data-ready={hydrated ? "true" : undefined}
      >
        <input type="hidden" name="_csrf" value={csrf} />
        <input type="hidden" name="questionId" value={question.id} />
        <div class="progress-line">
          <progress
            max={total}
            value={answered.length}
            aria-label="Questions answered"
          />
          <p class="question-meta">
            <span>Question {index + 1} of {total}</span>
            <span>
              Score <strong data-testid="score">{score}</strong> of{" "}
              <span data-testid="answered">{answered.length}</span> answered
            </span>
          </p>
        </div>
        <fieldset disabled={busy}>
          <legend class="question-text">{question.text}</legend>
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
                    onChange={() => {
                      setChoice(i);
                      setError(null);
                    }}
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
        </fieldset>
        <div aria-live="polite" class="feedback-area">
          {feedback && (
            <div
              class={`feedback ${feedback.correct ? "right" : "wrong"}`}
              data-testid="feedback"
            >
              <p class="verdict">
                <strong>{feedback.correct ? "Correct!" : "Not quite."}</strong>
                {" "}
                The answer is “{question.choices[feedback.correctChoice]}”.
              </p>
              <p>{feedback.explanation}</p>
            </div>
          )}
        </div>
        {error && <p class="error" role="alert">{error}</p>}
        <div class="actions">
          <button type="submit" class="button" disabled={busy}>
            {feedback
              ? (last ? "See results" : "Next question")
              : "Submit answer"}
          </button>
          {hydrated && (
            <p class="hint">
              Keys: <kbd>1</kbd>–<kbd>{question.choices.length}</kbd> choose,
              {" "}
              <kbd>Enter</kbd> {feedback ? "goes on" : "submits"}.
            </p>
          )}
        </div>
      </form>
      {/* A plain form, so liking works without JavaScript; it follows the question shown. */}
      <LikeForm
        csrf={csrf}
        item={`${quizId}/${question.id}`}
        back={`/quiz/${quizId}`}
        liked={liked}
      />
    </>
  );
}
