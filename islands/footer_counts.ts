/**
 * The page footer's counts (site hits, your visits) sit outside every island, so an answer
 * through the JSON API would leave them as the page was loaded: this reads them again.
 */
export async function refreshFooterCounts(): Promise<void> {
  try {
    const res = await fetch("/api/me", {
      headers: { accept: "application/json" },
    });
    if (!res.ok) return;
    const { hits, visits } = await res.json();
    show("hits", hits);
    show("visits", visits);
  } catch {
    // The counts stay as they were; nothing the visitor is doing depends on them.
  }
}

function show(testId: string, value: unknown) {
  const el = document.querySelector(`[data-testid="${testId}"]`);
  if (el && typeof value === "number") el.textContent = String(value);
}
