import assert from "node:assert/strict";
import { HttpError } from "../lib/base/http_error.ts";
import {
  createThrottle,
  type Throttle,
  type ThrottleOptions,
} from "../lib/accounts/throttle.ts";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const ADDRESS = "203.0.113.7";
const ALICE = ["throttle", "login", "account", "alice"];

/** Runs `fn` with a fresh in-memory KV and a clock the test moves by hand. */
async function withThrottle(
  fn: (ctx: {
    kv: Deno.Kv;
    throttle: Throttle;
    setTime: (ms: number) => void;
  }) => Promise<void>,
  opts: Partial<ThrottleOptions> = {},
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  let t = 0;
  const now = () => t;
  try {
    const throttle = createThrottle(kv, { now, bucket: "login", ...opts });
    await fn({ kv, throttle, setTime: (ms) => (t = ms) });
  } finally {
    kv.close();
  }
}

/**
 * One attempt (by `account`, or by address only when null): null when its slot was taken
 * (then judged wrong: it keeps it), else the 429's Retry-After.
 */
async function attempt(
  throttle: Throttle,
  account: string | null = "alice",
  address = ADDRESS,
): Promise<string | null> {
  try {
    throttle.settled(await throttle.reserve(address, account ?? undefined));
    return null;
  } catch (err) {
    assert.ok(err instanceof HttpError);
    assert.equal(err.status, 429);
    return err.headers["Retry-After"];
  }
}

/** `times` failed attempts, each of which must get its slot. */
async function fail(
  throttle: Throttle,
  times: number,
  account = "alice",
  address = ADDRESS,
): Promise<void> {
  for (let i = 0; i < times; i++) {
    assert.equal(await attempt(throttle, account, address), null, `${i + 1}`);
  }
}

/** Stores `failures` for alice as if the last one was at `at`. */
async function seed(kv: Deno.Kv, failures: number, at = 0): Promise<void> {
  await kv.set(ALICE, { failures, lastFailureAt: at });
}

Deno.test("reserve() lets an account through its first 5 attempts", async () => {
  await withThrottle(async ({ throttle }) => {
    await fail(throttle, 5);
  });
});

Deno.test("the 6th attempt gets 429 with Retry-After 1, without taking a slot", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    await fail(throttle, 5);
    await assert.rejects(throttle.reserve(ADDRESS, "alice"), (err) => {
      assert.ok(err instanceof HttpError);
      assert.equal(err.status, 429);
      assert.equal(err.message, "Too many failed attempts; try again later");
      assert.deepEqual(err.extra, {});
      assert.deepEqual(err.headers, { "Retry-After": "1" });
      return true;
    });
    assert.deepEqual((await kv.get(ALICE)).value, {
      failures: 5,
      lastFailureAt: 0,
    });
  });
});

Deno.test("the account delay doubles with each further failure", async ({ step }) => {
  await withThrottle(async ({ throttle, setTime }) => {
    await fail(throttle, 5);
    let t = 0;
    for (const seconds of [1, 2, 4, 8, 16, 32, 64]) {
      await step(`Retry-After ${seconds}`, async () => {
        assert.equal(await attempt(throttle), String(seconds));
        t += seconds * SECOND;
        setTime(t);
        assert.equal(await attempt(throttle), null);
      });
    }
  });
});

Deno.test("the account delay is capped at 15 minutes", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    await seed(kv, 25);
    assert.equal(await attempt(throttle), String(15 * 60));
    await seed(kv, 1025); // 2^1000 must not overflow the cap
    assert.equal(await attempt(throttle), String(15 * 60));
  });
});

Deno.test("the account may try again once the clock passes the delay", async () => {
  await withThrottle(async ({ kv, throttle, setTime }) => {
    await seed(kv, 6); // 2 s after the last failure at t=0
    setTime(1);
    assert.equal(await attempt(throttle), "2");
    setTime(1999);
    assert.equal(await attempt(throttle), "1");
    setTime(2000);
    assert.equal(await attempt(throttle), null);
  });
});

Deno.test("Retry-After is whole seconds rounded up", async () => {
  await withThrottle(async ({ kv, throttle, setTime }) => {
    await seed(kv, 7); // 4 s
    for (
      const [t, seconds] of [[1, "4"], [500, "4"], [3001, "1"], [3999, "1"]]
    ) {
      setTime(Number(t));
      assert.equal(await attempt(throttle), seconds, `at ${t} ms`);
    }
  });
});

Deno.test("a clock that jumps backwards never lengthens the wait", async () => {
  await withThrottle(async ({ kv, throttle, setTime }) => {
    await seed(kv, 6, 10 * MINUTE); // 2 s
    setTime(0);
    assert.equal(await attempt(throttle), "2");
  });
});

Deno.test("the account is throttled from every address", async () => {
  await withThrottle(async ({ throttle }) => {
    await fail(throttle, 5, "alice", ADDRESS);
    assert.equal(await attempt(throttle, "alice", "198.51.100.1"), "1");
    assert.equal(await attempt(throttle, "bob", ADDRESS), null);
  });
});

