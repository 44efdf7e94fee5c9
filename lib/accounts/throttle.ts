/**
 * Attempt throttling kept in Deno KV, so every instance sees the same counts.
 *
 * Three separate buckets, so one kind of flood cannot lock out another:
 * - `login`: per account, 5 free failures, then each attempt must wait a delay doubling
 *   from 1 s up to 15 min after the last failure, forgotten 24 h after it; per address,
 *   50 failures per fixed 15-minute window.
 * - `admin` (admin token guesses, keyed by address in both parts): 5 free failures, then
 *   1 s doubling up to 5 min; per address, 50 failures per 15 min.
 * - `register`: per address only, 30 registrations per fixed hour window (a class behind
 *   one NAT can sign up together; a flood pays for at most 30 password hashes an hour).
 *
 * Keys: `["throttle", bucket, "account", name]` and `["throttle", bucket, "address", ip]`,
 * a part longer than 256 characters replaced by its SHA-256 (KV keys are limited to
 * 2 KiB). Limits are computed from the stored timestamps; `expireIn` only keeps the
 * store bounded.
 *
 * An attempt first {@link Throttle.reserve}s its slot: one atomic commit, checked
 * against the versions it read and retried on conflict, that counts it as a failure of
 * the account and of the address BEFORE the password or token is looked at. N parallel
 * attempts therefore evaluate at most the free slots; the rest get 429 with
 * `Retry-After` without any hashing. A failed attempt simply keeps its slot as the
 * failure (so does one that ends in an unexpected error: fail closed). A successful one
 * calls {@link Throttle.succeeded}, which clears the account's failures and gives its
 * address slot back; a registration never gives its slot back. Every reservation is
 * {@link Throttle.settled} once judged. A login or admin attempt that finds its address's
 * window full while attempts of that address are still being judged in this process waits
 * (up to 10 s) for them instead of being refused: a right one gives its slot back to it,
 * so a class of 400 behind one NAT all log in at once, while a flood of wrong passwords
 * still gets exactly the address's free slots judged. An account's delay never waits. In
 * one process, an address's reservations take their turn one after another, so they
 * never conflict with each other.
 */
import { sha256Hex } from "../base/crypto.ts";
import { HttpError } from "../base/http_error.ts";
import { retrying } from "../base/kv_util.ts";

/** Which attempts share counts: each bucket has its own keys and defaults. */
export type Bucket = "login" | "admin" | "register";

/** Limits for {@link createThrottle}; `now` is injected so tests control time. */
export interface ThrottleOptions {
  /** Milliseconds since the epoch. */
  now: () => number;
  bucket: Bucket;
  /** Failures per account before any delay. */
  accountFree?: number;
  /** First delay once the free failures are used up. */
  accountBaseMs?: number;
  /** Longest delay. */
  accountMaxMs?: number;
  /** An account's failures are forgotten this long after its last one. */
  accountResetMs?: number;
  /** Attempts counted per address per window. */
  addressMax?: number;
  /** Length of the fixed address window. */
  addressWindowMs?: number;
}

/** Stored under `["throttle", bucket, "account", account]`. */
export interface AccountFailures {
  failures: number;
  lastFailureAt: number;
}

/** Stored under `["throttle", bucket, "address", address]`. */
export interface AddressFailures {
  count: number;
  windowStart: number;
}

/** A reserved attempt, to hand to {@link Throttle.succeeded} if it turns out right. */
export interface Reservation {
  readonly accountKey: Deno.KvKey | null;
  readonly addressKey: Deno.KvKey;
  /** The address window the slot was taken in: only that window gets it back. */
  readonly windowStart: number;
}

