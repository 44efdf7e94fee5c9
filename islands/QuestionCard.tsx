import { useEffect, useRef, useState } from "preact/hooks";
import { refreshFooterCounts } from "./footer_counts.ts";
import { LikeForm } from "./LikeForm.tsx";
import { CardActions } from "./question_card/CardActions.tsx";
import { ChoiceList } from "./question_card/ChoiceList.tsx";
import { FeedbackPanel } from "./question_card/FeedbackPanel.tsx";
import { ProgressLine } from "./question_card/ProgressLine.tsx";
import type { QuestionCardProps } from "./question_card/types.ts";
import { useFocusAfter } from "./question_card/use_focus.ts";
import { useQuiz } from "./question_card/use_quiz.ts";
import { useQuizKeys } from "./question_card/use_quiz_keys.ts";

export type {
  PublicQuestion,
  QuestionCardProps,
} from "./question_card/types.ts";

/**
 * The current question. Server-rendered it is a plain form (works without JavaScript);
 * hydrated it answers through the JSON API with instant feedback and keyboard shortcuts
 * (1-5 choose, Enter submits / goes on).
 */
export default function QuestionCard(props: QuestionCardProps) {
  const { quizId, csrf, questions } = props;
  const quiz = useQuiz(props);
  const { question, feedback, answered, busy } = quiz;
  const [hydrated, setHydrated] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const total = questions.length;

  useEffect(() => setHydrated(true), []);
  // Each answer the server took counts in the footer (which no island draws).
  const countedAnswers = useRef(quiz.answered.length);
  useEffect(() => {
    if (quiz.answered.length === countedAnswers.current) return;
    countedAnswers.current = quiz.answered.length;
    refreshFooterCounts();
  }, [quiz.answered.length]);
  useFocusAfter(formRef, quiz.focusNext, [feedback, quiz.currentId]);
  useQuizKeys(formRef, quiz);

  if (!question) return <p class="card">All questions answered.</p>;

  return (
    <>
      <form
        ref={formRef}
        class="question-card card"
        method="post"
        action={`/quiz/${quizId}/answer`}
        onSubmit={quiz.submit}
        data-ready={hydrated ? "true" : undefined}
      >
        <input type="hidden" name="_csrf" value={csrf} />
        <input type="hidden" name="questionId" value={question.id} />
        <ProgressLine
          index={quiz.index}
          total={total}
          answered={answered.length}
          score={quiz.score}
        />
        <fieldset disabled={busy}>
          <legend class="question-text">{question.text}</legend>
          <ChoiceList
            question={question}
            choice={quiz.choice}
            feedback={feedback}
            choose={quiz.choose}
          />
        </fieldset>
        <FeedbackPanel question={question} feedback={feedback} />
        {quiz.error && <p class="error" role="alert">{quiz.error}</p>}
        <CardActions
          answering={feedback === null}
          last={feedback !== null && answered.length >= total}
          busy={busy}
          hydrated={hydrated}
          choices={question.choices.length}
        />
      </form>
      {/* A plain form (works without JavaScript) for the question shown; while its explanation shows, it comes back to it. */}
      <LikeForm
        csrf={csrf}
        item={`${quizId}/${question.id}`}
        back={feedback
          ? `/quiz/${quizId}?answered=${encodeURIComponent(question.id)}`
          : `/quiz/${quizId}`}
        liked={props.likedIds.includes(question.id)}
      />
    </>
  );
}
