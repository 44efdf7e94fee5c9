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

/** A small, bounded memory of recently seen sessions and of the hit counter. */
export class KnownSessions {
  #sessions = new Map<string, Known>();
  #hits: { value: number; at: number } | null = null;

  /** The session `handle` if known and read less than KNOWN_TTL_MS before `now`. */
  session(handle: string, now: number): Known | undefined {
    const known = this.#sessions.get(handle);
    if (known && !fresh(known.at, now)) {
      this.#sessions.delete(handle);
      return undefined;
    }
    return known;
  }

  remember(handle: string, known: Known): void {
    this.#sessions.delete(handle);
    this.#sessions.set(handle, known);
    if (this.#sessions.size > MAX_KNOWN) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
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
    const known = this.#sessions.get(handle);
    if (known) known.visits++;
  }

  rememberHits(value: number, now: number): void {
    this.#hits = { value, at: now };
  }

  /** Forgets everything, e.g. after a commit failed and counts may not have landed. */
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
