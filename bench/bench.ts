/**
 * `deno task bench`: the benchmark report.
 *
 * Starts, as subprocesses, a bare `Deno.serve` hello (bench/hello.ts), the app in both
 * session modes (`deno run -A main.ts` on a temporary KV file, `SESSION_MODE=kv` and
 * `SESSION_MODE=cookie`), and the peers (bench/peers/: Express 5 + express-session, a
 * Python `http.server` session server, Hono + @hono/session on Deno KV, Express +
 * connect-redis on Redis with appendfsync everysec and always, Flask + Flask-Session on
 * Redis under gunicorn, iron-session; each installed on first use, each Redis started for
 * its peer and stopped with it); drives each with wrk at the same concurrency and
 * prints req/s, p50, p99 and the ratio to hello for each scenario. After each counted run it
 * checks that the site's hit counter (and each session's visit counter) counted exactly the
 * requests the server answered; after the answer stream, that every acknowledged answer was
 * scored once. Then:
 *  - lost updates: 200 concurrent requests with ONE cookie against each server;
 *  - KV operations per request by route, from the app with an instrumented store
 *    (bench/instrumented.ts);
 *  - the group commit's batch sizes and commits per second under load (returning visitors,
 *    first visits, answers), under local SQLite's limits and under KV Connect's;
 *  - KV bytes per session, and RSS after 100,000 sessions (app and peers);
 *  - the remote store: 1, 2 and 4 instances on one KV Connect endpoint against one on a
 *    local file (bench/remote.ts; `--kv remote` runs only it and hello);
 *  - how cost grows with 10k, 100k and 1M live sessions in the store (bench/growth.ts,
 *    `--growth` sets the sizes).
 * The Markdown report is also written to docs/BENCHMARKS.md (between its markers).
 *
 *   deno task bench [--duration 10] [--warmup 2] [--connections 50] [--threads 2]
 *                   [--visitors 200] [--quick] [--only id,id] [--skip id,id] [--sessions 100000]
 *                   (ids: scenarios, phases, or servers such as `hono,flask`)
 *                   [--out docs/BENCHMARKS.md | --no-write] [--keep] [--strict]
 *                   [--wait-quiet 60] [--kv remote] [--growth 10000,100000,1000000]
 *
 * To add a scenario, add a server to SERVERS (if it needs another process or environment)
 * and an entry to SCENARIOS; bench/wrk.lua already handles cookies, methods and bodies,
 * and lists of requests each sent once (bench/scenarios.ts).
 *
 * The parts: bench/options.ts (USAGE, parseOptions), bench/servers.ts (what is started and
 * how), bench/load.ts (wrk and the /proc readers), bench/visits.ts (sessions, counters and
 * answer lists through the servers), bench/scenarios.ts, bench/phases.ts, bench/report.ts.
 */
import { busyShare, log, machine, waitForQuiet } from "./load.ts";
import {
  lostUpdateSelected,
  type Options,
  parseOptions,
  scenarioSelected,
  selected,
  USAGE,
  UsageError,
} from "./options.ts";
import {
  groupCommit,
  kvOpsByRoute,
  LIMITS_LABEL,
  LOST_UPDATE_REQUESTS,
  lostUpdates,
  rssAfterRequests,
} from "./phases.ts";
import { readOr, report, type Results, who, withReport } from "./report.ts";
import {
  LOST_UPDATE_SERVERS,
  runScenario,
  type Scenario,
  SCENARIOS,
} from "./scenarios.ts";
import {
  type Running,
  type ServerName,
  specOf,
  startServer,
  stop,
  stopAll,
} from "./servers.ts";
import { openSessions } from "./visits.ts";
import { remoteFailures, remoteStore } from "./remote.ts";
import { growth } from "./growth.ts";
import { benchQuizParse } from "./quiz_parse.ts";
import { cores, int, ms, NOISY } from "./format.ts";
import { tail } from "../tests/support/server.ts";

/** The servers of one run: started on first use, a peer that cannot start left out. */
class Fleet {
  readonly servers = new Map<ServerName, Running>();
  readonly unavailable = new Map<ServerName, string>();
  readonly sessions = new Map<ServerName, string[]>();

  constructor(private readonly opts: Options, private readonly tmp: string) {}

  async serverFor(name: ServerName): Promise<Running | undefined> {
    let server = this.servers.get(name);
    if (!server && !this.unavailable.has(name)) {
      log(`starting ${name}`);
      try {
        server = await startServer(name, this.tmp);
        this.servers.set(name, server);
      } catch (error) {
        // A missing peer (no node or python3) leaves its rows out; the app must start.
        if (specOf(name).kind !== "peer") throw error;
        const reason = (error as Error).message.split("\n")[0];
        this.unavailable.set(name, reason);
        log(`  ${name} not available: ${reason}`);
      }
    }
    return server;
  }

  /** The `--visitors` sessions of a server, opened on first use. */
  async sessionsOf(s: Running): Promise<string[]> {
    let ids = this.sessions.get(s.name);
    if (!ids) {
      ids = await openSessions(s.url, this.opts.visitors);
      this.sessions.set(s.name, ids);
    }
    return ids;
  }

