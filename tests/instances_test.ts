/**
 * Several app processes on one shared store, as a user meets them behind a load balancer:
 * a KV Connect endpoint (denokv's engine, tests/support/kv_connect.ts) or one local KV
 * file. Whichever instance serves a request, sessions, logins, logouts, answers and
 * counters are the same; a remembered session is verified, so no instance acts on a
 * session another one has ended.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../lib/base/crypto.ts";
import { KNOWN_TTL_MS } from "../lib/sessions/memory.ts";
import { HITS_KEY } from "../lib/sessions/session.ts";
import { isRefusal } from "../lib/base/store_limits.ts";
import {
  ADMIN_TOKEN,
  counter,
  type Server,
  startServer,
  storedVisits,
} from "./helpers.ts";
import { startKvConnect } from "./support/kv_connect.ts";
import { RemoteVisitor } from "./support/remote_visitor.ts";

type Store = "KV Connect" | "one KV file";
const PASSWORD = "correct horse battery";

interface Cluster {
  urls: string[];
  servers: Server[];
  /** The shared store, opened by the test to look at what was stored. */
  kv: Deno.Kv;
}

/** Starts the shared store and `n` instances on it; stops all and checks their logs after. */
async function withCluster(
  store: Store,
  n: number,
  fn: (c: Cluster) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mcq-instances-" });
  const endpoint = store === "KV Connect" ? await startKvConnect() : null;
  const env: Record<string, string> = {
    KV_PATH: endpoint?.url ?? `${dir}/shared.sqlite3`,
    PBKDF2_ITERATIONS: "1000",
    ADMIN_TOKEN,
  };
  if (endpoint) env.DENO_KV_ACCESS_TOKEN = endpoint.token;
  Deno.env.set("DENO_KV_ACCESS_TOKEN", endpoint?.token ?? "");
  const servers: Server[] = [];
  let kv: Deno.Kv | undefined;
  try {
    for (let i = 0; i < n; i++) servers.push(await startServer(env));
    kv = await Deno.openKv(env.KV_PATH);
    await fn({ urls: servers.map((s) => s.url), servers, kv });
  } finally {
    kv?.close();
    const statuses = await Promise.all(servers.map((s) => s.stop()));
    await endpoint?.stop();
    await Deno.remove(dir, { recursive: true });
    for (const [i, status] of statuses.entries()) {
      const out = servers[i].output();
      if (status.signal !== "SIGKILL") assert.equal(status.code, 0, out);
      const bad = out.split("\n").filter((l) =>
        /failed|error|giving up|locked|\s5\d\d\s/i.test(l)
      );
      assert.deepEqual(bad, [], `instance ${i} logged errors`);
    }
  }
}

/** Registers (or logs in) `v` as `username` through `base`. */
async function logIn(
  v: RemoteVisitor,
  base: string,
  username: string,
  mode: "register" | "login" = "login",
): Promise<void> {
  const res = await v.post(base, `/api/${mode}`, {
    username,
    password: PASSWORD,
  });
  assert.equal(res.status, 200, JSON.stringify(res.json));
}

async function handleOf(v: RemoteVisitor): Promise<string> {
  assert.ok(v.id, "no session cookie");
  return await sha256Hex(v.id);
}

for (
  const [store, n] of [["KV Connect", 2], ["KV Connect", 4], [
    "one KV file",
    2,
  ]] as const
) {
  Deno.test(`one cookie moving between ${n} instances on ${store} counts every visit exactly`, async () => {
    await withCluster(store, n, async ({ urls, kv }) => {
      const v = new RemoteVisitor();
      const rounds = 3 * n;
      for (let i = 0; i < rounds; i++) {
        const me = await v.me(urls[i % n]);
        // What an instance remembers is verified: a visit another one counted meanwhile
        // makes it read again, so every visit shows the exact count.
        assert.equal(me.visits, i + 1, `visit ${i + 1} shown as ${me.visits}`);
      }
      assert.equal(await storedVisits(kv, await handleOf(v)), rounds);
      assert.equal(await counter(kv, HITS_KEY), rounds);
      // Once memories have lapsed, every instance shows the exact count.
      await new Promise((r) => setTimeout(r, KNOWN_TTL_MS + 100));
      for (let i = 0; i < n; i++) {
        assert.equal((await v.me(urls[i])).visits, rounds + i + 1);
      }
    });
  });
}

