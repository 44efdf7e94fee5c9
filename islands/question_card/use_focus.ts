import { type RefObject } from "preact";
import { useLayoutEffect } from "preact/hooks";
import type { FocusTarget } from "./types.ts";

/**
 * Moves focus to `focusNext` (then clears it) once the feedback or the question changes.
 * A layout effect, so focus moves in the same frame as the new content appears.
 */
export function useFocusAfter(
  formRef: RefObject<HTMLFormElement>,
  focusNext: RefObject<FocusTarget>,
  changes: unknown[],
) {
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
  }, changes);
}