Deno.test("succeeded() clears the account's failures", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    await fail(throttle, 4);
    await throttle.succeeded(await throttle.reserve(ADDRESS, "alice"));
    assert.equal((await kv.get(ALICE)).value, null);
    // Back to 5 free failures.
    await fail(throttle, 5);
    assert.equal(await attempt(throttle), "1");
  });
});

Deno.test("succeeded() gives back its own address slot and leaves the failures counted", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    await fail(throttle, 3);
    await throttle.succeeded(await throttle.reserve(ADDRESS, "alice"));
    assert.deepEqual(
      (await kv.get(["throttle", "login", "address", ADDRESS])).value,
      { count: 3, windowStart: 0 },
    );
  });
});

Deno.test("a slot taken in an address window that has ended is not given back to the next one", async () => {
  await withThrottle(async ({ kv, throttle, setTime }) => {
    const slot = await throttle.reserve(ADDRESS, "alice");
    setTime(20 * MINUTE);
    await fail(throttle, 2, "bob");
    await throttle.succeeded(slot);
    assert.deepEqual(
      (await kv.get(["throttle", "login", "address", ADDRESS])).value,
      { count: 2, windowStart: 20 * MINUTE },
    );
  });
});

Deno.test("an account's failures are forgotten 24 hours after the last one", async () => {
  await withThrottle(async ({ throttle, setTime }) => {
    await fail(throttle, 5);
    setTime(24 * 60 * MINUTE - 1);
    await fail(throttle, 1); // the 1 s delay is long over
    assert.equal(await attempt(throttle), "2");
    setTime(2 * 24 * 60 * MINUTE - 1);
    await fail(throttle, 5); // 24 h later: five free ones again
    assert.equal(await attempt(throttle), "1");
  });
});

Deno.test("an address gets 50 attempts per 15-minute window, then 429 until the window ends", async () => {
  await withThrottle(async ({ throttle, setTime }) => {
    for (let i = 0; i < 49; i++) await fail(throttle, 1, `user${i}`);
    setTime(5 * MINUTE);
    await fail(throttle, 1, "user49");
    assert.equal(await attempt(throttle, "someone"), String(10 * 60));
    assert.equal(await attempt(throttle, "someone", "198.51.100.1"), null);
    setTime(15 * MINUTE - 1);
    assert.equal(await attempt(throttle, "someone"), "1");
    setTime(15 * MINUTE);
    assert.equal(await attempt(throttle, "someone"), null);
  });
});

Deno.test("a new address window starts counting from one", async () => {
  await withThrottle(async ({ kv, throttle, setTime }) => {
    for (let i = 0; i < 50; i++) await fail(throttle, 1, `user${i}`);
    setTime(20 * MINUTE);
    await fail(throttle, 1, "user0");
    assert.deepEqual(
      (await kv.get(["throttle", "login", "address", ADDRESS])).value,
      { count: 1, windowStart: 20 * MINUTE },
    );
  });
});

Deno.test("when both limits apply, Retry-After is the longer wait", async () => {
  await withThrottle(async ({ throttle }) => {
    await fail(throttle, 5, "alice");
    await fail(throttle, 3, "bob");
    assert.equal(await attempt(throttle, "alice"), "60");
  }, { addressMax: 8, addressWindowMs: MINUTE });
});

Deno.test("60 concurrent attempts on one account: exactly 5 get a slot, the rest 429", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    const results = await Promise.all(
      Array.from({ length: 60 }, () => attempt(throttle)),
    );
    assert.equal(results.filter((r) => r === null).length, 5);
    assert.equal(results.filter((r) => r === "1").length, 55);
    assert.deepEqual((await kv.get(ALICE)).value, {
      failures: 5,
      lastFailureAt: 0,
    });
  });
});

Deno.test("300 concurrent registrations from one address: exactly 30 get a slot, the rest wait the hour out", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    const results = await Promise.all(
      Array.from({ length: 300 }, () => attempt(throttle, null)),
    );
    assert.equal(results.filter((r) => r === null).length, 30);
    assert.equal(results.filter((r) => r === "3600").length, 270);
    assert.deepEqual(
      (await kv.get(["throttle", "register", "address", ADDRESS])).value,
      { count: 30, windowStart: 0 },
    );
  }, { bucket: "register" });
});

Deno.test("a registration refused for its address says so", async () => {
  await withThrottle(async ({ throttle }) => {
    for (let i = 0; i < 30; i++) await throttle.reserve(ADDRESS);
    await assert.rejects(
      throttle.reserve(ADDRESS),
      (err) =>
        err instanceof HttpError && err.status === 429 &&
        err.message ===
          "Too many registrations from this address; try again later",
    );
  }, { bucket: "register" });
});

