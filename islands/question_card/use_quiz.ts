import { useRef, useState } from "preact/hooks";
import type {
  Feedback,
  FocusTarget,
  PublicQuestion,
  QuestionCardProps,
} from "./types.ts";
import { useSubmit } from "./use_submit.ts";

/**
 * The card's state: which question is shown, what is answered and chosen, the feedback,
 * and the actions (`choose`, `submit`, which answers or goes on to the next question).
 */
export function useQuiz(props: QuestionCardProps) {
  const { quizId, questions } = props;
  const [answered, setAnswered] = useState(props.answeredIds);
  const [currentId, setCurrentId] = useState<string | null>(props.currentId);
  const [choice, setChoice] = useState<number | null>(null);
  const [feedback, setFeedback] = useState<Feedback | null>(null);
  const [score, setScore] = useState(props.score);
  const [error, setError] = useState<string | null>(null);
  // Only user actions set it, so hydration never steals focus.
  const focusNext = useRef<FocusTarget>(null);

  const index = questions.findIndex((q) => q.id === currentId);
  const question = index >= 0 ? questions[index] : null;

  function choose(i: number) {
    setChoice(i);
    setError(null);
  }

  function next() {
    const upcoming = firstUnanswered(questions, answered, question);
    if (!upcoming) {
      location.assign(`/quiz/${encodeURIComponent(quizId)}/result`);
      return;
    }
    focusNext.current = "choice";
    setFeedback(null);
    setChoice(null);
    setCurrentId(upcoming.id);
  }

  const { busy, submit } = useSubmit({
    quizId,
    question,
    choice,
    feedback,
    next,
    setError,
    answeredWith(questionId, score, body) {
      if (body) {
        focusNext.current = "button";
        setFeedback(body);
      }
      setScore(score);
      setAnswered((a) => [...a, questionId]);
    },
  });

  return {
    question,
    index,
    currentId,
    answered,
    score,
    choice,
    feedback,
    error,
    busy,
    focusNext,
    choose,
    submit,
  };
}

/** The first question neither in `answered` nor `current` (just answered), if any. */
function firstUnanswered(
  questions: PublicQuestion[],
  answered: string[],
  current: PublicQuestion | null,
): PublicQuestion | undefined {
  const done = new Set([...answered, ...(current ? [current.id] : [])]);
  return questions.find((q) => !done.has(q.id));
}
