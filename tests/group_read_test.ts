/** Group read: concurrent getManys merged, answers identical to separate reads. */
import assert from "node:assert/strict";
import { createGroupReader } from "../lib/sessions/group_read.ts";
import { HttpError } from "../lib/base/http_error.ts";

Deno.test("createGroupReader() answers each caller exactly what its own getMany would", async () => {
  using kv = await Deno.openKv(":memory:");
  for (let i = 0; i < 30; i++) await kv.set(["k", i], `v${i}`);
  const reader = createGroupReader(kv);
  const asks = Array.from(
    { length: 30 },
    (_, i) => [["k", i], ["k", (i + 7) % 30], ["missing", i]],
  );
  const got = await Promise.all(asks.map((keys) => reader.getMany(keys)));
  for (let i = 0; i < asks.length; i++) {
    assert.deepEqual(got[i].map((e) => e.key), asks[i]);
    assert.deepEqual(got[i].map((e) => e.value), [
      `v${i}`,
      `v${(i + 7) % 30}`,
      null,
    ]);
  }
});

Deno.test("createGroupReader() merges concurrent reads into fewer getMany calls", async () => {
  using kv = await Deno.openKv(":memory:");
  let calls = 0;
  const counting = new Proxy(kv, {
    get(target, prop) {
      if (prop === "getMany") {
        return (keys: Deno.KvKey[]) => {
          calls++;
          return target.getMany(keys);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const reader = createGroupReader(counting);
  // Each asks for the shared counter and one key of its own: 9 fit in one read.
  await Promise.all(
    Array.from({ length: 36 }, (_, i) => reader.getMany([["hits"], ["s", i]])),
  );
  assert.ok(calls <= 8, `36 reads took ${calls} getMany calls`);
});

Deno.test("createGroupReader() fails every queued read at once when the store fails", async () => {
  using kv = await Deno.openKv(":memory:");
  const failing = new Proxy(kv, {
    get(target, prop) {
      if (prop === "getMany") {
        return () => Promise.reject(new Error("database is locked"));
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const reader = createGroupReader(failing);
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => reader.getMany([["s", i]])),
  );
  for (const r of results) {
    assert.equal(r.status, "rejected");
    assert.ok(r.reason instanceof HttpError && r.reason.status === 503);
  }
});
