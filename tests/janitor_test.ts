/** The janitor: what local KV's lazy expiry and `sum`'s dropped expireIn leave behind. */
import assert from "node:assert/strict";
import { testConfig } from "../lib/base/config.ts";
import { createGroupCommitter } from "../lib/sessions/group_commit.ts";
import {
  Janitor,
  JANITOR_LEASE_KEY,
  type JanitorLease,
  startJanitor,
  sweep,
} from "../lib/sessions/janitor.ts";
import { checkStoredShape } from "../lib/server/kv_shapes.ts";
import { HttpError } from "../lib/base/http_error.ts";
import type { SessionRecord } from "../lib/sessions/session.ts";
import {
  createKvSessionStore,
  newRecord,
  sessionKey,
  userSessionKey,
  visitsKey,
} from "../lib/sessions/kv_store.ts";
import { buildRequest, fakeClock } from "./helpers.ts";

const handle = (c: string) => c.repeat(64);

/** Stores a session as the app would (record, counter, user index), without the app. */
async function put(
  kv: Deno.Kv,
  h: string,
  record: SessionRecord,
  visits = 3n,
) {
  const atomic = kv.atomic()
    .set(sessionKey(h), record)
    .sum(visitsKey(h), visits);
  if (record.user) {
    atomic.set(userSessionKey(record.user, h), {
      createdAt: record.createdAt,
      lastSeenAt: record.lastSeenAt,
    });
  }
  await atomic.commit();
}

async function exists(kv: Deno.Kv, key: Deno.KvKey) {
  return (await kv.get(key)).versionstamp !== null;
}

Deno.test("sweep() removes expired sessions with their counters and index entries, and leaves live ones alone", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const config = testConfig();
    const t0 = 1_000_000_000_000;
    const now = t0 + 90_000_000; // 25 h later
    const idle = handle("a"); // last seen 31 min ago
    const old = handle("b"); // created 25 h ago, busy until now
    const live = handle("c");
    const liveUser = handle("d");
    await put(kv, idle, { ...newRecord(now - 1860_000), user: "ann" });
    await put(kv, old, { ...newRecord(t0), lastSeenAt: now - 1000 });
    await put(kv, live, newRecord(now - 60_000));
    await put(kv, liveUser, { ...newRecord(now - 600_000), user: "bob" });
    await kv.set(["sessions", handle("e")], "garbage");
    // Orphan counters: `sum` created them after their session was gone.
    await kv.atomic().sum(visitsKey(handle("f")), 5n).commit();
    await kv.atomic().sum(visitsKey(handle("0")), 1n).commit();
    await kv.atomic().sum(["hits"], 42n).commit();

    const result = await sweep(kv, config, now);
    assert.deepEqual(result, { sessions: 3, counters: 2 });

    for (const h of [idle, old, handle("e"), handle("f"), handle("0")]) {
      assert.equal(await exists(kv, sessionKey(h)), false, h);
      assert.equal(await exists(kv, visitsKey(h)), false, h);
    }
    assert.equal(await exists(kv, userSessionKey("ann", idle)), false);
    for (const h of [live, liveUser]) {
      assert.ok(await exists(kv, sessionKey(h)));
      assert.equal(
        ((await kv.get<Deno.KvU64>(visitsKey(h))).value)!.value,
        3n,
      );
    }
    assert.ok(await exists(kv, userSessionKey("bob", liveUser)));
    assert.equal(((await kv.get<Deno.KvU64>(["hits"])).value)!.value, 42n);

    // A second sweep finds nothing more.
    assert.deepEqual(await sweep(kv, config, now), {
      sessions: 0,
      counters: 0,
    });
  } finally {
    kv.close();
  }
});

