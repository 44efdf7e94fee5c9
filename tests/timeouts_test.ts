import assert from "node:assert/strict";
import { HttpError } from "../lib/base/http_error.ts";
import { Timeouts, withTimeout } from "../lib/base/kv_util.ts";

const never = () => new Promise<never>(() => {});
const is503 = (error: unknown) =>
  error instanceof HttpError && error.status === 503;

Deno.test("a store call that never answers gets its 503, even when another caller's clean-up throws", async () => {
  const first = withTimeout(never(), 1, () => {
    throw new Error("a clean-up that fails");
  });
  const second = withTimeout(never(), 1);
  await assert.rejects(first, is503);
  await assert.rejects(second, is503);
});

Deno.test("Timeouts answers a settled call with its own value, and stops watching once idle", async () => {
  const timeouts = new Timeouts();
  assert.equal(await timeouts.watch(Promise.resolve(7), 1000), 7);
  await assert.rejects(
    timeouts.watch(Promise.reject(new Error("its own")), 1000),
    /its own/,
  );
  // Leaves no interval behind: Deno's leak check would fail this test otherwise.
});
