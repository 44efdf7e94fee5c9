/** lib/base/bounded_map.ts: the bound every in-process memory (sessions, handles, sealed cookies) relies on. */
import assert from "node:assert/strict";
import { BoundedMap } from "../lib/base/bounded_map.ts";

Deno.test("a bounded map never holds more than its bound and keeps at least half of it", () => {
  const map = new BoundedMap<number, number>(100);
  for (let i = 0; i < 1000; i++) {
    map.set(i, i);
    assert.ok(map.size <= 100, `size ${map.size} after ${i + 1} sets`);
    if (i >= 100) assert.ok(map.size >= 50, `size ${map.size}`);
    assert.equal(map.get(i), i, "what was just set is there");
  }
  assert.equal(map.get(0), undefined, "the oldest are gone");
  assert.equal(map.get(899), undefined);
  assert.equal(map.get(999), 999);
});

Deno.test("an entry in use survives however many others come and go", () => {
  const map = new BoundedMap<string, string>(10);
  map.set("hot", "h");
  for (let i = 0; i < 1000; i++) {
    map.set(`cold${i}`, "c");
    assert.equal(map.get("hot"), "h", `after ${i + 1} others`);
  }
  // peek does not count as a use: an entry only peeked at goes like the others.
  map.set("peeked", "p");
  for (let i = 0; i < 10; i++) {
    map.set(`more${i}`, "m");
    map.peek("peeked");
  }
  assert.equal(map.peek("peeked"), undefined);
});

Deno.test("a weight bound drops old entries when they add up, and replaced or deleted ones stop counting", () => {
  const map = new BoundedMap<string, string>(1_000_000, {
    maxWeight: 1000,
    weigh: (key, value) => key.length + value.length,
  });
  const weight = () => {
    let total = 0;
    for (let i = 0; i < 200; i++) {
      const value = map.peek(`k${i}`.padEnd(10));
      if (value !== undefined) total += 10 + value.length;
    }
    return total;
  };
  for (let i = 0; i < 200; i++) {
    map.set(`k${i}`.padEnd(10), "v".repeat(40));
    assert.ok(weight() <= 1000 + 50, `weight ${weight()} after ${i + 1}`);
  }
  assert.ok(map.size >= 10 && map.size <= 20, `size ${map.size}`);
  // Overwriting one key many times, or deleting, never builds up phantom weight.
  const other = new BoundedMap<string, string>(1_000_000, {
    maxWeight: 100,
    weigh: (key, value) => key.length + value.length,
  });
  other.set("a", "x".repeat(10));
  other.set("b", "x".repeat(10));
  for (let i = 0; i < 1000; i++) {
    other.set("c", "x".repeat(10));
    other.delete("c");
  }
  assert.equal(other.get("a"), "x".repeat(10));
  assert.equal(other.get("b"), "x".repeat(10));
  other.clear();
  assert.equal(other.size, 0);
});
