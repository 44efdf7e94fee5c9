import type { Config } from "../base/config.ts";
import { isAlive, isSessionRecord, type SessionRecord } from "./session.ts";

/** A live session as the admin API and `deno task sessions` show it: never the id, only its handle. */
export interface SessionSummary {
  handle: string;
  user: string | null;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  data: SessionRecord["data"];
}

/** Describes a stored session, or null when it is dead (local KV deletes expired keys lazily). */
export function describeSession(
  entry: Deno.KvEntry<unknown>,
  config: Config,
  now: number,
): SessionSummary | null {
  const record = entry.value;
  if (!isSessionRecord(record) || !isAlive(record, config, now)) return null;
  const expiresAt = Math.min(
    record.lastSeenAt + config.idleTimeout * 1000,
    record.createdAt + config.absoluteTimeout * 1000,
  );
  return {
    handle: String(entry.key[1]),
    user: record.user,
    createdAt: new Date(record.createdAt).toISOString(),
    lastSeenAt: new Date(record.lastSeenAt).toISOString(),
    expiresAt: new Date(expiresAt).toISOString(),
    data: record.data,
  };
}
