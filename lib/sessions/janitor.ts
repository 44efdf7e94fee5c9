import type { Config } from "../base/config.ts";
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
): Promise<SweepResult> {
  const result: SweepResult = { sessions: 0, counters: 0 };
  for await (
    const entry of kv.list({ prefix: ["sessions"] }, { batchSize: 500 })
  ) {
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
    pending.push(entry);
    if (pending.length === 10) await flush();
  }
  if (pending.length) await flush();
  return result;
}

/** Sweeps at start and then every `everyMs`; failures are logged and retried next time. */
export function startJanitor(
  kv: Deno.Kv,
  config: Config,
  now: () => number,
  everyMs = 10 * 60_000,
) {
  const run = () =>
    sweep(kv, config, now()).then(
      (r) =>
        (r.sessions || r.counters) &&
        console.log(
          `janitor: removed ${r.sessions} sessions, ${r.counters} counters`,
        ),
      (error) => console.error(`janitor: sweep failed: ${error}`),
    );
  const first = setTimeout(run, 1000);
  const timer = setInterval(run, everyMs);
  return {
    stop() {
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
