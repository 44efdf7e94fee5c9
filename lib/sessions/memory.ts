import { BoundedMap } from "../base/bounded_map.ts";
import { counterValue } from "../base/kv_util.ts";
import type { SessionRecord } from "./session.ts";

/**
 * How long this process serves a session (and the hit counter) from what it last read or
 * wrote, without reading the store again. Correctness never depends on it: a request
 * served this way has its commit check that the stored session is unchanged (see
 * lib/sessions/kv_store.ts). It only bounds how stale the displayed counts may be when other
 * processes count too.
 */
export const KNOWN_TTL_MS = 1000;
/** At most this many sessions are remembered; those unused for longest go first. */
export const MAX_KNOWN = 10_000;

/** What this process knows of one stored session. */
export interface Known {
  record: SessionRecord;
  /** The stored session entry's versionstamp when `record` was read or written. */
  versionstamp: string;
  /** Its visit count, this process's counted requests included. */
  visits: number;
  /**
   * The visit counter's versionstamp in the read `visits` came from (null: no counter
   * row then). A counted visit that lands with a later versionstamp was not in that read.
   */
  visitsVersionstamp: string | null;
  /** When it was read or written (the app's clock, epoch ms). */
  at: number;
  /** The versionstamp of the last commit that counted a visit of it here, if any. */
  landedAt?: string;
}

/** A counted request whose commit has landed in the store. */
export interface Landing {
  /** The versionstamp of the commit that holds it. */
  versionstamp: string;
  /** It counted a hit. */
  hit: boolean;
  /** The session whose visit counter it counted, if any. */
  handle: string | null;
}

/** Whether a commit at `versionstamp` came after a read that saw `seen` (null: nothing). */
const after = (versionstamp: string, seen: string | null) =>
  seen === null || versionstamp > seen;

/**
 * The landings seen while reads are in flight. A read's snapshot may be older than counts
 * that landed before its answer arrived: those are added to what it read, by versionstamp,
 * so remembering a read never hides a count (nor adds one the snapshot already holds).
 * Kept only as long as a read that began before them is in flight.
 */
class Landings {
  #log: Landing[] = [];
  /** The position of #log[0] among all landings logged. */
  #base = 0;
  /** Where each read in flight began. */
  #open: number[] = [];

  begin(): number {
    const at = this.#base + this.#log.length;
    this.#open.push(at);
    return at;
  }

  /** The landings since `at`; the read that began there is over. */
  end(at: number): Landing[] {
    this.#open.splice(this.#open.indexOf(at), 1);
    const since = this.#log.slice(at - this.#base);
    const keep = this.#open.length > 0
      ? Math.min(...this.#open)
      : this.#base + this.#log.length;
    this.#log.splice(0, keep - this.#base);
    this.#base = keep;
    return since;
  }

  add(landing: Landing): void {
    if (this.#open.length > 0) this.#log.push(landing);
  }
}

/**
 * A map of at most MAX_KNOWN entries (those unused for longest go first, see BoundedMap)
 * whose entries count only for KNOWN_TTL_MS after their `at`.
 */
export class Remembered<V extends { at: number }> {
  #entries = new BoundedMap<string, V>(MAX_KNOWN);

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
    return this.#entries.peek(key);
  }

  set(key: string, entry: V): void {
    this.#entries.set(key, entry);
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

/**
 * A small, bounded memory of recently seen sessions and of the hit counter. Reads that
 * feed it go through `read()`, and each counted request that lands is told (`landed`), so
 * that what is remembered is what the store holds plus exactly this process's counts since.
 */
export class KnownSessions {
  #sessions = new Remembered<Known>();
  #hits: { value: number; versionstamp: string | null; at: number } | null =
    null;
  #landings = new Landings();

  /** The session `handle` if known and read less than KNOWN_TTL_MS before `now`. */
  session(handle: string, now: number): Known | undefined {
    return this.#sessions.get(handle, now);
  }

  /**
   * A read whose answer is remembered: runs `getMany` (the first entry of its answer must be
   * the hit counter), remembers the hit count with the counts the snapshot missed, and hands
   * `use` the entries, that count and the landings since the read began (for `remember`).
   * `use` runs in the same synchronous step as the read's end, so no count that lands in
   * between can go to a memory about to be replaced.
   */
  async read<T>(
    getMany: () => Promise<Deno.KvEntryMaybe<unknown>[]>,
    now: number,
    use: (
      entries: Deno.KvEntryMaybe<unknown>[],
      hits: number,
      landed: Landing[],
    ) => T,
  ): Promise<T> {
    const mark = this.#landings.begin();
    let entries, landed;
    try {
      entries = await getMany();
    } finally {
      landed = this.#landings.end(mark);
    }
    const [counter] = entries;
    const hits = this.rememberHits(
      counterValue(counter.value),
      counter.versionstamp,
      now,
      landed,
    );
    return use(entries, hits, landed);
  }

  /**
   * Remembers a session as read (with `landed`, the landings since its read began) or as
   * just written. Returns its visit count including those landings.
   */
  remember(handle: string, known: Known, landed: Landing[] = []): number {
    for (const l of landed) {
      if (
        l.handle === handle && after(l.versionstamp, known.visitsVersionstamp)
      ) {
        known.visits++;
      }
    }
    this.#sessions.set(handle, known);
    return known.visits;
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

  /**
   * Remembers the hit counter as read: `value` at `versionstamp` (null: no counter yet),
   * plus the `landed` hits its snapshot missed. Returns that sum.
   */
  rememberHits(
    value: number,
    versionstamp: string | null,
    now: number,
    landed: Landing[],
  ): number {
    for (const l of landed) {
      if (l.hit && after(l.versionstamp, versionstamp)) value++;
    }
    this.#hits = { value, versionstamp, at: now };
    return value;
  }

  /** A counted request has landed in the store: count it in what is remembered. */
  landed(landing: Landing): void {
    this.#landings.add(landing);
    const { versionstamp, hit, handle } = landing;
    if (hit && this.#hits && after(versionstamp, this.#hits.versionstamp)) {
      this.#hits.value++;
    }
    if (handle !== null) {
      const known = this.#sessions.peek(handle);
      // The counter now has the landing's versionstamp (several landings of one commit
      // share it, and each counts).
      if (
        known &&
        (after(versionstamp, known.visitsVersionstamp) ||
          versionstamp === known.landedAt)
      ) {
        known.visits++;
        known.visitsVersionstamp = versionstamp;
        known.landedAt = versionstamp;
      }
    }
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
