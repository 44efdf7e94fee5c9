/** Group commit: concurrent blind writes share atomic commits, and each is durable when acknowledged. */
import assert from "node:assert/strict";
import {
  type BlindWrite,
  createGroupCommitter,
  SECOND_COMMIT_AT,
} from "../lib/sessions/group_commit.ts";
import { HttpError } from "../lib/base/http_error.ts";
import { LOCAL_LIMITS, REMOTE_LIMITS } from "../lib/base/store_limits.ts";
import { counter, type KvSpy, limitedKv, spyKv } from "./helpers.ts";

async function withKv(fn: (kv: Deno.Kv, spy: KvSpy) => Promise<void>) {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv, spyKv(kv));
  } finally {
    kv.close();
  }
}

const sum = (key: Deno.KvKey, n = 1n): BlindWrite => ({ kind: "sum", key, n });

Deno.test("concurrent writes are batched into fewer commits than writers", async () => {
  await withKv(async (kv) => {
    const committer = createGroupCommitter(kv);
    await Promise.all(
      Array.from({ length: 100 }, () => committer.write([sum(["hits"])])),
    );
    const stats = committer.stats();
    assert.ok(stats.commits < 100, `${stats.commits} commits`);
    assert.equal(stats.writes, 100);
    assert.ok(stats.largestBatch > 1);
    assert.equal(
      Object.values(stats.batchSizes).reduce((a, b) => a + b, 0),
      stats.commits,
    );
    assert.equal(await counter(kv, ["hits"]), 100);
  });
});

Deno.test("sums on one key are merged and sets of all writers land", async () => {
  await withKv(async (kv) => {
    const committer = createGroupCommitter(kv);
    await Promise.all(Array.from({ length: 50 }, (_, i) =>
      committer.write([
        sum(["hits"], BigInt(i)),
        sum(["visits", i % 2 ? "odd" : "even"]),
        { kind: "set", key: ["item", i], value: { i }, expireIn: 60_000 },
      ])));
    assert.equal(await counter(kv, ["hits"]), (49 * 50) / 2);
    assert.equal(await counter(kv, ["visits", "odd"]), 25);
    assert.equal(await counter(kv, ["visits", "even"]), 25);
    for (let i = 0; i < 50; i++) {
      assert.deepEqual((await kv.get(["item", i])).value, { i });
    }
  });
});

Deno.test("every write is in the store when its promise resolves", async () => {
  await withKv(async (kv) => {
    const committer = createGroupCommitter(kv);
    const checks: Promise<void>[] = [];
    for (let wave = 0; wave < 5; wave++) {
      for (let i = 0; i < 40; i++) {
        const key = ["w", wave, i];
        checks.push(
          committer.write([{ kind: "set", key, value: i }]).then(async () => {
            assert.notEqual((await kv.get(key)).versionstamp, null);
          }),
        );
      }
      await new Promise((r) => setTimeout(r, 0));
    }
    await Promise.all(checks);
  });
});

Deno.test("a batch stays within the store's mutation limit, so a big burst is split over several commits", async () => {
  await withKv(async (kv) => {
    const committer = createGroupCommitter(kv, {
      ...LOCAL_LIMITS,
      mutations: 200,
    });
    await Promise.all(
      Array.from(
        { length: 450 },
        (_, i) => committer.write([{ kind: "set", key: ["k", i], value: i }]),
      ),
    );
    const stats = committer.stats();
    assert.ok(stats.commits >= 3, `${stats.commits} commits`);
    assert.ok(stats.largestBatch <= 200);
    let n = 0;
    for await (const _ of kv.list({ prefix: ["k"] })) n++;
    assert.equal(n, 450);
  });
});

Deno.test("150 checked writers at once: local KV's 100 checks per atomic are never exceeded and all land", async () => {
  await withKv(async (kv) => {
    const committer = createGroupCommitter(kv, LOCAL_LIMITS);
    const results = await Promise.allSettled(
      Array.from(
        { length: 150 },
        (_, i) =>
          committer.write([sum(["hits"])], [{
            key: ["absent", i],
            versionstamp: null,
          }]),
      ),
    );
    assert.deepEqual(results.filter((r) => r.status === "rejected"), []);
    assert.equal(await counter(kv, ["hits"]), 150);
    assert.ok(committer.stats().commits >= 2);
  });
});

