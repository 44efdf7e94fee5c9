import {
  retrying,
  STORE_TIMEOUT_MS,
  StoreRefused,
  storeUnavailable,
  withTimeout,
} from "../base/kv_util.ts";
import { LOCAL_LIMITS, type StoreLimits } from "../base/store_limits.ts";

/** A write that does not depend on what is stored ("blind"), so it can share a commit. */
export type BlindWrite =
  | { kind: "sum"; key: Deno.KvKey; n: bigint }
  | { kind: "set"; key: Deno.KvKey; value: unknown; expireIn?: number }
  | { kind: "delete"; key: Deno.KvKey };

/**
 * A versionstamp check: the commit lands only if `key` is still at `versionstamp`
 * (null: only if `key` still does not exist).
 */
export interface Check {
  key: Deno.KvKey;
  versionstamp: string | null;
}

/**
 * A request's check failed: what it read has changed since. Its writes were not made;
 * it should run again from a fresh read.
 */
export class StaleRead extends Error {
  constructor() {
    super("A value this request read has changed since");
  }
}

export interface GroupCommitStats {
  commits: number;
  /** Commits refused because a check failed (their checked requests ran again). */
  staleCommits: number;
  writes: number;
  largestBatch: number;
  /** How many commits had 1, 2-3, 4-7, 8-15, ... requests in them. */
  batchSizes: Record<string, number>;
}

export interface GroupCommitter {
  /**
   * Resolves once `writes` are durable in the store, with the versionstamp of the commit
   * that holds them (null when there was nothing to write or check). Rejects with a 503 if
   * they never are, or with StaleRead (nothing written) if one of `checks` fails.
   */
  write(writes: BlindWrite[], checks?: Check[]): Promise<string | null>;
  stats(): GroupCommitStats;
}

interface Waiter {
  writes: BlindWrite[];
  checks: Check[];
  /**
   * The keys its `set`s and `delete`s write (as JSON): no two waiters writing one key
   * share a commit.
   */
  sets: string[];
  /** Its keys' and values' size as JSON: an estimate of what it adds to a commit. */
  bytes: number;
  resolve: (versionstamp: string) => void;
  reject: (error: unknown) => void;
}

/**
 * The share of the store's byte limit a batch may fill by its JSON estimate: the store
 * counts V8-serialised values, up to twice as large for text outside Latin-1.
 */
const BYTES_SHARE = 0.4;

/**
 * A second commit may start while one is in flight: SQLite then runs it as soon as the first
 * ends, instead of waiting for the JavaScript thread to see that and start the next. Only
 * once this many requests wait for it, though: fewer are better off waiting for the commit in
 * flight than paying for a commit (an fsync) of their own. At 50 connections this served
 * 8-10 % more page views than one commit at a time; starting the second commit with
 * whatever was waiting (any number) gained nothing, its batches were just smaller.
 */
export const SECOND_COMMIT_AT = LOCAL_LIMITS.nextCommitAt;

function bucketOf(n: number): string {
  let low = 1;
  while (low * 2 <= n) low *= 2;
  return low === 1 ? "1" : `${low}-${low * 2 - 1}`;
}

/**
 * Group commit: blind writes of concurrent requests go into one atomic commit (one fsync)
 * that every request awaits before it answers, so each acknowledged write is durable while
 * the store sees one commit per batch instead of one per request. Sums on one key object
 * (such as HITS_KEY) are merged.
 * A commit starts as soon as the previous one ends (or, under load, while it runs: see
 * SECOND_COMMIT_AT); no timer adds latency at low load. Two commits in flight never write
 * the same key, so their order cannot matter.
 * A request may add versionstamp checks (that what it read is still current, see
 * lib/sessions/kv_store.ts): they ride along in the same commit.
 * A batch stays within `limits` (checks, mutations, bytes) of the store in use; should the
 * store refuse one anyway, it is split and each half committed on its own, so a waiter is
 * refused only for its own writes.
 */
export function createGroupCommitter(
  kv: Deno.Kv,
  limits: Readonly<StoreLimits> = LOCAL_LIMITS,
): GroupCommitter {
  return new GroupCommit(kv, limits);
}

