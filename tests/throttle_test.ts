import assert from "node:assert/strict";
import { HttpError } from "../lib/http_error.ts";
import { createThrottle, type ThrottleOptions } from "../lib/throttle.ts";

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** Runs `fn` with a fresh in-memory KV and a clock the test moves by hand. */
async function withThrottle(
  fn: (ctx: {
    kv: Deno.Kv;
    throttle: ReturnType<typeof createThrottle>;
    setTime: (ms: number) => void;
  }) => Promise<void>,
  opts: Partial<ThrottleOptions> = {},
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  let t = 0;
  const now = () => t;
  try {
    const throttle = createThrottle(kv, { now, ...opts });
    await fn({ kv, throttle, setTime: (ms) => (t = ms) });
  } finally {
    kv.close();
  }
}

/** The Retry-After of the 429 that `check` throws, or null when it passes. */
async function retryAfter(
  throttle: ReturnType<typeof createThrottle>,
  account = "alice",
  address = "203.0.113.7",
): Promise<string | null> {
  try {
    await throttle.check(account, address);
    return null;
  } catch (err) {
    assert.ok(err instanceof HttpError);
    assert.equal(err.status, 429);
    return err.headers["Retry-After"];
  }
}

async function fail(
  throttle: ReturnType<typeof createThrottle>,
  times: number,
  account = "alice",
  address = "203.0.113.7",
): Promise<void> {
  for (let i = 0; i < times; i++) {
    await throttle.recordFailure(account, address);
  }
}

Deno.test("check() lets an account through its first 5 failures", async () => {
  await withThrottle(async ({ throttle }) => {
    for (let i = 0; i < 5; i++) {
      assert.equal(await retryAfter(throttle), null);
      await throttle.recordFailure("alice", "203.0.113.7");
    }
  });
});

Deno.test("check() answers 429 with Retry-After 1 after the 5th failure", async () => {
  await withThrottle(async ({ throttle }) => {
    await fail(throttle, 5);
    await assert.rejects(
      throttle.check("alice", "203.0.113.7"),
      (err) => {
        assert.ok(err instanceof HttpError);
        assert.equal(err.status, 429);
        assert.equal(err.message, "Too many failed attempts; try again later");
        assert.deepEqual(err.extra, {});
        assert.deepEqual(err.headers, { "Retry-After": "1" });
        return true;
      },
    );
  });
});

Deno.test("the account delay doubles with each further failure", async ({ step }) => {
  await withThrottle(async ({ throttle, setTime }) => {
    await fail(throttle, 5);
    let t = 0;
    for (const seconds of [1, 2, 4, 8, 16, 32, 64]) {
      await step(`Retry-After ${seconds}`, async () => {
        assert.equal(await retryAfter(throttle), String(seconds));
        t += seconds * SECOND;
        setTime(t);
        assert.equal(await retryAfter(throttle), null);
        await throttle.recordFailure("alice", "203.0.113.7");
      });
    }
  });
});

Deno.test("the account delay is capped at 15 minutes", async () => {
  await withThrottle(async ({ throttle }) => {
    await fail(throttle, 25);
    assert.equal(await retryAfter(throttle), String(15 * 60));
    await fail(throttle, 1000); // 2^1000 must not overflow the cap
    assert.equal(await retryAfter(throttle), String(15 * 60));
  });
});

Deno.test("the account may try again once the clock passes the delay", async () => {
  await withThrottle(async ({ throttle, setTime }) => {
    await fail(throttle, 6); // 2 s delay after the last failure at t=0
    setTime(1);
    assert.equal(await retryAfter(throttle), "2");
    setTime(1999);
    assert.equal(await retryAfter(throttle), "1");
    setTime(2000);
    assert.equal(await retryAfter(throttle), null);
  });
});

Deno.test("Retry-After is whole seconds rounded up", async () => {
  await withThrottle(async ({ throttle, setTime }) => {
    await fail(throttle, 7); // 4 s
    setTime(1);
    assert.equal(await retryAfter(throttle), "4");
    setTime(500);
    assert.equal(await retryAfter(throttle), "4");
    setTime(3001);
    assert.equal(await retryAfter(throttle), "1");
    setTime(3999);
    assert.equal(await retryAfter(throttle), "1");
  });
});

