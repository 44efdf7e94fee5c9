/**
 * The floor for `deno task bench`: a bare `Deno.serve` doing only the store work that
 * mcq-edge's counted page view does in kv mode, and nothing else, so the report shows how
 * much of mcq-edge's cost is Deno KV's and how much is its own.
 *
 *   KV_PATH=/tmp/floor.kv.sqlite3 PORT=8009 deno run -A bench/peers/kv-floor/server.ts
 *
 * Every request's store work goes into one commit shared by the requests waiting (as the
 * app's group commit: 2 in flight, the second once 24 wait, at most 100 checks each), the
 * hits summed once per commit:
 * - a first visit: a random UUID v4 id, its SHA-256 handle as the key, the session record
 *   (the app's shape, with `expireIn`);
 * - a returning visit: the session as this process remembers it (no read, as the app's
 *   memory of a session seen within a second), a `sum` of its visit counter and checks of
 *   its session's and its counter's versionstamps. A request whose check fails reads again.
 * - A session it does not remember is read (its record and counter); none: a first visit.
 * - The answer: the app's security headers and a small page with the two counts.
 *
 * No routing, rendering, CSRF token, marker cookie, access log or store timeouts.
 */
import { createHash } from "node:crypto";

const COOKIE = "sessionId";
const IDLE_MS = 30 * 60 * 1000;
const HITS: Deno.KvKey = ["hits"];
const IN_FLIGHT = 2;
const SECOND_AT = 24;
const MAX_CHECKS = 100;
const HEADERS: [string, string][] = [
  ["content-type", "text/html; charset=utf-8"],
  ["cache-control", "no-store"],
  ["vary", "Cookie"],
  [
    "content-security-policy",
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  ],
  ["x-content-type-options", "nosniff"],
  ["referrer-policy", "strict-origin-when-cross-origin"],
  ["cross-origin-opener-policy", "same-origin"],
];
const UUID_V4 =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A session as this process last saw it stored. */
interface Known {
  handle: string;
  versionstamp: string;
  visitsVersionstamp: string | null;
  visits: number;
}

/** A request's share of a commit: its checks and its writes (the hit is summed per batch). */
interface Waiter {
  checks: Deno.AtomicCheck[];
  write: (atomic: Deno.AtomicOperation) => void;
  resolve: (versionstamp: string | null) => void;
}

const kv = await Deno.openKv(Deno.env.get("KV_PATH") || undefined);
const known = new Map<string, Known>();
let hits = Number((await kv.get<Deno.KvU64>(HITS)).value?.value ?? 0n);
const queue: Waiter[] = [];
let inFlight = 0;
let pumpQueued = false;

const handleOf = (id: string) => createHash("sha256").update(id).digest("hex");

/** The next batch in queue order, within local Deno KV's 100 checks per atomic. */
function takeBatch(): Waiter[] {
  let checks = 0;
  let n = 0;
  while (n < queue.length && checks + queue[n].checks.length <= MAX_CHECKS) {
    checks += queue[n++].checks.length;
  }
  return queue.splice(0, n);
}

function commitOf(
  batch: Waiter[],
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  const atomic = kv.atomic();
  for (const w of batch) {
    atomic.check(...w.checks);
    w.write(atomic);
  }
  return atomic.sum(HITS, BigInt(batch.length)).commit();
}

/** Commits what waits, within the in-flight bound; null to a waiter whose check failed. */
function pump() {
  pumpQueued = false;
  while (queue.length > 0 && inFlight < IN_FLIGHT) {
    if (inFlight > 0 && queue.length < SECOND_AT) return;
    const batch = takeBatch();
    inFlight++;
    commitOf(batch).then(async (result) => {
      if (result.ok) {
        hits += batch.length;
        for (const w of batch) w.resolve(result.versionstamp);
        return;
      }
      // Which check failed is not known: each commits on its own.
      for (const w of batch) {
        const alone = await commitOf([w]);
        if (alone.ok) hits++;
        w.resolve(alone.ok ? alone.versionstamp : null);
      }
    }).finally(() => {
      inFlight--;
      pump();
    });
  }
}

