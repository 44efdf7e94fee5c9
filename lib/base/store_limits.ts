/**
 * What one Deno KV call may carry, per backend. Every atomic the app builds stays within
 * these; a commit the store refuses anyway is split (lib/sessions/group_commit.ts), never failed whole.
 *
 * - Local SQLite (a file or `:memory:`): 100 checks and 1,000 mutations per atomic.
 * - KV Connect (a self-hosted denokv, `KV_PATH=http(s)://...`) and Deno Deploy: denokv's
 *   published limits (`proto/limits.rs` in denoland/denokv): 10 checks, 1,000 mutations,
 *   10 read ranges, 819,200 bytes of mutations per call. Deno's client refuses keys over
 *   2 KiB and values over 64 KiB on every backend.
 *
 * @module
 */

export interface StoreLimits {
  /** Versionstamp checks per atomic. */
  checks: number;
  /** Mutations (set, delete, sum) per atomic. */
  mutations: number;
  /** Ranges (keys of a getMany) per read. */
  readRanges: number;
  /** Bytes of one key, as written. */
  keyBytes: number;
  /** Bytes of one value. */
  valueBytes: number;
  /** Bytes of all keys and values of one atomic. */
  totalBytes: number;
  /** Group commits the app keeps in flight at once. */
  commitsInFlight: number;
  /** Requests waiting before another commit starts while one is in flight. */
  nextCommitAt: number;
}

export const LOCAL_LIMITS: Readonly<StoreLimits> = {
  checks: 100,
  mutations: 1000,
  readRanges: 10,
  keyBytes: 2048,
  valueBytes: 65536,
  totalBytes: 819_200,
  // SQLite runs one commit (one fsync) at a time: a second in flight only saves the gap
  // between two, and only pays once enough requests wait (lib/sessions/group_commit.ts).
  commitsInFlight: 2,
  nextCommitAt: 24,
};

export const REMOTE_LIMITS: Readonly<StoreLimits> = {
  ...LOCAL_LIMITS,
  checks: 10,
  // A remote commit is mostly the network's round trip, and a batch holds at most ten
  // checks: several commits in flight at once, as soon as anything waits.
  commitsInFlight: 8,
  nextCommitAt: 1,
};

/**
 * The limits of the store `KV_PATH` names: a file or `:memory:` is local SQLite; a KV
 * Connect URL, or no path at all (the platform's KV on Deno Deploy), is remote.
 */
export function limitsFor(kvPath: string | undefined): Readonly<StoreLimits> {
  return kvPath === undefined || /^https?:\/\//i.test(kvPath)
    ? REMOTE_LIMITS
    : LOCAL_LIMITS;
}

/** SQLite's transient lock errors, as Deno reports them. */
const BUSY = /database is (locked|busy)|SQLITE_BUSY/i;

/** How Deno's KV Connect client reports a 4xx answer of the server to a data call. */
const KV_CONNECT_REFUSAL =
  /^KV Connect failed to call '[^']*' \(status=4\d\d\b/;

/**
 * Whether `error`, thrown by a store call, is the store refusing the call itself (a limit
 * exceeded, a value of the wrong type for a `sum`): the same call would fail again, so it is
 * not retried. Deno throws these as TypeErrors when it checks them itself; what only a KV
 * Connect server checks (denokv's 10 checks per atomic, a `sum` on a stored string) comes
 * back as a plain Error for the server's 4xx answer.
 */
export function isRefusal(error: unknown): boolean {
  // Deno 2 throws SQLite's "database is locked" (another process writing the same file)
  // as a TypeError too: that one passes once the other writer is done.
  if (error instanceof Error && BUSY.test(error.message)) return false;
  return error instanceof TypeError || error instanceof RangeError ||
    (error instanceof Error && KV_CONNECT_REFUSAL.test(error.message));
}
