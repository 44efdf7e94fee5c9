/**
 * The crash test of bench/crash.ts (`deno task crash` runs 20 kills), shortened for CI: the
 * real server under load is killed with SIGKILL 5 times and restarted on the same KV file,
 * and frozen once with SIGSTOP/SIGCONT. Every acknowledged answer and session survives,
 * the hit counter lies within [acknowledged, attempted], and stalled requests complete.
 */
import assert from "node:assert/strict";
import { runCrash, summary } from "../bench/crash.ts";

Deno.test("kill -9 under load, 5 times, and one SIGSTOP: nothing acknowledged is lost", async () => {
  const report = await runCrash({
    kills: 5,
    stalls: 1,
    seed: 11,
    clients: 16,
    minUpMs: 200,
    maxUpMs: 900,
    stallMs: 1000,
  });
  const text = summary(report);
  assert.deepEqual(report.violations, [], text);
  assert.equal(report.kills, 5, text);
  assert.equal(report.stalls, 1, text);
  assert.ok(report.acknowledged > 100, text);
  assert.ok(report.answersAcked > 20, text);
  assert.ok(report.sessions >= 16, text);
  assert.ok(
    report.hits >= report.acknowledged && report.hits <= report.attempted,
    text,
  );
  assert.ok(report.stalledInFlight > 0, text);
  assert.equal(report.stalledCompleted, report.stalledInFlight, text);
});
