/**
 * One seeded random number generator for the tests and the load tools (mulberry32): small,
 * fast, and the same sequence for the same seed everywhere, so a failing run repeats.
 */

export interface Rng {
  /** A number in [0, 1). */
  next(): number;
  /** A whole number in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  /** True with probability `p`. */
  chance(p: number): boolean;
}

/** mulberry32 from `seed` (taken as an unsigned 32-bit integer). */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (p) => next() < p,
  };
}

/** An item of `table` picked with the weights in its first column. */
export function weighted<T>(r: Rng, table: readonly [number, T][]): T {
  const total = table.reduce((s, [w]) => s + w, 0);
  let x = r.next() * total;
  for (const [w, item] of table) {
    if ((x -= w) < 0) return item;
  }
  return table[table.length - 1][1];
}