  async stop(s: Running) {
    await stop(s);
    this.servers.delete(s.name);
  }
}

/** Before a scenario (but the first): a machine busy with others is waited for. */
async function quietBefore(
  opts: Options,
  results: Results,
  scenario: Scenario,
) {
  const busy = await busyShare(1000);
  if (busy !== null && busy >= 0.15) {
    results.waited.push(scenario.id);
    await waitForQuiet(Math.min(30, opts.waitQuiet), 1000);
  }
}

/** One scenario on its server, with its progress line. */
async function scenarioStep(
  opts: Options,
  results: Results,
  fleet: Fleet,
  scenario: Scenario,
  first: boolean,
  tmp: string,
): Promise<Running | undefined> {
  const s = await fleet.serverFor(scenario.server);
  if (!s) {
    results.skipped.push({
      scenario,
      reason: fleet.unavailable.get(scenario.server)!,
    });
    return undefined;
  }
  if (opts.waitQuiet > 0 && !first) await quietBefore(opts, results, scenario);
  log(`${scenario.id}: ${who(scenario)}, ${scenario.label}`);
  const getSessions = () => fleet.sessionsOf(s);
  const outcome = await runScenario(opts, scenario, s, getSessions, tmp);
  results.outcomes.push(outcome);
  log(
    `  ${int(outcome.rps)} req/s, p50 ${ms(outcome.wrk.p50_us)}, p99 ${
      ms(outcome.wrk.p99_us)
    }, non-2xx ${outcome.wrk.status}${
      (outcome.otherCores ?? 0) > NOISY
        ? `; other processes used ${
          cores(outcome.otherCores)
        } cores: numbers doubtful`
        : ""
    }`,
  );
  if (s.exited) {
    throw new Error(`${s.name} died; log:\n${await tail(s.log)}`);
  }
  return s;
}

/** The wrk scenarios in order; a server whose scenarios are all done is stopped. */
async function runScenarios(
  opts: Options,
  results: Results,
  fleet: Fleet,
  tmp: string,
) {
  const scenarios = SCENARIOS.filter((s) =>
    scenarioSelected(opts, s) || s.server === "hello"
  );
  for (const [i, scenario] of scenarios.entries()) {
    const s = await scenarioStep(opts, results, fleet, scenario, i === 0, tmp);
    if (!s) continue;
    // Unless the lost-update check needs it.
    const later = scenarios.slice(i + 1).some((x) => x.server === s.name);
    if (
      !later && !(s.spec.kind !== "hello" && lostUpdateSelected(opts, s.name))
    ) {
      await fleet.stop(s);
    }
  }
}

/** Each chosen server's lost-update check (after the scenarios: its server still runs). */
async function runLostUpdates(opts: Options, results: Results, fleet: Fleet) {
  for (const name of LOST_UPDATE_SERVERS) {
    if (!lostUpdateSelected(opts, name)) continue;
    const server = await fleet.serverFor(name);
    if (!server) continue;
    log(
      `lost updates: ${LOST_UPDATE_REQUESTS} concurrent requests, one cookie, ${name}`,
    );
    results.lost.push(await lostUpdates(server, LOST_UPDATE_REQUESTS));
  }
}

async function runKvOps(results: Results, tmp: string) {
  for (const name of ["instrumented", "instrumented-cookie"] as const) {
    log(`starting ${name}`);
    const server = await startServer(name, tmp);
    try {
      log(`kv-ops: one request per route (${name})`);
      results.kvOps.push(await kvOpsByRoute(server));
    } finally {
      await stop(server);
    }
  }
}

const RSS_RUNS = [
  ["rss", "new"],
  ["rss", "returning"],
  ["express", "new"],
  ["express", "returning"],
  ["python", "new"],
  ["python", "returning"],
] as const;

