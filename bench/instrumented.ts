/**
 * The app with an instrumented store, for `deno task bench` (bench/bench.ts starts it).
 *
 * The same `createApp` as main.ts, on a real KV file, but the KV handed to the app is the
 * shared KV proxy (tests/support/kv_proxy.ts), which counts what the app asks of the store
 * (`get`, `getMany`, `list`, single `set` and `delete`, and each `atomic().commit()` with
 * its mutations and checks), and the group
 * committer's `stats()` (batch sizes), from the app's sessions (`commitStats()`),
 * can be read from outside. Nothing in lib/ or routes/ is changed.
 *
 * `BENCH_STORE_LIMITS` picks the limits the app is told its store has: `local` (the
 * default, local SQLite's) or `remote` (KV Connect's and Deno Deploy's: 10 checks per
 * atomic). Either way the same proxy also refuses, and counts,
 * any call over those limits, so a batch that a stricter backend would refuse shows up
 * even on a local file.
 *
 *   PORT=8004 KV_PATH=/tmp/x.sqlite3 [BENCH_STORE_LIMITS=remote] deno run -A bench/instrumented.ts
 *
 * Besides the app's routes it answers:
 *   GET  /__bench/stats          what the store was asked since the last reset, the
 *                                committer's cumulative stats, the limits in use and how
 *                                many calls the limits proxy refused since the start
 *   POST /__bench/reset          zeroes the counts (not the committer's stats)
 *   GET  /__bench/session-bytes  with the request's session cookie: that session's keys in
 *                                the store with the size of each key and value
 */
import { serialize } from "node:v8";
import { type App, createApp } from "../lib/server/app.ts";
import { loadConfig, readEnv } from "../lib/base/config.ts";
import {
  LOCAL_LIMITS,
  REMOTE_LIMITS,
  type StoreLimits,
} from "../lib/base/store_limits.ts";
import { sha256Hex } from "../lib/base/crypto.ts";
import { cookieValues } from "../lib/sessions/session.ts";
import {
  sessionKey,
  userSessionKey,
  visitsKey,
} from "../lib/sessions/kv_store.ts";
import { userKey } from "../lib/accounts/records.ts";
import { openKv } from "../lib/server/serve.ts";
import { routes } from "../routes/_table.ts";
import { loadQuizDir } from "../lib/quiz/files.ts";
import {
  bucketOf,
  emptyCounts,
  kvProxy,
  type StoreCounts,
} from "../tests/support/kv_proxy.ts";

export { bucketOf, emptyCounts, type StoreCounts };

/** A Proxy around a real KV counting what is asked of it into `counts()`. */
export function countingKv(real: Deno.Kv) {
  const { kv, counts, reset } = kvProxy(real);
  return { kv, counts, reset };
}

const utf8 = new TextEncoder();

/**
 * Bytes of a key in Deno KV's key encoding (the FoundationDB tuple layer): a type byte per
 * part; strings and byte arrays end with 0x00 (inner 0x00 bytes are escaped to 2 bytes);
 * numbers take 8 bytes; bigints their magnitude plus a length byte; booleans nothing more.
 */
export function keyBytes(key: Deno.KvKey): number {
  let n = 0;
  for (const part of key) {
    if (typeof part === "string" || part instanceof Uint8Array) {
      const bytes = typeof part === "string" ? utf8.encode(part) : part;
      n += 2 + bytes.length + bytes.filter((b) => b === 0).length;
    } else if (typeof part === "number") n += 9;
    else if (typeof part === "bigint") {
      n += 2 + Math.ceil((part < 0n ? -part : part).toString(16).length / 2);
    } else n += 1;
  }
  return n;
}

/**
 * Bytes of a value as Deno KV stores it: a KvU64 as 8 bytes, a byte array as itself,
 * anything else in V8's serialization (what `node:v8`'s `serialize` writes).
 */
export function valueBytes(value: unknown): number {
  if (value instanceof Deno.KvU64) return 8;
  if (value instanceof Uint8Array) return value.length;
  return serialize(value).length;
}

/** The backends whose limits the instrumented app can be run under. */
export const STORE_LIMITS = {
  local: LOCAL_LIMITS,
  remote: REMOTE_LIMITS,
} satisfies Record<string, Readonly<StoreLimits>>;

export type StoreLimitsName = keyof typeof STORE_LIMITS;

/** `BENCH_STORE_LIMITS` as a name of STORE_LIMITS (unset or empty: local). */
export function storeLimitsName(raw: string | undefined): StoreLimitsName {
  if (!raw) return "local";
  if (!Object.hasOwn(STORE_LIMITS, raw)) {
    throw new Error(
      `BENCH_STORE_LIMITS must be ${
        Object.keys(STORE_LIMITS).join(" or ")
      }, got "${raw}"`,
    );
  }
  return raw as StoreLimitsName;
}

/**
 * The KV the instrumented app is given: one proxy (tests/support/kv_proxy.ts) that counts
 * what the app asks, refused calls included, and refuses what `limits` do not allow.
 */
export function instrumentedKv(real: Deno.Kv, limits: StoreLimits) {
  const { kv, counts, reset, refused } = kvProxy(real, { limits });
  return { kv, counts, reset, refused };
}

if (import.meta.main) {
  const config = loadConfig(readEnv());
  const limitsName = storeLimitsName(Deno.env.get("BENCH_STORE_LIMITS"));
  const limits = STORE_LIMITS[limitsName];
  const real = await openKv(config.kvPath);
  const counting = instrumentedKv(real, limits);
  const app: App = await createApp({
    config,
    kv: counting.kv,
    limits,
    log: () => {},
    routes,
    bank: await loadQuizDir(config.quizDir),
  });

  const sessionBytes = async (req: Request) => {
    const ids = cookieValues(req.headers.get("cookie"), config.cookieName);
    const cookie = ids[0] ?? "";
    const out: { key: string; keyBytes: number; valueBytes: number }[] = [];
    if (config.mode === "kv") {
      const handle = await sha256Hex(cookie);
      const keys: Deno.KvKey[] = [sessionKey(handle), visitsKey(handle)];
      const record = (await real.get<{ user: string | null }>(keys[0])).value;
      if (record?.user) {
        // The user record is per user, not per session; listed for comparison.
        keys.push(userSessionKey(record.user, handle), userKey(record.user));
      }
      for (const key of keys) {
        const entry = await real.get(key);
        if (entry.value === null) continue;
        out.push({
          key: key.map((p, i) =>
            i === 0 ? p : p === handle ? "<handle>" : "<user>"
          ).join("/"),
          keyBytes: keyBytes(key),
          valueBytes: valueBytes(entry.value),
        });
      }
    }
    return Response.json({
      mode: config.mode,
      cookieBytes: cookie.length,
      keys: out,
    });
  };

  Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: ({ port }) =>
      console.log(`instrumented app listening on ${port}`),
  }, async (req, info) => {
    const path = new URL(req.url).pathname;
    if (path === "/__bench/stats") {
      return Response.json({
        counts: counting.counts(),
        committer: app.services.sessions.commitStats() ?? null,
        limits: limitsName,
        refused: counting.refused(),
      });
    }
    if (path === "/__bench/reset") {
      counting.reset();
      return new Response(null, { status: 204 });
    }
    if (path === "/__bench/session-bytes") return await sessionBytes(req);
    return await app(req, info);
  });
}
