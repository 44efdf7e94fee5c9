/** Paged listings of the store, for the admin API and the sessions task. */
import { HttpError } from "./http_error.ts";

/** A page of a listing, and where the next one starts (null: none). */
export interface Page<T> {
  items: T[];
  cursor: string | null;
}

export interface PageOptions {
  limit: number;
  cursor: string | undefined;
}

export const MAX_LIST_LIMIT = 1000;

/** `limit` (1..1000, default 100) and `cursor` from the query, validated. */
export function listOptions(url: URL): PageOptions {
  const rawLimit = url.searchParams.get("limit");
  if (rawLimit !== null && !/^\d{1,6}$/.test(rawLimit)) {
    throw new HttpError(400, "limit must be a whole number");
  }
  const limit = Math.min(MAX_LIST_LIMIT, Math.max(1, Number(rawLimit ?? 100)));
  const cursor = url.searchParams.get("cursor") || undefined;
  if (cursor !== undefined && !/^[A-Za-z0-9_\-+/=]{1,1024}$/.test(cursor)) {
    throw new HttpError(400, "Malformed cursor");
  }
  return { limit, cursor };
}

/** Runs a KV listing, turning a cursor the store rejects into a 400. */
export async function listPage<T>(
  kv: Deno.Kv,
  selector: Deno.KvListSelector,
  opts: PageOptions,
): Promise<{ entries: Deno.KvEntry<T>[]; cursor: string | null }> {
  const entries: Deno.KvEntry<T>[] = [];
  let iter: Deno.KvListIterator<T>;
  try {
    iter = kv.list<T>(selector, { limit: opts.limit, cursor: opts.cursor });
    for await (const entry of iter) entries.push(entry);
  } catch (error) {
    if (opts.cursor !== undefined) throw new HttpError(400, "Invalid cursor");
    throw error;
  }
  return {
    entries,
    cursor: entries.length === opts.limit && iter.cursor ? iter.cursor : null,
  };
}
