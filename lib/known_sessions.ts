import type { SessionRecord } from "./session.ts";

/**
 * How long this process serves a session (and the hit counter) from what it last read or
 * wrote, without reading the store again. Correctness never depends on it: a request
 * served this way has its commit check that the stored session is unchanged (see
 * lib/session_kv.ts). It only bounds how stale the displayed counts may be when other
 * processes count too.
 */
export const KNOWN_TTL_MS = 1000;
/** At most this many sessions are remembered; the least recently stored go first. */
export const MAX_KNOWN = 10_000;

/** What this process knows of one stored session. */
export interface Known {
  record: SessionRecord;
  /** The stored session entry's versionstamp when `record` was read or written. */
  versionstamp: string;
  /** Its visit count, this process's counted requests included. */
  visits: number;
  /** When it was read or written (the app's clock, epoch ms). */
  at: number;
}

/**
 * A map of at most MAX_KNOWN entries (the least recently stored go first) whose entries
 * count only for KNOWN_TTL_MS after their `at`.
 */
export class Remembered<V extends { at: number }> {
  #entries = new Map<string, V>();

  /** The entry under `key` if stored less than KNOWN_TTL_MS before `now`. */
  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry && !fresh(entry.at, now)) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** The entry under `key`, however old (to update it in place). */
  peek(key: string): V | undefined {
    return this.#entries.get(key);
  }

  set(key: string, entry: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > MAX_KNOWN) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** A small, bounded memory of recently seen sessions and of the hit counter. */
export class KnownSessions {
  #sessions = new Remembered<Known>();
  #hits: { value: number; at: number } | null = null;

  /** The session `handle` if known and read less than KNOWN_TTL_MS before `now`. */
  session(handle: string, now: number): Known | undefined {
    return this.#sessions.get(handle, now);
  }

  remember(handle: string, known: Known): void {
    this.#sessions.set(handle, known);
  }

  forget(handle: string): void {
    this.#sessions.delete(handle);
  }

  /** The hit counter as last read and counted here, if read less than KNOWN_TTL_MS ago. */
  hits(now: number): number | undefined {
    return this.#hits && fresh(this.#hits.at, now)
      ? this.#hits.value
      : undefined;
  }

  /** A counted hit has landed in the store. */
  countHit(): void {
    if (this.#hits) this.#hits.value++;
  }

  /** A counted visit of `handle` has landed in the store. */
  countVisit(handle: string): void {
    const known = this.#sessions.peek(handle);
    if (known) known.visits++;
  }

  rememberHits(value: number, now: number): void {
    this.#hits = { value, at: now };
  }

  /** Forgets everything (the admin KV API wrote the store behind the sessions' back). */
  clear(): void {
    this.#sessions.clear();
    this.#hits = null;
  }

  get size(): number {
    return this.#sessions.size;
  }
}

/** Within the TTL; a clock that went backwards (a test's) counts as stale. */
const fresh = (at: number, now: number) => now >= at && now - at < KNOWN_TTL_MS;
