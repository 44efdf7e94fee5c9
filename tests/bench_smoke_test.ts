/**
 * The parts of `deno task bench` (bench/bench.ts and its modules) that need no load
 * generator: the store counting of bench/instrumented.ts and the store limits it enforces,
 * the KV operations per route it reports, the lost-update check against the real server,
 * the options, the group-commit section of the report and how the report replaces its
 * block in docs/BENCHMARKS.md. (The wrk runs themselves are exercised by
 * `deno task bench --quick`.)
 */
import assert from "node:assert/strict";
import { type Options, parseOptions } from "../bench/options.ts";
import { startServer, stopAll } from "../bench/servers.ts";
import { type BatchRun, kvOpsByRoute, lostUpdates } from "../bench/phases.ts";
import { batchReport, withReport } from "../bench/report.ts";
import {
  countingKv,
  emptyCounts,
  instrumentedKv,
  keyBytes,
  storeLimitsName,
  valueBytes,
} from "../bench/instrumented.ts";
import { REMOTE_LIMITS } from "../lib/base/store_limits.ts";
import { fillSessions, growthReport, type GrowthRow } from "../bench/growth.ts";
import {
  remoteFailures,
  remoteReport,
  type RemoteRow,
  shareOf,
} from "../bench/remote.ts";
import { ADMIN_TOKEN, testApp } from "./helpers.ts";