Deno.test("under KV Connect's limits (10 checks, 10 ranges per call) 100 checked writers all land", async () => {
  await withKv(async (kv) => {
    const limited = limitedKv(kv, REMOTE_LIMITS);
    const committer = createGroupCommitter(limited.kv, REMOTE_LIMITS);
    const results = await Promise.allSettled(
      Array.from(
        { length: 100 },
        (_, i) =>
          committer.write([sum(["hits"]), sum(["v", i])], [{
            key: ["absent", i],
            versionstamp: null,
          }]),
      ),
    );
    assert.deepEqual(results.filter((r) => r.status === "rejected"), []);
    assert.equal(await counter(kv, ["hits"]), 100);
    assert.equal(limited.refused(), 0);
    assert.ok(committer.stats().largestBatch <= 10);
  });
});

Deno.test("a batch the store refuses for a limit is split: only the writer at fault is refused, the others land", async () => {
  await withKv(async (kv) => {
    const committer = createGroupCommitter(kv);
    const writers = Array.from({ length: 40 }, (_, i) =>
      committer.write([
        sum(["hits"]),
        // 60 KB of JSON per writer would pass the per-value limit; one is over it.
        {
          kind: "set",
          key: ["v", i],
          value: "x".repeat(i === 17 ? 70_000 : 100),
        },
      ]));
    const results = await Promise.allSettled(writers);
    const refused = results.flatMap((r, i) =>
      r.status === "rejected" ? [i] : []
    );
    assert.deepEqual(refused, [17]);
    const reason = (results[17] as PromiseRejectedResult).reason;
    assert.ok(reason instanceof HttpError && reason.status === 413);
    assert.equal(await counter(kv, ["hits"]), 39);
    assert.equal((await kv.get(["v", 17])).versionstamp, null);
  });
});

Deno.test("local Deno KV applies the mutations before a failing sum: such a batch is answered 500 at once, never retried or split", async () => {
  await withKv(async (kv, spy) => {
    await kv.set(["broken"], "not a counter");
    // Deno's own behaviour, the reason a batch with a bad sum is never committed again.
    await assert.rejects(
      kv.atomic().sum(["before"], 1n).sum(["broken"], 1n).commit(),
      TypeError,
    );
    assert.equal(await counter(kv, ["before"]), 1);
    const committer = createGroupCommitter(spy.kv);
    const before = spy.calls.commit ?? 0;
    const results = await Promise.allSettled(
      Array.from(
        { length: 10 },
        () => committer.write([sum(["hits"]), sum(["broken"])]),
      ),
    );
    for (const r of results) {
      assert.equal(r.status, "rejected");
      const reason = (r as PromiseRejectedResult).reason;
      assert.ok(reason instanceof HttpError && reason.status === 500);
    }
    assert.equal((spy.calls.commit ?? 0) - before, 1);
  });
});

Deno.test("a writer whose own change is over the store's value limit gets a 413, and nothing of it is stored", async () => {
  await withKv(async (kv) => {
    const committer = createGroupCommitter(kv);
    const big = committer.write([{
      kind: "set",
      key: ["big"],
      value: "x".repeat(70_000),
    }, sum(["hits"])]);
    const small = committer.write([sum(["hits"])]);
    await assert.rejects(
      big,
      (e) => e instanceof HttpError && e.status === 413,
    );
    await small;
    assert.equal((await kv.get(["big"])).versionstamp, null);
    assert.equal(await counter(kv, ["hits"]), 1);
  });
});

Deno.test("an empty write resolves without a commit", async () => {
  await withKv(async (_kv, spy) => {
    const committer = createGroupCommitter(spy.kv);
    await committer.write([]);
    assert.equal(spy.calls.commit ?? 0, 0);
    assert.equal(committer.stats().commits, 0);
  });
});

Deno.test("a commit that fails a few times is retried and the writers succeed", async () => {
  await withKv(async (kv, spy) => {
    const committer = createGroupCommitter(spy.kv);
    spy.fail("commit", 2);
    await Promise.all(
      Array.from({ length: 10 }, () => committer.write([sum(["hits"])])),
    );
    assert.equal(await counter(kv, ["hits"]), 10);
  });
});

