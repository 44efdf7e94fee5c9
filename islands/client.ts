// Island entry: hydrates every element marked data-island (see ../shared STYLE notes).
import { h, hydrate } from "preact";
import type { ComponentType } from "preact";

const islands: Record<string, ComponentType<Record<string, unknown>>> = {};

for (const el of document.querySelectorAll<HTMLElement>("[data-island]")) {
  const component = islands[el.dataset.island ?? ""];
  if (!component) continue;
  hydrate(h(component, JSON.parse(el.dataset.props ?? "{}")), el);
}
document.documentElement.dataset.ready = "true";