/** Queues a request's share of the next commit; its versionstamp, or null if stale. */
function commit(
  checks: Deno.AtomicCheck[],
  write: (atomic: Deno.AtomicOperation) => void,
): Promise<string | null> {
  return new Promise((resolve) => {
    queue.push({ checks, write, resolve });
    if (!pumpQueued && inFlight < IN_FLIGHT) {
      pumpQueued = true;
      queueMicrotask(pump);
    }
  });
}

/** A returning visit's share: its visit counted, its session and counter checked. */
function counted(k: Known): Promise<string | null> {
  const visits = ["visits", k.handle];
  return commit([
    { key: ["sessions", k.handle], versionstamp: k.versionstamp },
    { key: visits, versionstamp: k.visitsVersionstamp },
  ], (atomic) => atomic.sum(visits, 1n));
}

/** The stored session `handle` (record and counter), or null. */
async function read(handle: string): Promise<Known | null> {
  const [session, visits] = await kv.getMany<[unknown, Deno.KvU64]>([
    ["sessions", handle],
    ["visits", handle],
  ]);
  if (session.versionstamp === null) return null;
  return {
    handle,
    versionstamp: session.versionstamp,
    visitsVersionstamp: visits.versionstamp,
    visits: Number(visits.value?.value ?? 0n),
  };
}

async function firstVisit(req: Request): Promise<Response> {
  const id = crypto.randomUUID();
  const handle = handleOf(id);
  const now = Date.now();
  const record = {
    createdAt: now,
    lastSeenAt: now,
    user: null,
    csrf: handleOf(crypto.randomUUID()).slice(0, 43),
    userAgent: req.headers.get("user-agent")?.slice(0, 200) || undefined,
    data: {},
    visitsAtStart: 1,
  };
  const versionstamp = await commit(
    [],
    (atomic) => atomic.set(["sessions", handle], record, { expireIn: IDLE_MS }),
  );
  if (!versionstamp) return new Response("store refused", { status: 503 });
  known.set(id, {
    handle,
    versionstamp,
    visitsVersionstamp: null,
    // Counted in the record (visitsAtStart), as the app does: no counter row yet.
    visits: 0,
  });
  return page(1, [[
    "set-cookie",
    `${COOKIE}=${id}; Max-Age=${
      IDLE_MS / 1000
    }; Path=/; HttpOnly; SameSite=Lax`,
  ]]);
}

function page(visits: number, extra: [string, string][] = []): Response {
  return new Response(
    `<!doctype html><html><head><title>Visits</title></head><body>` +
      `<h1>Hello</h1><p>You have visited <span id="visits">${visits}</span> ` +
      `times; the site has had <span id="hits">${hits}</span> hits.</p></body></html>`,
    { headers: [...HEADERS, ...extra] },
  );
}

Deno.serve({
  hostname: Deno.env.get("HOST") || "127.0.0.1",
  port: Number(Deno.env.get("PORT") || 8009),
  onListen: ({ port }) => console.log(`kv floor listening on ${port}`),
}, async (req) => {
  const id = /(?:^|;\s*)sessionId=([^;]*)/.exec(req.headers.get("cookie") ?? "")
    ?.[1];
  if (!id || !UUID_V4.test(id)) return await firstVisit(req);
  let k = known.get(id) ?? await read(handleOf(id));
  for (let run = 0; k && run < 50; run++) {
    const versionstamp = await counted(k);
    if (versionstamp) {
      k.visitsVersionstamp = versionstamp;
      k.visits++;
      known.set(id, k);
      // The first counted visit is the record's; the rest are the counter's.
      return page(k.visits + 1);
    }
    k = await read(k.handle);
  }
  return k ? new Response("busy", { status: 503 }) : await firstVisit(req);
});
