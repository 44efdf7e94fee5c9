import { retrying } from "../base/kv_util.ts";

/** Deno KV answers at most ten keys per getMany. */
const MAX_KEYS = 10;
/** Reads allowed in flight at once; more queue up and join the next merged read. */
const IN_FLIGHT = 2;

interface Waiter {
  keys: Deno.KvKey[];
  ids: string[];
  resolve: (entries: Deno.KvEntryMaybe<unknown>[]) => void;
  reject: (error: unknown) => void;
}

export interface GroupReader {
  /** Like `kv.getMany(keys)` (a consistent snapshot of these keys), possibly shared with other requests. */
  getMany(keys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<unknown>[]>;
}

/**
 * Group read: the `getMany`s of concurrent requests are merged (up to ten distinct keys,
 * e.g. the hit counter once plus each request's session and counter), so the store's one
 * SQLite thread and the JavaScript thread pay for one read instead of several. A read
 * queued after a write has been acknowledged is always issued after it, so a client
 * still reads its own writes.
 */
export function createGroupReader(kv: Deno.Kv): GroupReader {
  const queue: Waiter[] = [];
  let inFlight = 0;

  function pump() {
    while (inFlight < IN_FLIGHT && queue.length > 0) {
      const batch: Waiter[] = [];
      const index = new Map<string, number>();
      const keys: Deno.KvKey[] = [];
      while (queue.length > 0) {
        const w = queue[0];
        const fresh = w.ids.filter((id) => !index.has(id)).length;
        if (batch.length > 0 && keys.length + fresh > MAX_KEYS) break;
        queue.shift();
        batch.push(w);
        w.ids.forEach((id, i) => {
          if (!index.has(id)) {
            index.set(id, keys.length);
            keys.push(w.keys[i]);
          }
        });
      }
      inFlight++;
      retrying(() => kv.getMany(keys)).then(
        (entries) => {
          for (const w of batch) {
            w.resolve(w.ids.map((id) => entries[index.get(id)!]));
          }
        },
        (error) => {
          // The store is failing: whoever queued meanwhile gets the same answer now
          // instead of waiting out a timeout of their own.
          for (const w of [...batch, ...queue.splice(0)]) w.reject(error);
        },
      ).finally(() => {
        inFlight--;
        pump();
      });
    }
  }

  return {
    getMany(keys) {
      if (keys.length > MAX_KEYS) return retrying(() => kv.getMany(keys));
      return new Promise((resolve, reject) => {
        queue.push({
          keys,
          ids: keys.map((k) => JSON.stringify(k)),
          resolve,
          reject,
        });
        pump();
      });
    },
  };
}
