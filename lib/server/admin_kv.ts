/**
 * The admin key-value API over the store: keys as their parts, values as JSON. Writes are
 * checked against the shapes of the app's own key families, and tell the sessions to forget
 * what they remember (a write behind their back).
 */
import { HttpError } from "../base/http_error.ts";
import { listPage, type Page, type PageOptions } from "../base/list.ts";
import type { Sessions } from "../sessions/mod.ts";
import { formatKey } from "./admin.ts";
import { checkStoredShape } from "./kv_shapes.ts";

export class AdminKv {
  constructor(
    private readonly kv: Deno.Kv,
    private readonly sessions: Sessions,
    private readonly log: (line: string) => void,
  ) {}

  /** A page of the keys under `prefix` (whole parts). */
  async keys(prefix: string[], page: PageOptions): Promise<Page<Deno.KvKey>> {
    const { entries, cursor } = await listPage(this.kv, { prefix }, page);
    return { items: entries.map((e) => e.key), cursor };
  }

  /** The entry under `key`, or a 404. */
  async get(key: string[]): Promise<Deno.KvEntry<unknown>> {
    const entry = await this.kv.get(key);
    if (entry.versionstamp === null) throw new HttpError(404, "No such key");
    return entry;
  }

  /** Sets `key`; 400 for a value of the wrong shape for its family, or one the store refuses. */
  async set(key: string[], value: unknown): Promise<void> {
    checkStoredShape(key, value, formatKey(key));
    try {
      await this.kv.set(key, value);
    } catch (error) {
      throw new HttpError(
        400,
        `The store refused this key or value: ${(error as Error).message}`,
      );
    }
    this.sessions.invalidate();
    this.log(`admin: set ${formatKey(key)}`);
  }

  /** Deletes `key` and returns what it held, or a 404. */
  async delete(key: string[]): Promise<Deno.KvEntry<unknown>> {
    const entry = await this.get(key);
    await this.kv.atomic().check(entry).delete(key).commit();
    this.sessions.invalidate();
    this.log(`admin: deleted ${formatKey(key)}`);
    return entry;
  }
}