/** What {@link createThrottle} returns. */
export interface Throttle {
  /**
   * Counts one attempt from `address` (and against `account`, if given) as a failure,
   * atomically, before it is judged.
   * @throws HttpError 429 with `Retry-After` (seconds) while blocked; 503 if the store
   * keeps conflicting.
   */
  reserve(address: string, account?: string): Promise<Reservation>;
  /** The attempt was right: clears the account's failures, gives the address slot back. */
  succeeded(reservation: Reservation): Promise<void>;
  /**
   * The attempt has been judged (or has failed on the way): a wrong one keeps its slot.
   * Call it in a `finally` after every `reserve`; after `succeeded` it does nothing.
   */
  settled(reservation: Reservation): void;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MAX_COMMIT_ATTEMPTS = 30;
/** How long an attempt waits for its address's attempts being judged to free a slot. */
const MAX_QUEUE_MS = 10_000;
// KV keys are limited to 2 KiB; anything longer is keyed by its digest.
const MAX_KEY_PART = 256;

type Limits = Required<Omit<ThrottleOptions, "now" | "bucket">>;

const LOGIN: Limits = {
  accountFree: 5,
  accountBaseMs: 1000,
  accountMaxMs: 15 * MINUTE,
  accountResetMs: DAY,
  addressMax: 50,
  addressWindowMs: 15 * MINUTE,
};

const DEFAULTS: Record<Bucket, Limits> = {
  login: LOGIN,
  admin: { ...LOGIN, accountMaxMs: 5 * MINUTE },
  register: { ...LOGIN, addressMax: 30, addressWindowMs: HOUR },
};

const MESSAGES: Record<Bucket, string> = {
  login: "Too many failed attempts; try again later",
  admin: "Too many failed attempts; try again later",
  register: "Too many registrations from this address; try again later",
};

async function keyPart(value: string): Promise<string> {
  return value.length <= MAX_KEY_PART
    ? value
    : `sha256:${await sha256Hex(value)}`;
}

function positive(name: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be a whole number >= ${min}`);
  }
  return value;
}

function readLimits(opts: ThrottleOptions): Limits {
  const d = DEFAULTS[opts.bucket];
  if (!d) throw new RangeError(`unknown throttle bucket ${opts.bucket}`);
  const pick = (name: keyof Limits, min = 1) =>
    positive(name, opts[name] ?? d[name], min);
  const limits: Limits = {
    accountFree: pick("accountFree", 0),
    accountBaseMs: pick("accountBaseMs"),
    accountMaxMs: pick("accountMaxMs"),
    accountResetMs: pick("accountResetMs"),
    addressMax: pick("addressMax"),
    addressWindowMs: pick("addressWindowMs"),
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
  return windowLeft(l, v, t);
}

function windowLeft(l: Limits, v: AddressFailures, t: number): number {
  return Math.max(
    0,
    Math.min(l.addressWindowMs, v.windowStart + l.addressWindowMs - t),
  );
}

/** An attempt that may not be judged now; `byAddress`: only the address limit stops it. */
class Blocked extends Error {
  constructor(readonly waitMs: number, readonly byAddress: boolean) {
    super("blocked");
  }
}

function tooMany(bucket: Bucket, waitMs: number): HttpError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new HttpError(429, MESSAGES[bucket], {}, {
    "Retry-After": String(seconds),
  });
}

/** Spreads out writers that keep colliding. */
async function backOff(attempt: number): Promise<void> {
  if (attempt < 3) return;
  await new Promise((r) =>
    setTimeout(r, Math.random() * 2 ** Math.min(attempt, 6))
  );
}

type Entry<T> = Deno.KvEntryMaybe<T>;

/**
 * One try at taking a slot: the new records to commit.
 * @throws Blocked when either limit is reached. Pure, so the commit loop stays short.
 */
function nextRecords(
  l: Limits,
  acc: Entry<AccountFailures> | null,
  addr: Entry<AddressFailures>,
  t: number,
): { account: AccountFailures | null; address: AddressFailures } {
  const account = acc && liveAccount(l, acc.value, t);
  const window = liveWindow(l, addr.value, t);
  const byAccount = acc ? accountWait(l, account, t) : 0;
  const wait = Math.max(byAccount, addressWait(l, window, t));
  if (wait > 0) throw new Blocked(wait, byAccount === 0);
  return {
    account: acc
      ? { failures: (account?.failures ?? 0) + 1, lastFailureAt: t }
      : null,
    address: window
      ? { count: window.count + 1, windowStart: window.windowStart }
      : { count: 1, windowStart: t },
  };
}

/**
 * Creates the throttle for one bucket; unset limits take the bucket's defaults (see the
 * module comment).
 * @throws RangeError for limits that are not whole numbers in range.
 */
export function createThrottle(kv: Deno.Kv, opts: ThrottleOptions): Throttle {
  return new KvThrottle(kv, opts);
}

/** An address key as a map key. */
const turnId = (key: Deno.KvKey) => key.join("\u0000");

const expireIn = (ms: number) => ({ expireIn: Math.max(1, Math.ceil(ms)) });

/** The {@link Throttle} of one bucket, its counts in `kv`. */
export class KvThrottle implements Throttle {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;
  readonly #bucket: Bucket;
  readonly #limits: Limits;
  /**
   * The last turn queued per address key. An address's attempts in this process take
   * their turn one after the other (a read and a commit each, well under a millisecond),
   * so hundreds at once from one address (a class behind one NAT) never collide on its
   * record; only other instances' attempts can, and those are retried.
   */
  readonly #turns = new Map<string, Promise<void>>();
  /**
   * Per address key, this process's attempts reserved and not yet judged, and the attempts
   * waiting for one of them to be. Attempts of one address beyond its window that find
   * some of its own still being judged wait for those instead of being refused at once:
   * each right one gives its slot back (a class behind one NAT logging in together), each
   * wrong one keeps it (a flood still gets exactly the free slots judged).
   */
  readonly #judging = new Map<
    string,
    { count: number; wake: (() => void)[] }
  >();
  readonly #open = new WeakMap<Reservation, string>();

  /** @throws RangeError for limits that are not whole numbers in range. */
  constructor(kv: Deno.Kv, opts: ThrottleOptions) {
    this.#kv = kv;
    this.#now = opts.now;
    this.#bucket = opts.bucket;
    this.#limits = readLimits(opts);
  }

  async reserve(address: string, account?: string): Promise<Reservation> {
    const addressKey = await this.#key("address", address);
    const accountKey = account === undefined
      ? null
      : await this.#key("account", account);
    const id = turnId(addressKey);
    const giveUpAt = Date.now() + MAX_QUEUE_MS;
    for (;;) {
      try {
        const reservation = await this.#inTurn(id, async () => {
          for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
            const reservation = await this.#tryReserve(addressKey, accountKey);
            if (reservation) return reservation;
            await backOff(attempt);
          }
          // Fail closed: an attempt that could not be counted is not judged.
          throw new HttpError(503, "Service busy; try again", {}, {
            "Retry-After": "1",
          });
        });
        // A registration's slot never comes back: nothing to wait for.
        if (this.#bucket === "register") return reservation;
        const judging = this.#judging.get(id) ?? { count: 0, wake: [] };
        judging.count++;
        this.#judging.set(id, judging);
        this.#open.set(reservation, id);
        return reservation;
      } catch (error) {
        if (!(error instanceof Blocked)) throw error;
        const left = giveUpAt - Date.now();
        const judging = this.#judging.get(id);
        if (!error.byAddress || !judging) {
          throw tooMany(this.#bucket, error.waitMs);
        }
        // Its own attempts are still being judged: worth trying again soon.
        if (left <= 0) throw tooMany(this.#bucket, 1000);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          judging.wake.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    }
  }

  settled(r: Reservation): void {
    const id = this.#open.get(r);
    if (id === undefined) return;
    this.#open.delete(r);
    const judging = this.#judging.get(id)!;
    if (--judging.count === 0) this.#judging.delete(id);
    // Each waiter tries again: right attempts may have given slots back.
    for (const wake of judging.wake.splice(0)) wake();
  }

  async succeeded(r: Reservation): Promise<void> {
    let released;
    try {
      released = await this.#inTurn(turnId(r.addressKey), async () => {
        for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
          if (await this.#tryRelease(r)) return true;
          await backOff(attempt);
        }
        return false;
      });
    } finally {
      this.settled(r);
    }
    if (released) return;
    // The slot stays counted; the account is still cleared, as a right attempt should.
    const { accountKey } = r;
    if (accountKey) await retrying(() => this.#kv.delete(accountKey));
  }

  /** Runs `work` once the address's earlier turns in this process have ended. */
  async #inTurn<T>(id: string, work: () => Promise<T>): Promise<T> {
    const before = this.#turns.get(id) ?? Promise.resolve();
    let done!: () => void;
    const turn = new Promise<void>((resolve) => done = resolve);
    const queued = before.then(() => turn);
    this.#turns.set(id, queued);
    await before;
    try {
      return await work();
    } finally {
      done();
      // The last in line leaves no entry behind.
      if (this.#turns.get(id) === queued) this.#turns.delete(id);
    }
  }

  async #key(kind: string, value: string): Promise<Deno.KvKey> {
    return ["throttle", this.#bucket, kind, await keyPart(value)];
  }

  /** One read and one checked commit: the reservation, or null on a conflict. */
  async #tryReserve(
    addressKey: Deno.KvKey,
    accountKey: Deno.KvKey | null,
  ): Promise<Reservation | null> {
    const kv = this.#kv;
    const l = this.#limits;
    const [addr, acc] = await retrying(async () =>
      accountKey
        ? await kv.getMany<[AddressFailures, AccountFailures]>([
          addressKey,
          accountKey,
        ])
        : [await kv.get<AddressFailures>(addressKey), null] as const
    );
    const t = this.#now();
    const next = nextRecords(l, acc, addr, t);
    const result = await retrying(() => {
      const op = kv.atomic().check(addr).set(
        addressKey,
        next.address,
        expireIn(windowLeft(l, next.address, t)),
      );
      if (acc && next.account) {
        op.check(acc).set(acc.key, next.account, expireIn(l.accountResetMs));
      }
      return op.commit();
    });
    if (!result.ok) return null;
    return { accountKey, addressKey, windowStart: next.address.windowStart };
  }

  /** Clears the account and gives the slot back in one checked commit; false on a conflict. */
  async #tryRelease(r: Reservation): Promise<boolean> {
    const kv = this.#kv;
    const l = this.#limits;
    const addr = await retrying(() => kv.get<AddressFailures>(r.addressKey));
    const t = this.#now();
    const window = liveWindow(l, addr.value, t);
    const result = await retrying(() => {
      const op = kv.atomic();
      if (r.accountKey) op.delete(r.accountKey);
      // A slot taken in a window that has since ended is not given to the next one.
      if (window && window.windowStart === r.windowStart && window.count > 0) {
        const value = { count: window.count - 1, windowStart: r.windowStart };
        op.check(addr).set(
          r.addressKey,
          value,
          expireIn(windowLeft(l, value, t)),
        );
      }
      return op.commit();
    });
    return result.ok;
  }
}