Deno.test("the report replaces only the block between its markers", () => {
  const begin =
    "<!-- deno task bench: begin (generated, replaced by each run) -->";
  const end = "<!-- deno task bench: end -->";
  const file = `# B\n\nintro\n\n${begin}\nold\n${end}\n\n## Analysis\nkept\n`;
  const next = withReport(file, "new table\n");
  assert.equal(
    next,
    `# B\n\nintro\n\n${begin}\nnew table\n${end}\n\n## Analysis\nkept\n`,
  );
  assert.match(withReport(null, "r"), /^# Benchmarks\n[\s\S]*\nr\n<!-- deno/);
});

Deno.test("key and value sizes as Deno KV stores them", () => {
  // A type byte and a terminating NUL per string part.
  assert.equal(keyBytes(["sessions", "ab"]), 2 + 8 + 2 + 2);
  assert.equal(keyBytes(["a\u0000b"]), 2 + 3 + 1);
  assert.equal(keyBytes([1]), 9);
  assert.equal(valueBytes(new Deno.KvU64(5n)), 8);
  assert.equal(valueBytes(new Uint8Array(7)), 7);
  assert.ok(valueBytes({ a: "x".repeat(100) }) > 100);
});

Deno.test("the counting KV counts reads, commits, mutations and checks", async () => {
  const real = await Deno.openKv(":memory:");
  try {
    const { kv, counts, reset } = countingKv(real);
    await kv.set(["a"], 1);
    const entry = await kv.get(["a"]);
    await kv.getMany([["a"], ["b"]]);
    const ok = await kv.atomic().check(entry).set(["a"], 2).sum(
      ["n"],
      1n,
    ).delete(["b"]).commit();
    assert.ok(ok.ok);
    const stale = await kv.atomic().check(entry).set(["a"], 3).commit();
    assert.equal(stale.ok, false);
    for await (const _ of kv.list({ prefix: [] })) { /* two entries */ }
    const c = counts();
    assert.equal(c.set, 1);
    assert.equal(c.get, 1);
    assert.equal(c.getMany, 1);
    assert.equal(c.getManyKeys, 2);
    assert.equal(c.commits, 2);
    assert.equal(c.conflicts, 1);
    assert.deepEqual(c.mutations, { set: 2, sum: 1, delete: 1 });
    assert.equal(c.checks, 2);
    assert.deepEqual(c.mutationsPerCommit, { "1": 1, "2-3": 1 });
    assert.equal(c.list, 1);
    assert.equal(c.listed, 2);
    reset();
    assert.equal(counts().commits, 0);
  } finally {
    real.close();
  }
});

Deno.test({
  name:
    "bench phases against real servers: KV operations per route, no lost update in kv mode",
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "mcq-bench-test-" });
    try {
      const instrumented = await startServer("instrumented", tmp);
      const ops = await kvOpsByRoute(instrumented);
      const by = (label: string) => {
        const found = ops.routes.find((r) => r.label.startsWith(label));
        assert.ok(found, `no row for ${label}`);
        return found.counts;
      };
      // A first visit: at most one read (the hit counter, unless remembered from a request
      // less than a second before), one commit (session, hits).
      assert.ok(by("first visit").getMany <= 1);
      assert.ok(by("first visit").getManyKeys <= 1);
      assert.equal(by("first visit").commits, 1);
      // (The first visit is counted in the new record: no counter row yet.)
      assert.deepEqual(by("first visit").mutations, { set: 1, sum: 1 });
      // A returning page view of a session remembered: no read, one commit of 2 sums that
      // checks the session is unchanged.
      for (
        const route of [
          "returning `GET /` (session remembered)",
          "`GET /api/me`",
        ]
      ) {
        assert.equal(by(route).getMany, 0);
        assert.equal(by(route).get, 0);
        assert.equal(by(route).commits, 1);
        // The remembered session and its visit counter, both checked unchanged.
        assert.equal(by(route).checks, 2);
        assert.deepEqual(by(route).mutations, { sum: 2 });
      }
      // Not remembered: one read of 3 keys, one blind commit of 2 sums.
      const read = by("returning `GET /` (memory older than 1 s)");
      assert.equal(read.getMany, 1);
      assert.equal(read.getManyKeys, 3);
      assert.equal(read.commits, 1);
      assert.equal(read.checks, 0);
      // An answer: one commit, the checked update of the session with its counts.
      const answer = by("answer `POST /api/quizzes/http/answers` (JSON)");
      assert.equal(answer.commits, 1);
      assert.equal(answer.checks, 1);
      assert.ok(ops.bytes.length >= 3);
      assert.ok(ops.bytes[0].keys.some((k) => k.key === "sessions/<handle>"));

      const app = await startServer("app", tmp);
      const lost = await lostUpdates(app, 50);
      assert.equal(lost.ok, 50);
      assert.equal(lost.visitsGained, 50);
      assert.equal(lost.hitsGained, 50);
    } finally {
      await stopAll();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("returning visitors are 200 sessions unless --visitors says otherwise", () => {
  const visitors = (args: string[]) => {
    const opts = parseOptions(args);
    assert.ok(opts !== "help");
    return opts.visitors;
  };
  assert.equal(visitors([]), 200);
  assert.equal(visitors(["--visitors", "500"]), 500);
  // bench/wrk.lua needs at least one session per thread.
  assert.throws(() => parseOptions(["--visitors", "1"]), /--visitors/);
  assert.throws(() => parseOptions(["--visitors", "x"]), /--visitors/);
});

Deno.test("the instrumented store refuses and counts what KV Connect's limits refuse", async () => {
  const real = await Deno.openKv(":memory:");
  try {
    const { kv, counts, refused } = instrumentedKv(real, REMOTE_LIMITS);
    const entries = await real.getMany(
      Array.from({ length: 10 }, (_, i) => [String(i)]),
    );
    const atomic = (checks: number) => {
      const op = kv.atomic();
      for (let i = 0; i < checks; i++) op.check(entries[i % 10]);
      return op.set(["x"], checks);
    };
    assert.ok((await atomic(10).commit()).ok);
    await assert.rejects(() => atomic(11).commit(), TypeError);
    await assert.rejects(
      () => kv.getMany(Array.from({ length: 11 }, (_, i) => [String(i)])),
      TypeError,
    );
    assert.equal(refused(), 2);
    // The counting sees what the app asked, refused calls included.
    assert.equal(counts().commits, 2);
    assert.equal(counts().largestChecks, 11);
    assert.equal((await real.get(["x"])).value, 10);
  } finally {
    real.close();
  }
});

Deno.test("BENCH_STORE_LIMITS names local or remote limits, local when unset", () => {
  assert.equal(storeLimitsName(undefined), "local");
  assert.equal(storeLimitsName(""), "local");
  assert.equal(storeLimitsName("remote"), "remote");
  assert.throws(() => storeLimitsName("deploy"), /BENCH_STORE_LIMITS/);
});

Deno.test("the group-commit report shows each store's limits, commits per second and refusals", () => {
  const run = (over: Partial<BatchRun>): BatchRun => ({
    limits: "local",
    label: "returning visitor `GET /`",
    requests: 10_000,
    rps: 5_000,
    counts: emptyCounts(),
    batchSizes: { "8-15": 500 },
    commits: 1_000,
    commitsPerSecond: 500,
    largestBatch: 12,
    non2xx: 0,
    sockets: 0,
    refused: 0,
    ...over,
  });
  const text = batchReport({ threads: 2, connections: 50, visitors: 200 }, [
    run({}),
    run({ limits: "remote", commitsPerSecond: 800, refused: 3 }),
  ], 5).join("\n");
  assert.match(
    text,
    /\| store limits \| load \| req\/s \(2xx\) \| commits\/s \|/,
  );
  assert.match(
    text,
    /\| local SQLite \| returning visitor `GET \/` \| 5,000 \| 500 \| 10\.0 \| 8-15: 500 \| 12 \|/,
  );
  assert.match(
    text,
    /\| KV Connect \/ Deno Deploy \| returning visitor `GET \/` \| 5,000 \| 800 \|/,
  );
  assert.match(text, /200 sessions round-robin/);
  assert.match(text, /10 checks and 1,000 mutations per atomic/);
  assert.match(
    text,
    /local SQLite's limits: 0 calls refused by the limits proxy \(must be 0\), 0 non-2xx .*✓/,
  );
  assert.match(text, /KV Connect \/ Deno Deploy's limits: 3 calls refused .*✗/);
});

Deno.test({
  name:
    "the instrumented app under KV Connect's limits batches concurrent visits without a refused call",
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "mcq-bench-test-" });
    try {
      const server = await startServer("instrumented", tmp, "remote", {
        KV_PATH: "{tmp}/{tag}.kv.sqlite3",
        BENCH_STORE_LIMITS: "remote",
      });
      const visit = async (cookie?: string) => {
        const res = await fetch(`${server.url}/`, {
          headers: cookie ? { cookie: `sessionId=${cookie}` } : {},
        });
        await res.body?.cancel();
        assert.equal(res.status, 200);
        return res.headers.getSetCookie()[0]?.split(";")[0].split("=")[1];
      };
      const ids = await Promise.all(Array.from({ length: 60 }, () => visit()));
      // Each returning visit's commit checks its session: 60 at once is more than 10 checks.
      for (let round = 0; round < 3; round++) {
        await Promise.all(ids.map((id) => visit(id)));
      }
      const stats = await (await fetch(`${server.url}/__bench/stats`)).json();
      assert.equal(stats.limits, "remote");
      assert.equal(stats.refused, 0);
      assert.ok(stats.counts.largestChecks <= 10, JSON.stringify(stats.counts));
      assert.ok(stats.counts.largestChecks >= 1);
    } finally {
      await stopAll();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "the Hono peer on Deno KV counts every visit and hit of one cookie's concurrent requests",
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "mcq-bench-test-" });
    try {
      const hono = await startServer("hono", tmp);
      const lost = await lostUpdates(hono, 30);
      assert.equal(lost.ok, 30);
      assert.equal(lost.visitsGained, 30);
      assert.equal(lost.hitsGained, 30);
    } finally {
      await stopAll();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

const hasRedis = await new Deno.Command("redis-server", {
  args: ["--version"],
  stdout: "null",
}).output().then((o) => o.success, () => false);

Deno.test({
  name:
    "the Express + connect-redis peer counts every hit through its own Redis, which stops with it",
  ignore: !hasRedis,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "mcq-bench-test-" });
    try {
      const peer = await startServer("express-redis-always", tmp);
      const lost = await lostUpdates(peer, 30);
      assert.equal(lost.ok, 30);
      assert.equal(lost.hitsGained, 30);
      // Whole-session saves: concurrent visits of one session overwrite each other.
      assert.ok(lost.visitsGained < 30);
      assert.ok(peer.redis, "no Redis was started");
      const pid = peer.redis.pid;
      await stopAll();
      await assert.rejects(Deno.stat(`/proc/${pid}`), Deno.errors.NotFound);
    } finally {
      await stopAll();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("the growth filler stores sessions the app takes as live returning visitors", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const ids = await fillSessions(t.kv, 1500, t.clock.now(), 2, t.config);
  assert.equal(ids.length, 2);
  let stored = 0;
  for await (const _ of t.kv.list({ prefix: ["sessions"] })) stored++;
  assert.equal(stored, 1500);
  const res = await t.request("/api/me", { cookie: `sessionId=${ids[1]}` });
  assert.equal(res.status, 200);
  // Its first visit is in the record: this is its second, on the same session.
  assert.equal((await res.json()).visits, 2);
  const fresh = res.headers.getSetCookie().find((c) =>
    c.startsWith("sessionId=") && !c.startsWith(`sessionId=${ids[1]}`)
  );
  assert.equal(fresh, undefined, "the app gave it a new session");
  const page = await t.request("/admin/sessions", {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  assert.ok((await page.json()).sessions.length > 0);
});

Deno.test("each instance gets its share of wrk's connections, together all of them", () => {
  const opts = parseOptions(["--connections", "50", "--threads", "2"]);
  if (opts === "help") throw new Error("no options parsed");
  for (const n of [1, 2, 4]) {
    const shares: Options[] = [];
    for (let i = 0; i < n; i++) shares.push(shareOf(opts, n, i));
    assert.equal(shares.reduce((s, o) => s + o.connections, 0), 50);
    assert.ok(
      shares.every((o) => o.threads >= 1 && o.threads <= o.connections),
    );
  }
});

Deno.test("--kv remote runs only the remote phase and hello; --growth takes the sizes", () => {
  const opts = parseOptions(["--kv", "remote", "--growth", "1000,10_000"]);
  assert.ok(opts !== "help");
  assert.deepEqual(opts.only, ["hello", "remote"]);
  assert.deepEqual(opts.growth, [1000, 10000]);
  assert.throws(() => parseOptions(["--kv", "local"]), /--kv/);
  assert.throws(() => parseOptions(["--growth", "10k"]), /--growth/);
});

const remoteRow = (over: Partial<RemoteRow>): RemoteRow => ({
  store: "remote",
  instances: 2,
  load: "returning",
  label: "returning visitor `GET /`",
  requests: 1000,
  rps: 1000,
  commits: 100,
  commitsPerSecond: 100,
  batchSizes: { "8-15": 100 },
  p50_us: 1000,
  p99_us: 5000,
  non2xx: 0,
  sockets: 0,
  refused: 0,
  hitsGained: 1003,
  slack: 50,
  exact: true,
  ...over,
});

Deno.test("the remote floor is judged on 2 instances' returning visitors against hello", () => {
  const opts = { threads: 2, connections: 50, visitors: 200 };
  const met = remoteReport(opts, [remoteRow({})], 1, 5000).join("\n");
  assert.match(
    met,
    /0\.200 of hello, no error, target ≥ 0\.1 with no error: met ✓/,
  );
  assert.deepEqual(remoteFailures([remoteRow({})], 5000, false), []);
  const slow = remoteFailures([remoteRow({ rps: 100 })], 5000, false);
  assert.deepEqual(slow, ["below target remote: 0.020 of hello < 0.1"]);
  const broken = remoteFailures([remoteRow({ non2xx: 3 })], 5000, false);
  assert.match(broken[0], /^FAIL remote, .* 3 non-2xx/);
  assert.match(
    remoteReport(opts, [remoteRow({ non2xx: 3 })], 1, 5000).join("\n"),
    /errors or inexact counts, .* not met ✗/,
  );
});

Deno.test("the growth table says how each cost grew from the smallest size to the largest", () => {
  const row = (sessions: number, f: number): GrowthRow => ({
    sessions,
    fillSeconds: 1,
    added: sessions,
    diskBytes: sessions * 300,
    sweepMs: 10 * f,
    swept: { sessions: 0, counters: 0 },
    cliFirstMs: 50 * f,
    adminFirstMs: 5,
    adminItems: 100,
    rps: 1000 / f,
    p50_us: 1000,
    p99_us: 2000 * f,
    non2xx: 0,
    rss: { rss: 100, peak: 120 },
  });
  const text = growthReport(
    { threads: 2, connections: 50, visitors: 200, duration: 1 },
    [row(1000, 1), row(10000, 4)],
  ).join("\n");
  assert.match(text, /\| 10,000 \| 250 \|/);
  assert.match(
    text,
    /\(10×\): req\/s 0\.3×, p99 4\.0×, RSS 1\.0×, sweep 4\.0×, admin first page 1\.0×, CLI first row 4\.0×/,
  );
});

Deno.test({
  name:
    "the KV floor peer counts every visit and hit of 200 concurrent requests with one cookie (more than one commit's 100 checks)",
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "mcq-bench-test-" });
    try {
      const floor = await startServer("kv-floor", tmp);
      const lost = await lostUpdates(floor, 200);
      assert.equal(lost.ok, 200);
      assert.equal(lost.visitsGained, 200);
      assert.equal(lost.hitsGained, 200);
    } finally {
      await stopAll();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
