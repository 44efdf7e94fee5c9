/** Number formats of the report and the progress lines. */

export const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
export const int = (n: number) => Math.round(n).toLocaleString("en-US");
export const cores = (n: number | null) => n === null ? "–" : n.toFixed(2);
export const mib = (n: number | undefined) =>
  n === undefined ? "–" : n.toFixed(1);
/** Other processes using more than this many cores make a run's numbers doubtful. */
export const NOISY = 0.25;
