/** The janitor: what local KV's lazy expiry and `sum`'s dropped expireIn leave behind. */
import assert from "node:assert/strict";
import { testConfig } from "../lib/base/config.ts";
import { createGroupCommitter } from "../lib/sessions/group_commit.ts";
import { startJanitor, sweep } from "../lib/sessions/janitor.ts";
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
      janitor.stop();
    }
  } finally {
    kv.close();
  }
});
