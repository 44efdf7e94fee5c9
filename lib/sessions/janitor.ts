import type { Config } from "../base/config.ts";
import { isNumber, isObject } from "../base/shapes.ts";
import { retrying, withTimeout } from "../base/kv_util.ts";
import { isAlive, isSessionRecord } from "./session.ts";
import { dropSession, sessionKey } from "./kv_store.ts";

export interface SweepResult {
  sessions: number;
  counters: number;
}

/**
 * Deletes what the store still holds for dead sessions: records whose timestamps say they
 * ended (local KV deletes expired keys lazily) and visit counters whose session is gone
 * (`sum` drops a key's `expireIn`, so counters do not expire on their own).
 * Each delete is checked against the session key, so a live session is never touched.
 */
export async function sweep(
  kv: Deno.Kv,
  config: Config,
  now: number,
  stillMine: () => Promise<boolean> = () => Promise.resolve(true),
): Promise<SweepResult> {
  const result: SweepResult = { sessions: 0, counters: 0 };
  let seen = 0;
  // Every 500 keys the lease is renewed; a janitor that lost it leaves the rest to the holder.
  const renewEvery500 = async () => ++seen % 500 !== 0 || await stillMine();
  for await (
    const entry of kv.list({ prefix: ["sessions"] }, { batchSize: 500 })
  ) {
    if (!await renewEvery500()) return result;
    const record = entry.value;
    if (isSessionRecord(record) && isAlive(record, config, now)) continue;
    const handle = String(entry.key[1]);
    const user = isSessionRecord(record) ? record.user : null;
    const op = dropSession(kv.atomic().check(entry), handle, user);
    if ((await op.commit()).ok) result.sessions++;
  }
  const pending: Deno.KvEntry<unknown>[] = [];
  const flush = async () => {
    const owners = await kv.getMany(
      pending.map((e) => sessionKey(String(e.key[1]))),
    );
    // Up to ten orphans per commit; each delete is checked against its counter and its
    // (absent) session, so a counter that moved or whose session came back is kept.
    const orphans = pending.filter((_, i) => owners[i].versionstamp === null);
    const deleteChecked = (
      atomic: Deno.AtomicOperation,
      counter: Deno.KvEntry<unknown>,
    ) =>
      atomic.check({
        key: sessionKey(String(counter.key[1])),
        versionstamp: null,
      }).check(counter)
        .delete(counter.key);
    if (
      orphans.length > 0 &&
      (await orphans.reduce(deleteChecked, kv.atomic()).commit()).ok
    ) {
      result.counters += orphans.length;
    } else {
      // One of them changed meanwhile: one commit each.
      for (const counter of orphans) {
        if ((await deleteChecked(kv.atomic(), counter).commit()).ok) {
          result.counters++;
        }
      }
    }
    pending.length = 0;
  };
  for await (
    const entry of kv.list({ prefix: ["visits"] }, { batchSize: 500 })
  ) {
    if (!await renewEvery500()) return result;
    pending.push(entry);
    if (pending.length === 10) await flush();
  }
  if (pending.length) await flush();
  return result;
}

/** Who sweeps: one janitor of all the instances on a store holds it at a time. */
export const JANITOR_LEASE_KEY = ["janitor_lease"] as const;

/** The lease's value: its holder (a random id per janitor) and when it lapses (epoch ms). */
export interface JanitorLease {
  owner: string;
  expiresAt: number;
}

/** Whether `v` is a {@link JanitorLease} (the admin API's shape check uses it too). */
export function isJanitorLease(v: unknown): v is JanitorLease {
  return isObject(v) && typeof v.owner === "string" && v.owner.length > 0 &&
    v.owner.length <= 256 && isNumber(v.expiresAt);
}

export interface JanitorOptions {
  /** Milliseconds between sweeps. */
  everyMs: number;
  /** How long a lease lasts unless renewed; by default two intervals. */
  leaseMs?: number;
  /** This janitor's id in the lease; random by default. */
  owner?: string;
}

