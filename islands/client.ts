// Island entry: hydrates every element marked data-island (see lib/server/island.tsx).
import { h, hydrate } from "preact";
import type { ComponentType } from "preact";
import QuestionCard from "./QuestionCard.tsx";

// deno-lint-ignore no-explicit-any
const islands: Record<string, ComponentType<any>> = { QuestionCard };

for (const el of document.querySelectorAll<HTMLElement>("[data-island]")) {
  const component = islands[el.dataset.island ?? ""];
  if (component) {
    hydrate(h(component, JSON.parse(el.dataset.props ?? "{}")), el);
  }
}
// Browser tests wait for this marker.
document.documentElement.dataset.ready = "true";