Deno.test("a clock that jumps backwards never lengthens the wait", async () => {
  await withThrottle(async ({ throttle, setTime }) => {
    setTime(10 * MINUTE);
    await fail(throttle, 6); // 2 s
    setTime(0);
    assert.equal(await retryAfter(throttle), "2");
  });
});

Deno.test("the account is throttled from every address", async () => {
  await withThrottle(async ({ throttle }) => {
    await fail(throttle, 5, "alice", "203.0.113.7");
    assert.equal(await retryAfter(throttle, "alice", "198.51.100.1"), "1");
    assert.equal(await retryAfter(throttle, "bob", "203.0.113.7"), null);
  });
});

Deno.test("recordSuccess() clears the account's failures", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    await fail(throttle, 12);
    assert.equal(await retryAfter(throttle), "128");
    await throttle.recordSuccess("alice");
    assert.equal(await retryAfter(throttle), null);
    assert.equal((await kv.get(["throttle", "account", "alice"])).value, null);
    // Back to 5 free failures.
    await fail(throttle, 4);
    assert.equal(await retryAfter(throttle), null);
  });
});

Deno.test("recordSuccess() leaves the address count alone", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    await fail(throttle, 3);
    await throttle.recordSuccess("alice");
    assert.deepEqual(
      (await kv.get(["throttle", "address", "203.0.113.7"])).value,
      { count: 3, windowStart: 0 },
    );
  });
});

Deno.test("an account's failures are forgotten 24 hours after the last one", async () => {
  await withThrottle(async ({ throttle, setTime }) => {
    await fail(throttle, 30);
    setTime(24 * 60 * MINUTE - 1);
    await throttle.check("alice", "203.0.113.7"); // the 15 min delay is over
    await throttle.recordFailure("alice", "203.0.113.7");
    assert.equal(await retryAfter(throttle), "900");
    setTime(2 * 24 * 60 * MINUTE - 1);
    await throttle.recordFailure("alice", "203.0.113.7"); // 24 h later: starts over
    assert.equal(await retryAfter(throttle), null);
  });
});

Deno.test("an address gets 50 failures per 15-minute window, then 429 until the window ends", async () => {
  await withThrottle(async ({ throttle, setTime }) => {
    for (let i = 0; i < 49; i++) {
      await throttle.recordFailure(`user${i}`, "203.0.113.7");
    }
    assert.equal(await retryAfter(throttle, "someone", "203.0.113.7"), null);
    setTime(5 * MINUTE);
    await throttle.recordFailure("user49", "203.0.113.7");
    assert.equal(
      await retryAfter(throttle, "someone", "203.0.113.7"),
      String(10 * 60),
    );
    assert.equal(await retryAfter(throttle, "someone", "198.51.100.1"), null);
    setTime(15 * MINUTE - 1);
    assert.equal(await retryAfter(throttle, "someone", "203.0.113.7"), "1");
    setTime(15 * MINUTE);
    assert.equal(await retryAfter(throttle, "someone", "203.0.113.7"), null);
  });
});

Deno.test("a new address window starts counting from one", async () => {
  await withThrottle(async ({ kv, throttle, setTime }) => {
    for (let i = 0; i < 50; i++) {
      await throttle.recordFailure(`user${i}`, "203.0.113.7");
    }
    setTime(20 * MINUTE);
    await throttle.recordFailure("user0", "203.0.113.7");
    assert.deepEqual(
      (await kv.get(["throttle", "address", "203.0.113.7"])).value,
      { count: 1, windowStart: 20 * MINUTE },
    );
    assert.equal(await retryAfter(throttle, "someone", "203.0.113.7"), null);
  });
});

Deno.test("when both limits apply, Retry-After is the longer wait", async () => {
  await withThrottle(async ({ throttle }) => {
    await fail(throttle, 5, "alice", "203.0.113.7");
    await fail(throttle, 3, "bob", "203.0.113.7");
    assert.equal(await retryAfter(throttle, "alice", "203.0.113.7"), "60");
  }, { addressMax: 8, addressWindowMs: MINUTE });
});