Deno.test("sweep() keeps what the session store just wrote, and removes it once it has expired", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const clock = fakeClock();
    const config = testConfig();
    const store = createKvSessionStore({
      kv,
      config,
      now: clock.now,
      committer: createGroupCommitter(kv),
    });
    const { session } = await store.load(buildRequest("/"), false);
    await store.finish(session, new Headers(), true);
    assert.deepEqual(await sweep(kv, config, clock.now()), {
      sessions: 0,
      counters: 0,
    });
    clock.advance(1800);
    assert.deepEqual(await sweep(kv, config, clock.now()), {
      sessions: 1,
      counters: 0,
    });
    assert.equal(await exists(kv, sessionKey(session.handle)), false);
    assert.equal(await exists(kv, visitsKey(session.handle)), false);
  } finally {
    kv.close();
  }
});

Deno.test("sweep() handles more counters than one batch", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const live = handle("1");
    await put(kv, live, newRecord(0));
    for (let i = 0; i < 25; i++) {
      await kv.atomic().sum(visitsKey(i.toString(16).padStart(64, "0")), 1n)
        .commit();
    }
    const result = await sweep(kv, testConfig(), 1000);
    assert.deepEqual(result, { sessions: 0, counters: 25 });
    assert.ok(await exists(kv, visitsKey(live)));
  } finally {
    kv.close();
  }
});

Deno.test("startJanitor() sweeps soon after start and stop() cancels its timers", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await kv.atomic().sum(visitsKey(handle("f")), 1n).commit();
    const janitor = startJanitor(kv, testConfig(), () => 0, 60_000);
    try {
      const deadline = Date.now() + 5000;
      while (await exists(kv, visitsKey(handle("f")))) {
        assert.ok(Date.now() < deadline, "the first sweep never ran");
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await janitor.stop();
    }
  } finally {
    kv.close();
  }
});

/** Two janitors on one store, as two instances run them, on one injected clock. */
async function withTwoJanitors(
  fn: (
    a: Janitor,
    b: Janitor,
    kv: Deno.Kv,
    clock: ReturnType<typeof fakeClock>,
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "mcq-janitor-" });
  const path = `${dir}/kv.sqlite3`;
  // Each janitor has its own connection to the file, as separate processes would.
  const [kvA, kvB] = [await Deno.openKv(path), await Deno.openKv(path)];
  try {
    const clock = fakeClock();
    const config = testConfig();
    const opts = { everyMs: 60_000 };
    const a = new Janitor(kvA, config, clock.now, { ...opts, owner: "a" });
    const b = new Janitor(kvB, config, clock.now, { ...opts, owner: "b" });
    await fn(a, b, kvA, clock);
  } finally {
    kvA.close();
    kvB.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Leaves an orphan counter for the next sweep to remove. */
const litter = (kv: Deno.Kv, c: string) =>
  kv.atomic().sum(visitsKey(handle(c)), 1n).commit();

/** Which of the janitors swept in one interval, both ticking at once. */
async function whoSweeps(...janitors: Janitor[]): Promise<string[]> {
  const results = await Promise.all(janitors.map((j) => j.tick()));
  return janitors.filter((_, i) => results[i] !== null).map((j) => j.owner);
}

Deno.test("of two janitors on one store, only one sweeps in each interval, and the same one", async () => {
  await withTwoJanitors(async (a, b, kv, clock) => {
    const sweepers = new Set<string>();
    for (let interval = 0; interval < 5; interval++) {
      await litter(kv, "f");
      const swept = await whoSweeps(a, b);
      assert.equal(swept.length, 1, `interval ${interval}: ${swept}`);
      sweepers.add(swept[0]);
      assert.equal(await exists(kv, visitsKey(handle("f"))), false);
      clock.advance(60);
    }
    assert.equal(sweepers.size, 1, "the lease stays with its holder");
  });
});

Deno.test("when the janitor holding the lease stops, the other one sweeps at its next tick", async () => {
  await withTwoJanitors(async (a, b, kv, clock) => {
    assert.deepEqual(await whoSweeps(a), ["a"]);
    assert.deepEqual(await whoSweeps(b), []);
    await a.stop();
    assert.equal(await exists(kv, JANITOR_LEASE_KEY), false, "released");
    clock.advance(1);
    await litter(kv, "f");
    assert.deepEqual(await whoSweeps(a, b), ["b"]);
    assert.equal(await exists(kv, visitsKey(handle("f"))), false);
  });
});

Deno.test("when the janitor holding the lease dies, the other one takes over once the lease has lapsed", async () => {
  await withTwoJanitors(async (a, b, kv, clock) => {
    assert.deepEqual(await whoSweeps(a, b).then((s) => s.length), 1);
    const holder = (await kv.get<JanitorLease>(JANITOR_LEASE_KEY)).value!;
    const [dead, survivor] = holder.owner === "a" ? [a, b] : [b, a];
    // The holder dies: it never ticks or stops again. Until the lease lapses nobody sweeps.
    await litter(kv, "f");
    clock.advance(60);
    assert.deepEqual(await whoSweeps(survivor), []);
    assert.ok(await exists(kv, visitsKey(handle("f"))));
    clock.set(holder.expiresAt);
    assert.deepEqual(await whoSweeps(survivor), [survivor.owner]);
    assert.equal(await exists(kv, visitsKey(handle("f"))), false);
    // The lease is the survivor's now; the dead one's id no longer holds it.
    const lease = (await kv.get<JanitorLease>(JANITOR_LEASE_KEY)).value!;
    assert.equal(lease.owner, survivor.owner);
    assert.notEqual(lease.owner, dead.owner);
  });
});

Deno.test("a sweep whose lease can no longer be renewed stops, leaving the rest to the new holder", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    for (let i = 0; i < 1200; i += 100) {
      const atomic = kv.atomic();
      for (let j = i; j < i + 100; j++) {
        atomic.sum(visitsKey(j.toString(16).padStart(64, "0")), 1n);
      }
      await atomic.commit();
    }
    let renewals = 0;
    const lost = () => (renewals++, Promise.resolve(false));
    const result = await sweep(kv, testConfig(), 1000, lost);
    assert.equal(renewals, 1);
    assert.ok(result.counters < 1200, `${result.counters} removed`);
  } finally {
    kv.close();
  }
});