/**
 * One janitor per instance; of all the janitors on one store, only the holder of the lease
 * sweeps. `tick()` takes or renews the lease (an atomic check of the key, so two janitors
 * cannot both win), and sweeps if it holds it; a holder that dies stops renewing, and its
 * lease lapses after `leaseMs`, when the next janitor's tick takes it over.
 */
export class Janitor {
  readonly owner: string;
  private readonly leaseMs: number;
  private stopped = false;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly config: Config,
    private readonly now: () => number,
    readonly opts: JanitorOptions,
  ) {
    this.owner = opts.owner ?? crypto.randomUUID();
    this.leaseMs = opts.leaseMs ?? 2 * opts.everyMs;
  }

  /** Takes the lease if it is free, lapsed or already this janitor's; renews it if so. */
  async acquire(): Promise<boolean> {
    if (this.stopped) return false;
    // Retried: another process on a shared file may hold SQLite's lock for a moment.
    const entry = await retrying(() => this.kv.get(JANITOR_LEASE_KEY));
    const lease = entry.value;
    const now = this.now();
    if (
      isJanitorLease(lease) && lease.owner !== this.owner &&
      lease.expiresAt > now
    ) return false;
    const value: JanitorLease = {
      owner: this.owner,
      expiresAt: now + this.leaseMs,
    };
    const result = await retrying(() =>
      this.kv.atomic().check(entry)
        .set(JANITOR_LEASE_KEY, value, { expireIn: this.leaseMs })
        .commit()
    );
    return result.ok;
  }

  /** One round: the swept counts if this janitor holds the lease, else null. */
  async tick(): Promise<SweepResult | null> {
    if (!(await this.acquire())) return null;
    return await sweep(this.kv, this.config, this.now(), () => this.acquire());
  }

  /**
   * Stops for good and hands the lease back, so another janitor can sweep at its next tick.
   * A store that does not answer within a second is left to let the lease lapse.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await withTimeout(this.release(), 1000).catch(() => {});
  }

  private async release(): Promise<void> {
    const entry = await retrying(() => this.kv.get(JANITOR_LEASE_KEY));
    if (!isJanitorLease(entry.value) || entry.value.owner !== this.owner) {
      return;
    }
    await retrying(() =>
      this.kv.atomic().check(entry).delete(JANITOR_LEASE_KEY).commit()
    );
  }
}

/** Deno Deploy, where `Deno.cron` runs one job per deployment instead of one per isolate. */
function onDeploy(): boolean {
  return typeof Deno.cron === "function" &&
    Deno.env.get("DENO_DEPLOYMENT_ID") !== undefined;
}

/** What `startJanitor` returns: `stop()` cancels its schedule and releases the lease. */
export interface RunningJanitor {
  stop(): Promise<void>;
}

/**
 * Starts this instance's janitor: on Deno Deploy a `Deno.cron` job every 10 minutes, elsewhere
 * a tick 1 s after start and then every `everyMs`. Only the lease holder sweeps; failures are
 * logged and retried next time.
 */
export function startJanitor(
  kv: Deno.Kv,
  config: Config,
  now: () => number,
  everyMs = 10 * 60_000,
): RunningJanitor {
  const janitor = new Janitor(kv, config, now, { everyMs });
  const run = async () => {
    try {
      const r = await janitor.tick();
      if (r && (r.sessions || r.counters)) {
        console.log(
          `janitor: removed ${r.sessions} sessions, ${r.counters} counters`,
        );
      }
    } catch (error) {
      console.error(`janitor: sweep failed: ${error}`);
    }
  };
  if (onDeploy()) {
    const abort = new AbortController();
    Deno.cron("mcq-edge janitor", "*/10 * * * *", {
      signal: abort.signal,
    }, run);
    return {
      async stop() {
        abort.abort();
        await janitor.stop();
      },
    };
  }
  const first = setTimeout(run, 1000);
  const timer = setInterval(run, everyMs);
  // The schedule alone does not keep a process alive: `deno serve` exits on SIGTERM once its
  // server has stopped, which it could not while an interval was pending.
  Deno.unrefTimer(first);
  Deno.unrefTimer(timer);
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await janitor.stop();
    },
  };
}