Deno.test("a commit that keeps throwing rejects the batch's writers with a 503, and later writes succeed", async () => {
  await withKv(async (kv, spy) => {
    const committer = createGroupCommitter(spy.kv);
    spy.fail("commit", Infinity);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => committer.write([sum(["hits"])])),
    );
    for (const result of results) {
      assert.equal(result.status, "rejected");
      const error = (result as PromiseRejectedResult).reason;
      assert.ok(error instanceof HttpError);
      assert.equal(error.status, 503);
      assert.ok(Number(error.headers["Retry-After"]) > 0);
    }
    assert.equal(await counter(kv, ["hits"]), 0);
    spy.heal();
    await committer.write([sum(["hits"])]);
    assert.equal(await counter(kv, ["hits"]), 1);
  });
});

Deno.test("writers queued behind a failing batch get their 503 at once, unwritten, and the next write succeeds", async () => {
  await withKv(async (kv, spy) => {
    const committer = createGroupCommitter(spy.kv);
    spy.fail("commit", Infinity);
    const first = committer.write([sum(["a"])]);
    // Queued while the first batch is still retrying.
    await new Promise((r) => setTimeout(r, 5));
    const second = committer.write([sum(["b"])]);
    const settled = Promise.allSettled([first, second]);
    const [a, b] = await settled;
    for (const result of [a, b]) {
      assert.equal(result.status, "rejected");
      const error = (result as PromiseRejectedResult).reason;
      assert.ok(error instanceof HttpError && error.status === 503);
    }
    // One batch's retries were spent, not a second round for the queued writer.
    assert.equal(spy.calls.commit, 4);
    spy.heal();
    await committer.write([sum(["c"])]);
    assert.equal(await counter(kv, ["a"]), 0);
    assert.equal(await counter(kv, ["b"]), 0);
    assert.equal(await counter(kv, ["c"]), 1);
  });
});

/** A KV whose commits wait until the test lets them go, one at a time, oldest first. */
function gatedKv(real: Deno.Kv) {
  const gates: (() => void)[] = [];
  let started = 0;
  const kv = new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "atomic") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return () => {
        const op = target.atomic();
        const proxy: Deno.AtomicOperation = new Proxy(op, {
          get(opTarget, name) {
            const method = Reflect.get(opTarget, name, opTarget);
            if (typeof method !== "function") return method;
            if (name === "commit") {
              return async () => {
                started++;
                await new Promise<void>((go) => gates.push(go));
                return opTarget.commit();
              };
            }
            return (...args: unknown[]) => {
              const result = method.apply(opTarget, args);
              return result === opTarget ? proxy : result;
            };
          },
        });
        return proxy;
      };
    },
  });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 10));
  return {
    kv,
    started: () => started,
    /** Lets the oldest waiting commit run, and waits for what follows from it. */
    async release() {
      gates.shift()?.();
      await settle();
    },
    settle,
  };
}

Deno.test("under load a second commit runs while one is in flight, never setting a key the first one sets", async () => {
  await withKv(async (real) => {
    const gated = gatedKv(real);
    const committer = createGroupCommitter(gated.kv);
    const set = (key: Deno.KvKey, value: unknown): BlindWrite => ({
      kind: "set",
      key,
      value,
    });
    const stamps = new Map<string, string | null>();
    const track = (name: string, p: Promise<string | null>) =>
      p.then((v) => void stamps.set(name, v));
    const all = [track("first", committer.write([set(["k"], 1)]))];
    await gated.settle();
    assert.equal(gated.started(), 1);
    // Fewer waiters than SECOND_COMMIT_AT wait for the commit in flight.
    for (let i = 0; i < SECOND_COMMIT_AT - 2; i++) {
      all.push(track(`sum${i}`, committer.write([sum(["n", i])])));
    }
    // One that sets the key the commit in flight sets.
    all.push(track("second", committer.write([set(["k"], 2)])));
    await gated.settle();
    assert.equal(gated.started(), 1, "no second commit yet");
    all.push(track("last", committer.write([sum(["n", "last"])])));
    await gated.settle();
    assert.equal(gated.started(), 2, "a second commit while the first runs");
    await gated.release();
    await gated.release();
    await gated.release();
    await Promise.all(all);
    assert.equal(gated.started(), 3);
    const second = stamps.get("second")!;
    const last = stamps.get("last")!;
    assert.notEqual(
      second,
      last,
      "the setter of k waited for the first commit",
    );
    assert.equal(
      stamps.get("sum0"),
      last,
      "the others shared the second commit",
    );
    assert.ok(second > last && last > stamps.get("first")!);
    assert.equal((await real.get(["k"])).value, 2);
    for (let i = 0; i < SECOND_COMMIT_AT - 2; i++) {
      assert.equal(await counter(real, ["n", i]), 1);
    }
  });
});