Deno.test("20 concurrent recordFailure() calls are all counted", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    await Promise.all(
      Array.from(
        { length: 20 },
        () => throttle.recordFailure("alice", "203.0.113.7"),
      ),
    );
    assert.deepEqual(
      (await kv.get(["throttle", "account", "alice"])).value,
      { failures: 20, lastFailureAt: 0 },
    );
    assert.deepEqual(
      (await kv.get(["throttle", "address", "203.0.113.7"])).value,
      { count: 20, windowStart: 0 },
    );
  });
});

Deno.test("two throttles on the same KV (two instances) share their counts", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    const other = createThrottle(kv, { now: () => 0 });
    await fail(throttle, 3);
    await fail(other, 2);
    assert.equal(await retryAfter(other), "1");
    assert.equal(await retryAfter(throttle), "1");
  });
});

Deno.test("records are written with expireIn so the store stays bounded", async () => {
  await withThrottle(async ({ kv }) => {
    const sets: { key: Deno.KvKey; expireIn?: number }[] = [];
    const recording = new Proxy(kv, {
      get(target, prop) {
        if (prop === "atomic") {
          return () => {
            const op = target.atomic();
            const set = op.set.bind(op);
            op.set = (key, value, options) => {
              sets.push({ key, expireIn: options?.expireIn });
              return set(key, value, options);
            };
            return op;
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    let t = 0;
    const throttle = createThrottle(recording, { now: () => t });
    await throttle.recordFailure("alice", "203.0.113.7");
    t = 5 * MINUTE;
    await throttle.recordFailure("alice", "203.0.113.7");
    // The two records are written concurrently, so their order varies.
    const byKey = (a: { key: Deno.KvKey }, b: { key: Deno.KvKey }) =>
      String(a.key[1]).localeCompare(String(b.key[1]));
    assert.deepEqual(
      sets.slice(0, 2).sort(byKey).concat(sets.slice(2).sort(byKey)),
      [
        { key: ["throttle", "account", "alice"], expireIn: 24 * 60 * MINUTE },
        { key: ["throttle", "address", "203.0.113.7"], expireIn: 15 * MINUTE },
        { key: ["throttle", "account", "alice"], expireIn: 24 * 60 * MINUTE },
        { key: ["throttle", "address", "203.0.113.7"], expireIn: 10 * MINUTE },
      ],
    );
  });
});

Deno.test("recordFailure() gives up with a 503 after a bounded number of lost commits", async () => {
  await withThrottle(async ({ kv }) => {
    let commits = 0;
    const conflicted = new Proxy(kv, {
      get(target, prop) {
        if (prop === "atomic") {
          return () => {
            const op = target.atomic();
            op.commit = () => {
              commits++;
              return Promise.resolve({ ok: false as const });
            };
            return op;
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const throttle = createThrottle(conflicted, { now: () => 0 });
    await assert.rejects(
      throttle.recordFailure("alice", "203.0.113.7"),
      (err) => err instanceof HttpError && err.status === 503,
    );
    assert.ok(commits > 0 && commits <= 60, `${commits} commits`);
  });
});

Deno.test("very long account names and addresses are keyed by digest and still throttled", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    const long = "a".repeat(5000);
    await fail(throttle, 5, long, long);
    assert.equal(await retryAfter(throttle, long, long), "1");
    assert.equal(await retryAfter(throttle, long + "b", "x"), null);
    const keys = [];
    for await (const entry of kv.list({ prefix: ["throttle"] })) {
      keys.push(entry.key);
    }
    assert.ok(keys.every((k) => String(k[2]).startsWith("sha256:")));
  });
});

Deno.test("custom limits are honoured", async () => {
  await withThrottle(async ({ throttle }) => {
    await fail(throttle, 2);
    assert.equal(await retryAfter(throttle), "10");
    await fail(throttle, 1);
    assert.equal(await retryAfter(throttle), "15");
  }, { accountFree: 2, accountBaseMs: 10 * SECOND, accountMaxMs: 15 * SECOND });
});

Deno.test("createThrottle() rejects nonsensical options", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const now = () => 0;
    for (
      const bad of [
        { accountFree: -1 },
        { accountBaseMs: 0 },
        { accountMaxMs: 1.5 },
        { addressMax: 0 },
        { addressWindowMs: NaN },
        { accountResetMs: 1000 },
      ]
    ) {
      assert.throws(() => createThrottle(kv, { now, ...bad }), RangeError);
    }
  } finally {
    kv.close();
  }
});
