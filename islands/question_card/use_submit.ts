import { useState } from "preact/hooks";
import type { Feedback, PublicQuestion } from "./types.ts";

interface Answering {
  quizId: string;
  question: PublicQuestion | null;
  choice: number | null;
  feedback: Feedback | null;
  /** Goes on to the next question (or the result page). */
  next: () => void;
  setError: (error: string | null) => void;
  /** The server took an answer to `questionId`: with its feedback, or none if answered before. */
  answeredWith: (
    questionId: string,
    score: number,
    feedback: Feedback | null,
  ) => void;
}

/**
 * Submitting the form: answers through the JSON API (once per question), or goes on when
 * the feedback is showing. `busy` while an answer is on its way.
 */
export function useSubmit(a: Answering) {
  const [busy, setBusy] = useState(false);

  async function submit(event?: Event) {
    event?.preventDefault();
    const { question, choice, setError } = a;
    if (!question || busy) return;
    if (a.feedback) return a.next();
    if (choice === null) return setError("Choose an answer first.");
    setBusy(true);
    setError(null);
    try {
      const res = await postAnswer(a.quizId, question.id, choice);
      const body = await res.json();
      if (res.status === 409) {
        a.answeredWith(question.id, body.score, null);
        setError("You had already answered this one; moving on.");
        a.next();
      } else if (!res.ok) {
        setError(body.error ?? `The server answered ${res.status}.`);
      } else {
        a.answeredWith(question.id, body.score, body);
      }
    } catch {
      setError("Network error; try again.");
    } finally {
      setBusy(false);
    }
  }

  return { busy, submit };
}

function postAnswer(quizId: string, questionId: string, choice: number) {
  return fetch(`/api/quizzes/${encodeURIComponent(quizId)}/answers`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
    },
    body: JSON.stringify({ questionId, choice }),
  });
}
