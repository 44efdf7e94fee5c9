/** The keys the session machinery keeps in KV, each built by one function. */

/** The site's hit counter (a KV u64 `sum`). */
export const HITS_KEY = ["hits"] as const;

/** A kv-mode session record, by its handle (the SHA-256 hex of the cookie's id). */
export const sessionKey = (handle: string) => ["sessions", handle] as const;

/**
 * Kept beside the session so visits can be counted with blind `sum`s (from the second
 * visit on: the first is in the record, `visitsAtStart`); deleted with it.
 */
export const visitsKey = (handle: string) => ["visits", handle] as const;

/** Per-user index of live sessions, written in the same commits as the sessions. */
export const userSessionKey = (user: string, handle: string) =>
  ["user_sessions", user, handle] as const;

/** Marks the cookie session `handle` (SHA-256 hex of its sid) as ended. */
export const cookieRevokedKey = (handle: string) =>
  ["cookie_revoked", handle] as const;

/** Epoch ms: this user's cookie sessions created before it are dead. */
export const userValidAfterKey = (user: string) =>
  ["user_valid_after", user] as const;