Deno.test("logins, admin tokens and registrations are counted in separate buckets", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    for (let i = 0; i < 50; i++) await fail(throttle, 1, `user${i}`);
    assert.equal(await attempt(throttle, "someone"), String(15 * 60));
    const admin = createThrottle(kv, { now: () => 0, bucket: "admin" });
    assert.equal(await attempt(admin, ADDRESS), null);
    const register = createThrottle(kv, { now: () => 0, bucket: "register" });
    assert.equal(await attempt(register, null), null);
    const buckets = new Set<unknown>();
    for await (const { key } of kv.list({ prefix: ["throttle"] })) {
      buckets.add(key[1]);
    }
    assert.deepEqual([...buckets].sort(), ["admin", "login", "register"]);
  });
});

Deno.test("the admin bucket's delay is capped at 5 minutes", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    await kv.set(["throttle", "admin", "account", ADDRESS], {
      failures: 30,
      lastFailureAt: 0,
    });
    assert.equal(await attempt(throttle, ADDRESS), "300");
  }, { bucket: "admin" });
});

Deno.test("two throttles on the same KV (two instances) share their counts", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    const other = createThrottle(kv, { now: () => 0, bucket: "login" });
    await fail(throttle, 3);
    await fail(other, 2);
    assert.equal(await attempt(other), "1");
    assert.equal(await attempt(throttle), "1");
  });
});

/** A KV whose atomic operations record every `set` with its expireIn. */
function recordingSets(kv: Deno.Kv) {
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
  return { sets, recording };
}

Deno.test("records are written with expireIn so the store stays bounded", async () => {
  await withThrottle(async ({ kv }) => {
    const { sets, recording } = recordingSets(kv);
    let t = 0;
    const throttle = createThrottle(recording, {
      now: () => t,
      bucket: "login",
    });
    await throttle.reserve(ADDRESS, "alice");
    t = 5 * MINUTE;
    await throttle.reserve(ADDRESS, "alice");
    const register = createThrottle(recording, {
      now: () => t,
      bucket: "register",
    });
    await register.reserve(ADDRESS);
    const address = ["throttle", "login", "address", ADDRESS];
    assert.deepEqual(sets, [
      { key: address, expireIn: 15 * MINUTE },
      { key: ALICE, expireIn: 24 * HOUR },
      { key: address, expireIn: 10 * MINUTE },
      { key: ALICE, expireIn: 24 * HOUR },
      { key: ["throttle", "register", "address", ADDRESS], expireIn: HOUR },
    ]);
  });
});

Deno.test("reserve() gives up with a 503 after a bounded number of lost commits", async () => {
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
    const throttle = createThrottle(conflicted, {
      now: () => 0,
      bucket: "login",
    });
    await assert.rejects(
      throttle.reserve(ADDRESS, "alice"),
      (err) => err instanceof HttpError && err.status === 503,
    );
    assert.ok(commits > 0 && commits <= 60, `${commits} commits`);
  });
});

Deno.test("very long account names and addresses are keyed by digest and still throttled", async () => {
  await withThrottle(async ({ kv, throttle }) => {
    const long = "a".repeat(5000);
    await fail(throttle, 5, long, long);
    assert.equal(await attempt(throttle, long, long), "1");
    assert.equal(await attempt(throttle, long + "b", "x"), null);
    const keys = [];
    for await (const entry of kv.list({ prefix: ["throttle"] })) {
      keys.push(entry.key);
    }
    assert.ok(keys.every((k) => String(k[3]).length <= 256));
    assert.ok(keys.some((k) => String(k[3]).startsWith("sha256:")));
  });
});

Deno.test("custom limits are honoured", async () => {
  await withThrottle(async ({ throttle, setTime }) => {
    await fail(throttle, 2);
    assert.equal(await attempt(throttle), "10");
    setTime(10 * SECOND);
    await fail(throttle, 1);
    assert.equal(await attempt(throttle), "15");
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
      assert.throws(
        () => createThrottle(kv, { now, bucket: "login", ...bad }),
        RangeError,
      );
    }
    assert.throws(
      () => createThrottle(kv, { now, bucket: "nope" as "login" }),
      RangeError,
    );
  } finally {
    kv.close();
  }
});

Deno.test("an attempt beyond the address window waits while that address's attempts are judged: a right one's slot goes to it, a wrong one's does not", async () => {
  await withThrottle(async ({ throttle }) => {
    const slots = [];
    for (let i = 0; i < 50; i++) {
      slots.push(await throttle.reserve(ADDRESS, `user${i}`));
    }
    let outcome: string | null | undefined;
    const waiting = attempt(throttle, "late").then((r) => outcome = r);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(outcome, undefined, "it did not wait");
    // A wrong attempt keeps its slot: the waiter stays in line.
    throttle.settled(slots.pop()!);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(outcome, undefined, "a kept slot was taken");
    // A right one gives its slot back: the waiter takes it.
    await throttle.succeeded(slots.pop()!);
    await waiting;
    assert.equal(outcome, null);
    // Everything judged wrong and the window full: refused until it ends, at once.
    for (const slot of slots) throttle.settled(slot);
    assert.equal(await attempt(throttle, "later"), String(15 * 60));
  });
});