/** The committer {@link createGroupCommitter} describes: one per app (per KV handle). */
export class GroupCommit implements GroupCommitter {
  #queue: Waiter[] = [];
  #inFlight = 0;
  #pumpQueued = false;
  /** The keys written by the batches in flight, with how many of them write each. */
  readonly #busy = new Map<string, number>();
  readonly #stats: GroupCommitStats = {
    commits: 0,
    staleCommits: 0,
    writes: 0,
    largestBatch: 0,
    batchSizes: {},
  };
  readonly #maxBytes: number;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly limits: Readonly<StoreLimits> = LOCAL_LIMITS,
  ) {
    this.#maxBytes = limits.totalBytes * BYTES_SHARE;
  }

  write(writes: BlindWrite[], checks: Check[] = []): Promise<string | null> {
    if (writes.length === 0 && checks.length === 0) {
      return Promise.resolve(null);
    }
    // While the store hangs, each batch takes the full store timeout, so a long queue
    // would wait batch after batch. A waiter still unanswered after STORE_TIMEOUT_MS
    // gets its 503 and, if not yet in a batch, leaves the queue unwritten: no request
    // waits on the committer longer than the store timeout.
    let waiter: Waiter;
    const written = new Promise<string>((resolve, reject) => {
      waiter = { ...sizeOf(writes), writes, checks, resolve, reject };
      this.#queue.push(waiter);
      if (!this.#pumpQueued && this.#inFlight < this.limits.commitsInFlight) {
        this.#pumpQueued = true;
        // Let requests of the same tick join the batch.
        queueMicrotask(() => this.#pump());
      }
    });
    return withTimeout<string | null>(written, STORE_TIMEOUT_MS, () => {
      const at = this.#queue.indexOf(waiter);
      if (at >= 0) this.#queue.splice(at, 1);
    });
  }

  stats(): GroupCommitStats {
    return structuredClone(this.#stats);
  }

  /**
   * The next batch, in queue order, within the store's limits. A waiter that writes a key
   * another waiter of the batch writes waits for the next one: two checked
   * read-modify-writes of one key in one commit would both pass their checks (made before
   * any write) and one change would be lost. (A waiter that only checks a key another one
   * writes may share the commit: it is as if it ran just before.) Nor may it write a key
   * that the batch in flight writes.
   */
  #takeBatch(): Waiter[] {
    const { limits } = this;
    const batch: Waiter[] = [];
    const later: Waiter[] = [];
    const setKeys = new Set<string>();
    let mutations = 0;
    let checks = 0;
    let bytes = 0;
    let full = false;
    for (const w of this.#queue) {
      full ||= batch.length > 0 &&
        (mutations + w.writes.length > limits.mutations ||
          checks + w.checks.length > limits.checks ||
          bytes + w.bytes > this.#maxBytes);
      if (full || w.sets.some((id) => setKeys.has(id) || this.#busy.has(id))) {
        later.push(w);
        continue;
      }
      for (const id of w.sets) setKeys.add(id);
      mutations += w.writes.length;
      checks += w.checks.length;
      bytes += w.bytes;
      batch.push(w);
    }
    this.#queue = later;
    return batch;
  }

  #landed(batch: Waiter[], versionstamp: string) {
    const stats = this.#stats;
    stats.commits++;
    stats.largestBatch = Math.max(stats.largestBatch, batch.length);
    const bucket = bucketOf(batch.length);
    stats.batchSizes[bucket] = (stats.batchSizes[bucket] ?? 0) + 1;
    for (const w of batch) {
      stats.writes += w.writes.length;
      w.resolve(versionstamp);
    }
  }

  #build(batch: Waiter[]): Deno.AtomicOperation {
    const atomic = this.kv.atomic();
    // By key object: the hot counter (HITS_KEY) is one shared array, so every request's
    // hit becomes one sum without serialising keys. Equal keys in distinct arrays stay
    // separate sums of one atomic, which the store applies one after the other.
    const sums = new Map<Deno.KvKey, bigint>();
    for (const { writes, checks } of batch) {
      for (const c of checks) atomic.check(c);
      for (const w of writes) {
        if (w.kind === "set") {
          atomic.set(
            w.key,
            w.value,
            w.expireIn ? { expireIn: w.expireIn } : undefined,
          );
        } else if (w.kind === "delete") {
          atomic.delete(w.key);
        } else {
          sums.set(w.key, (sums.get(w.key) ?? 0n) + w.n);
        }
      }
    }
    for (const [key, n] of sums) atomic.sum(key, n);
    return atomic;
  }

  /**
   * Commits `batch`. A commit the store refuses as a whole (a limit, or a value that a
   * `sum` cannot add to) is split in halves until the waiter that causes it stands alone.
   */
  async #commit(batch: Waiter[]): Promise<void> {
    let result;
    try {
      result = await retrying(() => this.#build(batch).commit());
    } catch (error) {
      // Only a limit is known to have written nothing: anything else fails the batch.
      if (!(error instanceof StoreRefused && error.limit)) throw error;
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await this.#commit(batch.slice(0, half));
      await this.#commit(batch.slice(half));
      return;
    }
    if (result.ok) {
      this.#landed(batch, result.versionstamp);
      return;
    }
    // A check failed, and the commit wrote nothing. Which one is not known: the checked
    // waiters are committed one by one, so only those whose check fails are refused
    // (StaleRead: they read again); the blind writes go first into the next batch.
    this.#stats.staleCommits++;
    const checked = batch.filter((w) => w.checks.length > 0);
    this.#queue = [
      ...batch.filter((w) => w.checks.length === 0),
      ...this.#queue,
    ];
    for (const w of checked) {
      if (checked.length === 1) w.reject(new StaleRead());
      else await this.#commitAlone(w);
    }
  }

  /** Commits one checked waiter of a refused batch on its own. */
  async #commitAlone(w: Waiter): Promise<void> {
    let result;
    try {
      result = await retrying(() => this.#build([w]).commit());
    } catch (error) {
      if (!(error instanceof StoreRefused && error.limit)) throw error;
      w.reject(error);
      return;
    }
    if (result.ok) this.#landed([w], result.versionstamp);
    else w.reject(new StaleRead());
  }

  /** Commits `batch`; a failing store answers it, and everyone queued behind it, 503. */
  async #commitOrFail(batch: Waiter[]): Promise<void> {
    try {
      await this.#commit(batch);
    } catch (error) {
      for (const w of batch) w.reject(error);
      // Refused for what this batch holds: the requests behind it may be fine.
      if (error instanceof StoreRefused) return;
      // The store just failed (retries spent or timed out): the requests queued behind
      // this batch are answered 503 now, unwritten, instead of waiting out another timeout.
      const waiting = this.#queue;
      this.#queue = [];
      for (const w of waiting) w.reject(storeUnavailable());
    }
  }

  /** Starts the commits that may start now. */
  #pump() {
    this.#pumpQueued = false;
    const { commitsInFlight, nextCommitAt } = this.limits;
    while (this.#queue.length > 0 && this.#inFlight < commitsInFlight) {
      if (this.#inFlight > 0 && this.#queue.length < nextCommitAt) return;
      const batch = this.#takeBatch();
      if (batch.length === 0) return;
      const keys = batch.flatMap((w) => w.sets);
      for (const id of keys) this.#busy.set(id, (this.#busy.get(id) ?? 0) + 1);
      this.#inFlight++;
      this.#commitOrFail(batch).finally(() => {
        this.#inFlight--;
        this.#release(keys);
        this.#pump();
      });
    }
  }

  /** A batch has ended: the keys it wrote may go into the next one. */
  #release(keys: string[]) {
    for (const id of keys) {
      const n = this.#busy.get(id)! - 1;
      if (n === 0) this.#busy.delete(id);
      else this.#busy.set(id, n);
    }
  }
}

/** The keys a waiter's `set`s and `delete`s write, and its size estimate (see Waiter). */
function sizeOf(writes: BlindWrite[]): { sets: string[]; bytes: number } {
  const sets: string[] = [];
  let bytes = 0;
  for (const w of writes) {
    if (w.kind === "sum") continue;
    const id = JSON.stringify(w.key);
    sets.push(id);
    bytes += id.length +
      (w.kind === "set" ? JSON.stringify(w.value)?.length ?? 8 : 0);
  }
  return { sets, bytes };
}
