import { sha256Hex } from "./crypto.ts";
import { HttpError } from "./http_error.ts";

/** Limits for {@link createThrottle}; `now` is injected so tests control time. */
export interface ThrottleOptions {
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Failures per account before any delay (default 5). */
  accountFree?: number;
  /** First delay once the free failures are used up (default 1 s). */
  accountBaseMs?: number;
  /** Longest delay (default 15 min). */
  accountMaxMs?: number;
  /** An account's failures are forgotten this long after its last one (default 24 h). */
  accountResetMs?: number;
  /** Failures per address per window (default 50). */
  addressMax?: number;
  /** Length of the fixed address window (default 15 min). */
  addressWindowMs?: number;
}

/** Stored under `["throttle", "account", account]`. */
export interface AccountFailures {
  failures: number;
  lastFailureAt: number;
}

/** Stored under `["throttle", "address", address]`. */
export interface AddressFailures {
  count: number;
  windowStart: number;
}

/** What {@link createThrottle} returns. */
export interface Throttle {
  /** @throws HttpError 429 with `Retry-After` (seconds) while blocked. */
  check(account: string, address: string): Promise<void>;
  recordFailure(account: string, address: string): Promise<void>;
  /** Clears the account's failures; the address count stays. */
  recordSuccess(account: string): Promise<void>;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const MAX_COMMIT_ATTEMPTS = 30;
// KV keys are limited to 2 KiB; anything longer is keyed by its digest.
const MAX_KEY_PART = 256;

async function keyPart(value: string): Promise<string> {
  return value.length <= MAX_KEY_PART
    ? value
    : `sha256:${await sha256Hex(value)}`;
}

/**
 * Read-modify-write guarded by `atomic().check()`, retried so concurrent writers (on this
 * or another instance) never lose each other's increments.
 */
async function update<T>(
  kv: Deno.Kv,
  key: Deno.KvKey,
  change: (current: T | null) => { value: T; expireIn: number },
): Promise<void> {
  for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
    const entry = await kv.get<T>(key);
    const { value, expireIn } = change(entry.value);
    const result = await kv.atomic().check(entry).set(key, value, {
      expireIn: Math.max(1, Math.ceil(expireIn)),
    }).commit();
    if (result.ok) return;
    // Jitter spreads out writers that keep colliding.
    if (attempt >= 3) {
      await new Promise((r) =>
        setTimeout(r, Math.random() * 2 ** Math.min(attempt, 6))
      );
    }
  }
  // Fail closed: an uncounted failure must not let the attempt through quietly.
  throw new HttpError(503, "Service busy; try again", {}, {
    "Retry-After": "1",
  });
}

function positive(name: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be a whole number >= ${min}`);
  }
  return value;
}

type Limits = Required<Omit<ThrottleOptions, "now">>;

function readLimits(opts: ThrottleOptions): Limits {
  const limits: Limits = {
    accountFree: positive("accountFree", opts.accountFree ?? 5, 0),
    accountBaseMs: positive("accountBaseMs", opts.accountBaseMs ?? 1000),
    accountMaxMs: positive("accountMaxMs", opts.accountMaxMs ?? 15 * MINUTE),
    accountResetMs: positive("accountResetMs", opts.accountResetMs ?? DAY),
    addressMax: positive("addressMax", opts.addressMax ?? 50),
    addressWindowMs: positive(
      "addressWindowMs",
      opts.addressWindowMs ?? 15 * MINUTE,
    ),
  };
  // Otherwise a record could be forgotten while its delay is still running.
  if (limits.accountResetMs < limits.accountMaxMs) {
    throw new RangeError("accountResetMs must be >= accountMaxMs");
  }
  return limits;
}

/** The account's record, or null once it is forgotten. */
function liveAccount(l: Limits, v: AccountFailures | null, t: number) {
  return v && t - v.lastFailureAt < l.accountResetMs ? v : null;
}

/** The address's current window, or null once it has ended. */
function liveWindow(l: Limits, v: AddressFailures | null, t: number) {
  return v && t - v.windowStart < l.addressWindowMs ? v : null;
}

/** Milliseconds the account must still wait; 0 when it may try. */
function accountWait(l: Limits, v: AccountFailures | null, t: number): number {
  if (!v || v.failures < l.accountFree) return 0;
  const exponent = Math.min(v.failures - l.accountFree, 52);
  const delay = Math.min(l.accountMaxMs, l.accountBaseMs * 2 ** exponent);
  // min(): a clock that jumps backwards never lengthens the wait.
  return Math.max(0, Math.min(delay, v.lastFailureAt + delay - t));
}

function addressWait(l: Limits, v: AddressFailures | null, t: number): number {
  if (!v || v.count < l.addressMax) return 0;
  const left = v.windowStart + l.addressWindowMs - t;
  return Math.max(0, Math.min(l.addressWindowMs, left));
}

const accountKey = async (account: string): Promise<Deno.KvKey> => [
  "throttle",
  "account",
  await keyPart(account),
];

const addressKey = async (address: string): Promise<Deno.KvKey> => [
  "throttle",
  "address",
  await keyPart(address),
];

/**
 * Failed-login throttling kept in Deno KV, so every instance sees the same
 * counts. Per account: `accountFree` failures are free, then each attempt must
 * wait `accountBaseMs * 2^(failures - accountFree)` (at most `accountMaxMs`)
 * after the last failure. Per address: at most `addressMax` failures per fixed
 * window of `addressWindowMs`. Limits are computed from the stored timestamps;
 * `expireIn` only keeps the store bounded.
 *
 * `check()` only reads, so requests already past it when the limit is reached
 * are still verified; callers that want a hard cap under concurrency must
 * serialize attempts per account themselves.
 * @throws RangeError for limits that are not whole numbers in range.
 */
export function createThrottle(kv: Deno.Kv, opts: ThrottleOptions): Throttle {
  const { now } = opts;
  const l = readLimits(opts);

  return {
    async check(account, address) {
      const t = now();
      const [acc, addr] = await kv.getMany<[AccountFailures, AddressFailures]>([
        await accountKey(account),
        await addressKey(address),
      ]);
      const wait = Math.max(
        accountWait(l, liveAccount(l, acc.value, t), t),
        addressWait(l, liveWindow(l, addr.value, t), t),
      );
      if (wait > 0) {
        const seconds = Math.max(1, Math.ceil(wait / 1000));
        throw new HttpError(
          429,
          "Too many failed attempts; try again later",
          {},
          { "Retry-After": String(seconds) },
        );
      }
    },

    async recordFailure(account, address) {
      const [accKey, addrKey] = [
        await accountKey(account),
        await addressKey(address),
      ];
      await Promise.all([
        update<AccountFailures>(kv, accKey, (current) => {
          const t = now();
          const failures = (liveAccount(l, current, t)?.failures ?? 0) + 1;
          return {
            value: { failures, lastFailureAt: t },
            expireIn: l.accountResetMs,
          };
        }),
        update<AddressFailures>(kv, addrKey, (current) => {
          const t = now();
          const live = liveWindow(l, current, t);
          const value = live
            ? { count: live.count + 1, windowStart: live.windowStart }
            : { count: 1, windowStart: t };
          const left = value.windowStart + l.addressWindowMs - t;
          return { value, expireIn: Math.min(l.addressWindowMs, left) };
        }),
      ]);
    },

    async recordSuccess(account) {
      await kv.delete(await accountKey(account));
    },
  };
}