Deno.test("the lease key passes the admin API's shape check; anything else under it is refused", () => {
  const lease: JanitorLease = { owner: crypto.randomUUID(), expiresAt: 1 };
  checkStoredShape([...JANITOR_LEASE_KEY], lease, "janitor_lease");
  assert.throws(
    () => checkStoredShape([...JANITOR_LEASE_KEY], "mine", "janitor_lease"),
    (e: unknown) => e instanceof HttpError && e.status === 400,
  );
  assert.throws(
    () => checkStoredShape(["janitor_lease", "x"], lease, "janitor_lease/x"),
    (e: unknown) => e instanceof HttpError && e.status === 400,
  );
  // Well within the store's 2 KiB per key.
  assert.ok(JSON.stringify(JANITOR_LEASE_KEY).length < 100);
});

Deno.test("on Deno Deploy the janitor is one Deno.cron job every 10 minutes, whose run sweeps", async () => {
  const kv = await Deno.openKv(":memory:");
  const jobs: { name: string; schedule: string; run: () => Promise<void> }[] =
    [];
  const had = Object.getOwnPropertyDescriptor(Deno, "cron");
  Object.defineProperty(Deno, "cron", {
    configurable: true,
    writable: true,
    value: (
      name: string,
      schedule: string,
      _opts: unknown,
      run: () => Promise<void>,
    ) => {
      jobs.push({ name, schedule, run });
      return Promise.resolve();
    },
  });
  Deno.env.set("DENO_DEPLOYMENT_ID", "test");
  const janitor = startJanitor(kv, testConfig(), () => 0, 60_000);
  try {
    await litter(kv, "f");
    assert.deepEqual(jobs.map((j) => [j.name, j.schedule]), [
      ["mcq-edge janitor", "*/10 * * * *"],
    ]);
    await jobs[0].run();
    assert.equal(await exists(kv, visitsKey(handle("f"))), false);
  } finally {
    await janitor.stop();
    Deno.env.delete("DENO_DEPLOYMENT_ID");
    if (had) Object.defineProperty(Deno, "cron", had);
    else delete (Deno as { cron?: unknown }).cron;
    kv.close();
  }
});