for (const store of ["KV Connect", "one KV file"] as const) {
  Deno.test(`on ${store}, a login or logout on one instance holds on the other at once`, async () => {
    await withCluster(store, 2, async ({ urls: [a, b] }) => {
      const v = new RemoteVisitor();
      // Both instances now remember the session as anonymous.
      assert.equal(await v.user(a), null);
      assert.equal(await v.user(b), null);
      await logIn(v, a, "alice", "register");
      assert.equal(await v.user(b), "alice", "B sees the login at once");
      assert.equal(await v.user(a), "alice");
      const out = await v.post(b, "/api/logout", {});
      assert.equal(out.status, 200);
      assert.equal(await v.user(a), null, "A sees the logout at once");

      // The old session cookie, replayed on A right after the logout, is not alice either.
      const phone = new RemoteVisitor();
      await logIn(phone, a, "alice");
      const stolen = new RemoteVisitor();
      stolen.jar.set("sessionId", phone.id!);
      assert.equal(await stolen.user(b), "alice");
      assert.equal((await phone.post(a, "/api/logout", {})).status, 200);
      assert.equal(await stolen.user(b), null, "B refuses the ended session");
    });
  });
}

Deno.test('on KV Connect, "log out everywhere else" and an admin revoke hold on every instance at once', async () => {
  await withCluster("KV Connect", 2, async ({ urls: [a, b] }) => {
    const phone = new RemoteVisitor();
    const laptop = new RemoteVisitor();
    const tablet = new RemoteVisitor();
    await logIn(phone, a, "alice", "register");
    await logIn(laptop, b, "alice");
    await logIn(tablet, a, "alice");
    // Every instance remembers every session.
    for (const base of [a, b]) {
      for (const device of [phone, laptop, tablet]) {
        assert.equal(await device.user(base), "alice");
      }
    }
    await laptop.page(b, "/account");
    const ended = await laptop.form(b, "/account/sessions", { end: "others" });
    assert.equal(ended.status, 303);
    for (const base of [a, b]) {
      assert.equal(await phone.user(base), null);
      assert.equal(await tablet.user(base), null);
      assert.equal(await laptop.user(base), "alice");
    }

    const handle = await handleOf(laptop);
    const revoke = await fetch(`${a}/admin/sessions/${handle}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    await revoke.body?.cancel();
    assert.equal(revoke.status, 200);
    assert.equal(await laptop.user(b), null, "B honours A's revoke at once");
    assert.equal(await laptop.user(a), null);
  });
});

interface Question {
  id: string;
}

async function firstQuiz(
  base: string,
): Promise<{ quizId: string; questions: Question[] }> {
  const [{ id: quizId }] = await (await fetch(`${base}/api/quizzes`)).json();
  const quiz = await (await fetch(`${base}/api/quizzes/${quizId}`)).json();
  return { quizId, questions: quiz.questions };
}

Deno.test("on KV Connect, each question answered through both instances at once is scored once", async () => {
  await withCluster("KV Connect", 2, async ({ urls, kv }) => {
    const { quizId, questions } = await firstQuiz(urls[0]);
    const v = new RemoteVisitor();
    await v.me(urls[0]);
    for (const q of questions) {
      const results = await Promise.all(
        urls.map((base) =>
          v.post(base, `/api/quizzes/${quizId}/answers`, {
            questionId: q.id,
            choice: 0,
          })
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 409], `question ${q.id}`);
    }
    const me = await v.me(urls[1]);
    assert.equal(me.scores[quizId].answered, questions.length);
    // Counted: the first visit, one answer per question, the last visit.
    assert.equal(
      await storedVisits(kv, await handleOf(v)),
      questions.length + 2,
    );
  });
});

for (const store of ["KV Connect", "one KV file"] as const) {
  Deno.test(`200 visitors at once over 2 instances on ${store} all get answers and exact counters`, async () => {
    await withCluster(store, 2, async ({ urls, kv }) => {
      const visitors = Array.from({ length: 200 }, () => new RemoteVisitor());
      const statuses: number[] = [];
      await Promise.all(visitors.map(async (v, i) => {
        for (let visit = 0; visit < 3; visit++) {
          const res = await v.fetch(urls[(i + visit) % 2], "/api/me");
          await res.body?.cancel();
          statuses.push(res.status);
        }
      }));
      assert.deepEqual(new Set(statuses), new Set([200]));
      for (const v of visitors) {
        assert.equal(await storedVisits(kv, await handleOf(v)), 3);
      }
      assert.equal(await counter(kv, HITS_KEY), 600);
    });
  });
}

Deno.test("kill -9 of one of two instances on KV Connect under load loses nothing acknowledged", async () => {
  await withCluster("KV Connect", 2, async ({ urls, servers, kv }) => {
    const { quizId, questions } = await firstQuiz(urls[1]);
    const visitors = Array.from({ length: 20 }, () => ({
      v: new RemoteVisitor(),
      acknowledged: [] as string[],
      attempted: 0,
    }));
    for (const [i, { v }] of visitors.entries()) await v.me(urls[i % 2]);
    let hitsAcknowledged = 2 + visitors.length; // the two quiz reads, the first visits
    let hitsAttempted = hitsAcknowledged;
    // A is killed once it has acknowledged a fifth of its share, with the rest in flight.
    let onA = 0;
    let midway!: () => void;
    const halfwayOnA = new Promise<void>((r) => midway = r);
    const load = Promise.all(visitors.map(async (s, i) => {
      for (const [n, q] of questions.entries()) {
        s.attempted++;
        hitsAttempted++;
        try {
          const res = await s.v.post(
            urls[(i + n) % 2],
            `/api/quizzes/${quizId}/answers`,
            { questionId: q.id, choice: 0 },
          );
          if (res.status === 200) {
            s.acknowledged.push(q.id);
            hitsAcknowledged++;
            if ((i + n) % 2 === 0 && ++onA === 20) midway();
          }
        } catch { /* killed before it answered: attempted only */ }
      }
    }));
    await Promise.race([halfwayOnA, load]);
    await servers[0].stop("SIGKILL");
    await load;
    const acknowledged = visitors.reduce(
      (n, s) => n + s.acknowledged.length,
      0,
    );
    const attempted = visitors.reduce((n, s) => n + s.attempted, 0);
    assert.ok(
      acknowledged > 0 && acknowledged < attempted,
      `the kill came mid-load: ${acknowledged} of ${attempted} acknowledged`,
    );

    const hits = await counter(kv, HITS_KEY);
    assert.ok(
      hits >= hitsAcknowledged && hits <= hitsAttempted,
      `hits ${hits}, acknowledged ${hitsAcknowledged}, attempted ${hitsAttempted}`,
    );
    await new Promise((r) => setTimeout(r, KNOWN_TTL_MS + 100));
    for (const s of visitors) {
      const visits = await storedVisits(kv, await handleOf(s.v));
      assert.ok(
        visits >= 1 + s.acknowledged.length && visits <= 1 + s.attempted,
        `visits ${visits}, acknowledged ${s.acknowledged.length}`,
      );
      const answered = (await s.v.me(urls[1])).scores[quizId]?.answered ?? 0;
      assert.ok(answered >= s.acknowledged.length && answered <= s.attempted);
      for (const questionId of s.acknowledged) {
        const again = await s.v.post(
          urls[1],
          `/api/quizzes/${quizId}/answers`,
          {
            questionId,
            choice: 0,
          },
        );
        assert.equal(again.status, 409, "an acknowledged answer is stored");
      }
    }
  });
});

Deno.test('SQLite\'s "database is locked", which Deno throws as a TypeError, is waited out, not refused', () => {
  assert.equal(isRefusal(new TypeError("database is locked")), false);
  assert.equal(isRefusal(new TypeError("Too many checks (max 10)")), true);
});
