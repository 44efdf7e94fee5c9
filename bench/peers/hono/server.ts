/**
 * Peer for `deno task bench`: Hono with its session middleware (@hono/session) on Deno KV,
 * the Deno-native way to write this page.
 *
 *   KV_PATH=/tmp/hono.kv.sqlite3 PORT=8005 deno run -A bench/peers/hono/server.ts
 *
 * The `sessionId` cookie is @hono/session's encrypted JWT (JWE, A256GCM) holding the
 * session id; the session record is `["hono-sessions", id]` in KV (written once, at the
 * first visit, through the store adapter below). Visits (`["hono-visits", id]`) and the
 * site's hits (`["hono-hits"]`) are KV atomic sums, committed together, then read back:
 * none is lost, two KV round trips per returning visit besides the session read.
 */
import {
  type SessionEnv,
  type Storage,
  useSession,
  useSessionStorage,
} from "@hono/session";
import { Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";

const COOKIE = "sessionId";
/** Like connect-redis' default: a session record not written for a day is dropped. */
const SESSION_TTL_MS = 24 * 3600 * 1000;

interface Data extends Record<string, unknown> {
  created: number;
}

const kv = await Deno.openKv(Deno.env.get("KV_PATH") || undefined);

/**
 * @hono/session's store interface on Deno KV. It calls `set` without awaiting it, so a
 * visitor's next request could overtake the write of its new session: `get` waits for a
 * write of the same id still under way.
 */
function kvStorage(): Storage<Data> {
  const pending = new Map<string, Promise<unknown>>();
  const key = (sid: string) => ["hono-sessions", sid];
  const track = (sid: string, write: Promise<unknown>) => {
    const p = write.catch((e) => console.error("session write:", e))
      .finally(() => pending.get(sid) === p && pending.delete(sid));
    pending.set(sid, p);
  };
  return {
    async get(sid) {
      await pending.get(sid);
      return (await kv.get<Data>(key(sid))).value;
    },
    set(sid, value) {
      track(sid, kv.set(key(sid), value, { expireIn: SESSION_TTL_MS }));
    },
    delete(sid) {
      track(sid, kv.delete(key(sid)));
    },
  };
}

const app = new Hono<SessionEnv<Data>>();
app.use(
  useSessionStorage(kvStorage()),
  useSession<Data>({
    secret: Deno.env.get("SESSION_SECRET") ||
      "bench-peer-secret-not-for-production-0123456789",
    // The bench's cookie name (the middleware's own is `sid`).
    getCookie: (c) => getCookie(c, COOKIE),
    setCookie: (c, _name, value, opt) => setCookie(c, COOKIE, value, opt),
  }),
);

app.get("/", async (c) => {
  const session = c.var.session;
  if (!await session.get()) await session.update({ created: Date.now() });
  const visitsKey = ["hono-visits", session.id!];
  await kv.atomic().sum(visitsKey, 1n).sum(["hono-hits"], 1n).commit();
  const [visits, hits] = await kv.getMany<[Deno.KvU64, Deno.KvU64]>([
    visitsKey,
    ["hono-hits"],
  ]);
  return c.html(
    `<!doctype html><html><head><title>Visits</title></head><body>` +
      `<h1>Hello</h1><p>You have visited <span id="visits">${visits.value}</span> ` +
      `times; the site has had <span id="hits">${hits.value}</span> hits.</p></body></html>`,
  );
});

Deno.serve({
  hostname: Deno.env.get("HOST") || "127.0.0.1",
  port: Number(Deno.env.get("PORT") || 8005),
  onListen: ({ port }) => console.log(`hono peer listening on ${port}`),
}, app.fetch);
