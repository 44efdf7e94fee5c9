import { useEffect, useRef, useState } from "preact/hooks";

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

  const index = questions.findIndex((q) => q.id === currentId);
  const question = index >= 0 ? questions[index] : null;
  const total = questions.length;

  useEffect(() => setHydrated(true), []);

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
    setFeedback(null);
    setChoice(null);
    if (upcoming) setCurrentId(upcoming.id);
    else location.assign(`/quiz/${encodeURIComponent(quizId)}/result`);
  }

  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (!question || e.altKey || e.ctrlKey || e.metaKey) return;
      const target = e.target as HTMLElement | null;
      if (
        target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) &&
        target.getAttribute("type") !== "radio"
      ) return;
      const n = Number(e.key);
      if (
        !feedback && Number.isInteger(n) && n >= 1 &&
        n <= question.choices.length
      ) {
        setChoice(n - 1);
        (formRef.current?.querySelector(`input[value="${n - 1}"]`) as
          | HTMLInputElement
          | null)?.focus();
      } else if (e.key === "Enter") {
        e.preventDefault();
        submit();
      }
    }
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  });

  if (!question) return <p>All questions answered.</p>;

  return (
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
      <p class="question-meta">
        Question {index + 1} of {total} · Score{" "}
        <span data-testid="score">{score}</span>/{answered.length}
      </p>
      <fieldset disabled={busy}>
        <legend class="question-text">{question.text}</legend>
        {question.choices.map((text, i) => {
          const state = feedback
            ? i === feedback.correctChoice
              ? "right"
              : i === choice
              ? "wrong"
              : ""
            : "";
          return (
            <label class={`choice ${state}`} key={`${question.id}-${i}`}>
              <input
                type="radio"
                name="choice"
                value={String(i)}
                checked={choice === i}
                disabled={feedback !== null}
                onChange={() => setChoice(i)}
                required
              />
              <span class="choice-key" aria-hidden="true">{i + 1}</span> {text}
            </label>
          );
        })}
      </fieldset>
      <div aria-live="polite" class="feedback-area">
        {error && <p class="error" role="alert">{error}</p>}
        {feedback && (
          <div
            class={`feedback ${feedback.correct ? "right" : "wrong"}`}
            data-testid="feedback"
          >
            <p>
              <strong>{feedback.correct ? "Correct!" : "Not quite."}</strong>
              {" "}
              The answer is “{question.choices[feedback.correctChoice]}”.
            </p>
            <p>{feedback.explanation}</p>
          </div>
        )}
      </div>
      <button type="submit" class="button" disabled={busy}>
        {feedback
          ? (answered.length >= total ? "See results" : "Next question")
          : "Submit answer"}
      </button>
      {hydrated && (
        <p class="hint">
          Keys: 1–{question.choices.length} choose, Enter submits.
        </p>
      )}
    </form>
  );
}