async function runRss(
  opts: Options,
  results: Results,
  fleet: Fleet,
  tmp: string,
) {
  for (const [name, mode] of RSS_RUNS) {
    if (fleet.unavailable.has(name)) continue;
    log(`rss: ${int(opts.sessions)} ${mode} visits on ${name}`);
    try {
      results.rss.push(
        await rssAfterRequests(opts, name, mode, opts.sessions, tmp),
      );
    } catch (error) {
      if (specOf(name).kind !== "peer") throw error;
      log(`  ${name}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
}

/** Everything the options chose, in order; the servers are stopped whatever happens. */
async function runAll(opts: Options, results: Results, tmp: string) {
  const fleet = new Fleet(opts, tmp);
  try {
    await runScenarios(opts, results, fleet, tmp);
    await runLostUpdates(opts, results, fleet);
    await stopAll();
    if (selected(opts, "kv-ops")) await runKvOps(results, tmp);
    if (selected(opts, "group-commit")) {
      log(`group-commit: ${results.batchSeconds} s per load`);
      results.batches = await groupCommit(opts, results.batchSeconds, tmp);
    }
    if (selected(opts, "rss")) await runRss(opts, results, fleet, tmp);
    if (selected(opts, "remote")) {
      log(`remote: ${results.batchSeconds} s per load`);
      results.remote = await remoteStore(opts, results.batchSeconds, tmp);
    }
    if (selected(opts, "growth")) results.growth = await growth(opts, tmp);
  } finally {
    await stopAll();
    if (opts.keep) log(`kept ${tmp} (server logs, KV files, request lists)`);
    else await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/**
 * The verdict lines, in order: those starting with FAIL fail the run (errors, mismatches,
 * lost updates, refused calls), "below target" ones do not.
 */
function failures(opts: Options, results: Results): string[] {
  return [
    ...scenarioFailures(opts, results),
    ...remoteFailures(
      results.remote,
      results.outcomes.find((o) => o.scenario.server === "hello")?.rps ?? null,
      opts.strict,
    ),
    ...results.lost.flatMap((l) => {
      if (specOf(l.server).kind !== "app") return [];
      const visitsLost = specOf(l.server).visitsInCookie
        ? 0
        : l.ok - l.visitsGained;
      return visitsLost !== 0 || l.ok !== l.hitsGained || l.ok !== l.requests
        ? [`FAIL lost updates on ${l.server}: ${JSON.stringify(l)}`]
        : [];
    }),
    ...results.growth.flatMap((g) =>
      g.non2xx > 0
        ? [
          `FAIL growth, ${g.sessions} sessions: ${g.non2xx} non-2xx or socket errors`,
        ]
        : []
    ),
    ...results.batches.flatMap((b) =>
      b.refused + b.non2xx + b.sockets > 0
        ? [
          `FAIL group-commit, ${b.label} under ${
            LIMITS_LABEL[b.limits]
          }'s limits: ${b.refused} calls refused, ${b.non2xx} non-2xx, ${b.sockets} socket errors`,
        ]
        : []
    ),
  ];
}

/** Each scenario's failures; a target missed fails only with `--strict` (it is said anyway). */
function scenarioFailures(opts: Options, results: Results): string[] {
  const hello = results.outcomes.find((o) => o.scenario.server === "hello");
  const out: string[] = [];
  for (const o of results.outcomes) {
    // The peers are measured, not judged: their errors and lost counts are findings.
    if (specOf(o.scenario.server).kind === "peer") continue;
    const errors =
      (o.answers ? o.answers.conflict + o.answers.other : o.wrk.status) +
      o.wrk.connect + o.wrk.read + o.wrk.write + o.wrk.timeout;
    if (errors > 0) {
      out.push(
        `FAIL ${o.scenario.id}: ${errors} non-2xx responses or socket errors`,
      );
    }
    if (o.exactness && !o.exactness.ok) {
      out.push(
        `FAIL ${o.scenario.id}: counters do not match the requests answered`,
      );
    }
    if (o.answers && !o.answers.ok) {
      out.push(`FAIL ${o.scenario.id}: answers lost or scored twice`);
    }
    if (o.scenario.target !== undefined && hello) {
      const ratio = o.rps / hello.rps;
      if (ratio < o.scenario.target) {
        const line = `${o.scenario.id}: ${
          ratio.toFixed(3)
        } of hello < ${o.scenario.target}`;
        out.push(`${opts.strict ? "FAIL" : "below target"} ${line}`);
      }
    }
  }
  return out;
}

function emptyResults(opts: Options): Results {
  return {
    outcomes: [],
    skipped: [],
    lost: [],
    kvOps: [],
    batches: [],
    // A short --duration shortens this phase too.
    batchSeconds: Math.min(opts.quick ? 2 : 5, opts.duration),
    rss: [],
    remote: [],
    growth: [],
    // Cheap (tens of ms): measured in every run, before the loads.
    quizParseMs: benchQuizParse(1000, 5),
    waited: [],
  };
}

async function main(args: string[]): Promise<number> {
  let opts;
  try {
    opts = parseOptions(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (opts === "help") {
    console.log(USAGE);
    return 0;
  }
  const host = await machine();
  host.busyBefore = await waitForQuiet(opts.waitQuiet);
  const started = new Date();
  const tmp = await Deno.makeTempDir({ prefix: "mcq-bench-" });
  const results = emptyResults(opts);
  log(
    `bench: ${host.nproc} CPUs, load average ${host.loadavg}; ${opts.duration} s per scenario, ${opts.connections} connections`,
  );
  await runAll(opts, results, tmp);
  const command = ["deno task bench", ...args].join(" ");
  const finished = new Date();
  const text = report(opts, results, { host, started, finished, command });
  console.log(text);
  if (opts.out) {
    await Deno.writeTextFile(
      opts.out,
      withReport(await readOr(opts.out), text),
    );
    log(`written to ${opts.out}`);
  }
  const verdicts = failures(opts, results);
  for (const line of verdicts) log(line);
  return verdicts.some((line) => line.startsWith("FAIL")) ? 1 : 0;
}

if (import.meta.main) {
  // Ctrl-C must not leave servers behind.
  Deno.addSignalListener("SIGINT", () => {
    stopAll().finally(() => Deno.exit(130));
  });
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    await stopAll();
    console.error(
      `error: ${error instanceof Error ? error.message : String(error)}`,
    );
    Deno.exit(1);
  }
}
