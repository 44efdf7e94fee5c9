/**
 * A 20-second run of the soak test (bench/soak.ts; `deno task soak` runs it for 10 minutes):
 * the real server under a seeded mix of real flows and the hostile inputs the app must answer with a 4xx, with
 * no 5xx, no network error, no unexpected status, and a clean exit on SIGTERM.
 */
import assert from "node:assert/strict";
import { markdown, soak } from "../bench/soak.ts";

Deno.test("soak for 20 seconds: no 5xx, every status as expected, memory and keys sampled", async () => {
  const report = await soak({
    minutes: 0.33,
    seed: 7,
    concurrency: 8,
    sampleSeconds: 5,
    keep: false,
    quiet: true,
  });
  const text = markdown(report);
  assert.equal(report.fiveXx, 0, text);
  assert.equal(report.network, 0, text);
  assert.equal(report.unexpected, 0, text);
  assert.equal(report.exitCode, 0, text);
  assert.ok(report.ok, text);
  assert.ok(report.requests > 200, text);
  // The mix reached the bad inputs as well as the real flows.
  const actions = Object.keys(report.byAction);
  assert.ok(actions.filter((a) => a.startsWith("bad:")).length >= 10, text);
  for (const flow of ["first-visit", "api-answer", "register", "logout"]) {
    assert.ok(actions.includes(flow), `${flow} never ran:\n${text}`);
  }
  assert.ok(report.samples.length >= 3, text);
  assert.ok(report.samples.every((s) => s.rssMiB !== null && s.rssMiB > 0));
  assert.ok(report.samples.at(-1)!.keys.sessions > 0, text);
});
