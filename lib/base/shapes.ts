/** Small predicates for checking values read from outside (the store, the admin API). */

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export const isNumber = (v: unknown): v is number =>
  typeof v === "number" && Number.isFinite(v);

/** `v` is absent, or passes `check`. */
export const optional = (v: unknown, check: (v: unknown) => boolean) =>
  v === undefined || check(v);
