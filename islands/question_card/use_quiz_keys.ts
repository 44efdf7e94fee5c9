import { type RefObject } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { Feedback, PublicQuestion } from "./types.ts";

/** What the key handler needs from the latest render. */
export interface KeyState {
  question: PublicQuestion | null;
  feedback: Feedback | null;
  busy: boolean;
  choose: (i: number) => void;
  submit: () => void;
}

/**
 * Keyboard shortcuts while the quiz has the focus: 1-5 choose, Enter submits / goes on.
 * The handler is registered once and reads the latest render through a ref: a handler
 * re-registered by an effect would still see the previous state until the effect runs.
 */
export function useQuizKeys(
  formRef: RefObject<HTMLFormElement>,
  state: KeyState,
) {
  const latest = useRef(state);
  latest.current = state;

  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      const { question, feedback, busy, choose, submit } = latest.current;
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
        choose(n - 1);
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
}
