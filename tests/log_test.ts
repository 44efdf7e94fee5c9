import assert from "node:assert/strict";
import { createLogSink } from "../lib/base/log.ts";

function memoryOut(chunk = Infinity) {
  const written: Uint8Array[] = [];
  return {
    written,
    text: () =>
      new TextDecoder().decode(new Uint8Array(written.flatMap((c) => [...c]))),
    writeSync(p: Uint8Array) {
      const n = Math.min(chunk, p.length);
      written.push(p.slice(0, n));
      return n;
    },
  };
}

Deno.test("createLogSink() writes every line, in order, in one write per flush", () => {
  const out = memoryOut();
  const sink = createLogSink(out);
  sink.log("GET / 200");
  sink.log("GET /api/me 200");
  assert.equal(out.written.length, 0);
  sink.flush();
  assert.equal(out.text(), "GET / 200\nGET /api/me 200\n");
  assert.equal(out.written.length, 1);
});

Deno.test("createLogSink() flushes by itself after a short while and when 256 lines wait", async () => {
  const out = memoryOut();
  const sink = createLogSink(out);
  for (let i = 0; i < 256; i++) sink.log(`line ${i}`);
  assert.equal(out.text().split("\n").length, 257);
  sink.log("late");
  await new Promise((r) => setTimeout(r, 120));
  assert.ok(out.text().endsWith("late\n"));
});

Deno.test("createLogSink() finishes partial writes (a full pipe)", () => {
  const out = memoryOut(3);
  const sink = createLogSink(out);
  sink.log("abcdefghij");
  sink.flush();
  assert.equal(out.text(), "abcdefghij\n");
});
