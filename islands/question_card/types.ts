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

/** The JSON API's answer to an answer. */
export interface Feedback {
  correct: boolean;
  correctChoice: number;
  /** The chosen choice's own feedback from the quiz file, or null. */
  feedback?: string | null;
  explanation: string;
  score: number;
  answered: number;
  total: number;
}

/** Where focus goes after the next render (see useFocusAfter). */
export type FocusTarget = "button" | "choice" | null;
