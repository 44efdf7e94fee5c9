import { HttpError } from "./http_error.ts";
import { isRefusal } from "./store_limits.ts";

/** The answer every store fault ends in: the client may retry shortly. */
export function storeUnavailable(): HttpError {
  return new HttpError(503, "The store is unavailable; try again shortly", {}, {
    "Retry-After": "2",
  });
}

interface Watched {
  deadline: number;
  reject: (error: unknown) => void;
  onTimeout?: () => void;
}

/**
 * Deadlines for pending store calls, all watched by one ticker: a timer per call cost
 * about 10 % of a page view's JavaScript time (benchmark profile). It runs only while
 * calls are pending, so nothing is left behind when the store is idle.
 */
export class Timeouts {
  readonly #watched = new Set<Watched>();
  #ticker: ReturnType<typeof setInterval> | undefined;

  /** Rejects with a 503 when `promise` takes longer than `ms` (give or take 50 ms). */
  watch<T>(
    promise: Promise<T>,
    ms: number,
    onTimeout?: () => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Watched = {
        deadline: performance.now() + ms,
        reject,
        onTimeout,
      };
      this.#watched.add(w);
      // Not unref'd: a caller awaiting a hung store must still get its 503.
      this.#ticker ??= setInterval(() => this.#tick(), 50);
      promise.then(
        (value) => {
          this.#unwatch(w);
          resolve(value);
        },
        (error) => {
          this.#unwatch(w);
          reject(error);
        },
      );
    });
  }

  #unwatch(w: Watched) {
    this.#watched.delete(w);
    if (this.#watched.size === 0 && this.#ticker !== undefined) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }
  }

  #tick() {
    const now = performance.now();
    for (const w of this.#watched) {
      if (now >= w.deadline) {
        this.#unwatch(w);
        try {
          w.onTimeout?.();
        } catch (error) {
          // One caller's clean-up must not keep the others from their 503.
          console.error(`store: timeout clean-up failed: ${error}`);
        }
        w.reject(storeUnavailable());
      }
    }
  }
}

/**
 * Process-wide on purpose, unlike every other cache or queue (owned by an app's session
 * store or committer): one timer for all pending store calls is the point, and `retrying`
 * is called by domain code on plain arguments (accounts, quiz), which has no app to ask
 * for one. It holds only deadlines and the callbacks that reject each caller's own
 * promise: nothing a caller can read, so two apps in one process see nothing of each
 * other through it, and no test needs to reset it.
 */
const storeTimeouts = new Timeouts();

/**
 * Rejects with a 503 when `promise` takes longer than `ms` (give or take 50 ms): a hung
 * store must not hang the client. `onTimeout` runs first, when it does.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout?: () => void,
): Promise<T> {
  return storeTimeouts.watch(promise, ms, onTimeout);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The pause after the `conflict`-th failed check of a read-modify-write (from 0): random,
 * growing to at most 50 ms, so contenders on a hot key spread out instead of livelocking.
 */
export const conflictBackoff = (conflict: number) =>
  sleep(Math.random() * Math.min(50, 2 ** conflict));

/** A counter's value as stored by `sum` (0 when absent, or not a counter). */
export const counterValue = (value: unknown): number =>
  value instanceof Deno.KvU64 ? Number(value.value) : 0;

/** How long a store call may take before the request gives up with a 503. */
export const STORE_TIMEOUT_MS = 5000;
const ATTEMPTS = 4;

/**
 * The store refused a call as such (a limit exceeded, a `sum` on a value that is not a
 * counter): trying it again would fail the same way. `cause` is the store's error.
 */
export class StoreRefused extends HttpError {
  /**
   * A limit (checks, mutations, sizes): Deno checks those before writing anything, so the
   * call wrote nothing and a smaller one may pass. Otherwise (a `sum` on a value that is
   * not a counter) local Deno KV has already applied the mutations before the failing one.
   */
  readonly limit: boolean;

  constructor(cause: unknown) {
    const limit = /too (many|large)/i.test(String(cause));
    // Not "unavailable, retry shortly": the same call fails until a person fixes the data.
    super(
      limit ? 413 : 500,
      limit
        ? "This change is too large for the store; nothing was saved"
        : "The store refused this change",
    );
    this.cause = cause;
    this.limit = limit;
  }
}

/**
 * Runs a store operation with a timeout, retrying thrown errors (such as SQLite's
 * "database is locked") a bounded number of times with backoff, then fails with a 503.
 * HttpErrors thrown by `op` itself are passed through untouched; a call the store refuses
 * as such is not retried (StoreRefused).
 */
export async function retrying<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await withTimeout(op(), STORE_TIMEOUT_MS);
    } catch (error) {
      if (isRefusal(error)) {
        console.error(`store: refused: ${error}`);
        throw new StoreRefused(error);
      }
      if (error instanceof HttpError && error.status !== 503) throw error;
      if (attempt >= ATTEMPTS || (error instanceof HttpError)) {
        console.error(`store: giving up after ${attempt} attempt(s): ${error}`);
        throw storeUnavailable();
      }
      await sleep(5 * 4 ** attempt * (0.5 + Math.random()));
    }
  }
}

/**
 * Read-modify-write of one key that never loses a concurrent change: reads the entry,
 * applies `change` (which may throw an HttpError to refuse), commits with a versionstamp
 * check, and on a conflict starts again from a fresh read, replaying only this change.
 * `change` returns the atomic operation to commit (built on the given `atomic`), or null
 * when nothing needs writing.
 */
export async function updateWithCheck<T>(
  kv: Deno.Kv,
  key: Deno.KvKey,
  change: (
    entry: Deno.KvEntryMaybe<T>,
    atomic: Deno.AtomicOperation,
  ) => Deno.AtomicOperation | null,
  maxConflicts = 50,
): Promise<Deno.KvEntryMaybe<T>> {
  for (let conflict = 0; conflict < maxConflicts; conflict++) {
    const entry = await retrying(() => kv.get<T>(key));
    const op = change(entry, kv.atomic().check(entry));
    if (op === null) return entry;
    const result = await retrying(() => op.commit());
    if (result.ok) return entry;
    await conflictBackoff(conflict);
  }
  throw storeUnavailable();
}
