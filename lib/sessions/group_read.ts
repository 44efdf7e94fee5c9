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
  return new GroupRead(kv);
}

/** The reader {@link createGroupReader} describes: one per session store. */
export class GroupRead implements GroupReader {
  readonly #queue: Waiter[] = [];
  #inFlight = 0;

  constructor(private readonly kv: Deno.Kv) {}

  getMany(keys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<unknown>[]> {
    if (keys.length > MAX_KEYS) return retrying(() => this.kv.getMany(keys));
    return new Promise((resolve, reject) => {
      this.#queue.push({
        keys,
        ids: keys.map((k) => JSON.stringify(k)),
        resolve,
        reject,
      });
      this.#pump();
    });
  }

  #pump() {
    while (this.#inFlight < IN_FLIGHT && this.#queue.length > 0) {
      const { batch, index, keys } = this.#takeBatch();
      this.#inFlight++;
      retrying(() => this.kv.getMany(keys)).then(
        (entries) => {
          for (const w of batch) {
            w.resolve(w.ids.map((id) => entries[index.get(id)!]));
          }
        },
        (error) => {
          // The store is failing: whoever queued meanwhile gets the same answer now
          // instead of waiting out a timeout of their own.
          for (const w of [...batch, ...this.#queue.splice(0)]) w.reject(error);
        },
      ).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  /** The waiters at the head of the queue whose distinct keys fit in one read. */
  #takeBatch() {
    const queue = this.#queue;
    const batch: Waiter[] = [];
    /** Each key's id -> its place in `keys`. */
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
    return { batch, index, keys };
  }
}
