/**
 * The Markdown report of `deno task bench`, a function per section (in the report's
 * order), and how it replaces its block in docs/BENCHMARKS.md.
 */
import {
  STORE_LIMITS,
  type StoreCounts,
  type StoreLimitsName,
} from "./instrumented.ts";
import type { Options } from "./options.ts";
import { PEERS, type ServerName, SERVERS, specOf, WHO } from "./servers.ts";
import {
  type Outcome,
  PEER_FACTOR,
  type Scenario,
  SCENARIOS,
} from "./scenarios.ts";
import {
  BATCH_LIMITS,
  type BatchRun,
  type KvOps,
  LIMITS_LABEL,
  LOST_UPDATE_REQUESTS,
  type LostUpdates,
  type RssRun,
} from "./phases.ts";
import type { AnswersCheck } from "./visits.ts";
import type { Machine } from "./load.ts";
import { growthReport, type GrowthRow } from "./growth.ts";
import { remoteReport, type RemoteRow, remoteTargetLines } from "./remote.ts";
import { cores, int, mib, ms, NOISY } from "./format.ts";

export interface Results {
  outcomes: Outcome[];
  skipped: { scenario: Scenario; reason: string }[];
  lost: LostUpdates[];
  kvOps: KvOps[];
  batches: BatchRun[];
  batchSeconds: number;
  rss: RssRun[];
  /** The remote-store phase's rows (bench/remote.ts), `batchSeconds` per load. */
  remote: RemoteRow[];
  /** The growth phase's rows (bench/growth.ts), one per size. */
  growth: GrowthRow[];
  /** Parsing 1,000 generated GIFT questions, best of 5 (bench/quiz_parse.ts). */
  quizParseMs?: number;
  /** Scenarios before which the bench waited for other processes to calm down. */
  waited: string[];
}

/** What every section may need: the run's options and results, and the scenarios by id. */
interface Run {
  opts: Options;
  results: Results;
  byId: Map<string, Outcome>;
  /** A scenario's req/s over hello's (null without a hello run). */
  ratioOf: (o: Outcome) => number | null;
}

/** When and where it ran, for the report's header. */
export interface Context {
  host: Machine;
  started: Date;
  finished: Date;
  command: string;
}

export function who(s: Scenario): string {
  return WHO[s.server] ?? s.server;
}

function verdictOf(ratio: number | null, target: number | undefined): string {
  if (target === undefined || ratio === null) return "";
  return ratio >= target ? ` (≥ ${target} ✓)` : ` (< ${target} ✗)`;
}

function opsCell(c: StoreCounts): string[] {
  const muts = Object.entries(c.mutations).map(([k, n]) => `${n} ${k}`).join(
    " + ",
  );
  return [
    String(c.get),
    c.getMany ? `${c.getMany} (${c.getManyKeys} keys)` : "0",
    c.list ? `${c.list} (${c.listed} entries)` : "0",
    String(c.set + c.delete),
    c.commits
      ? `${c.commits}${c.conflicts ? ` (${c.conflicts} conflict)` : ""}`
      : "0",
    muts || "–",
    String(c.checks),
  ];
}

const histogram = (h: Record<string, number>) => {
  const order = (k: string) => Number(k.split("-")[0]);
  return Object.entries(h).sort((a, b) => order(a[0]) - order(b[0])).map((
    [k, n],
  ) => `${k}: ${int(n)}`).join(", ") || "–";
};

/** What the limits of one backend allow, in the report's words. */
function limitsText(name: StoreLimitsName): string {
  const l = STORE_LIMITS[name];
  return `${LIMITS_LABEL[name]}: ${l.checks} checks and ${
    int(l.mutations)
  } mutations per atomic, ${l.readRanges} keys per read`;
}

/** The group-commit section of the report: `seconds` of each load in `batches`. */
export function batchReport(
  opts: Pick<Options, "threads" | "connections" | "visitors">,
  batches: BatchRun[],
  seconds: number,
): string[] {
  const rows = batches.map((b) =>
    `| ${LIMITS_LABEL[b.limits]} | ${b.label} | ${int(b.rps)} | ${
      int(b.commitsPerSecond)
    } | ${b.commits ? (b.requests / b.commits).toFixed(1) : "–"} | ${
      histogram(b.batchSizes)
    } | ${b.largestBatch} | ${
      histogram(b.counts.mutationsPerCommit)
    } | ${b.counts.largestChecks} | ${
      (b.counts.getMany / Math.max(1, b.requests)).toFixed(2)
    } | ${(b.counts.getManyKeys / Math.max(1, b.counts.getMany)).toFixed(1)} |`
  );
  const verdicts = BATCH_LIMITS.filter((l) =>
    batches.some((b) => b.limits === l)
  )
    .map((l) => {
      const of = batches.filter((b) => b.limits === l);
      const sum = (f: (b: BatchRun) => number) =>
        of.reduce((n, b) => n + f(b), 0);
      const [refused, non2xx, sockets] = [
        sum((b) => b.refused),
        sum((b) => b.non2xx),
        sum((b) => b.sockets),
      ];
      return `- ${
        LIMITS_LABEL[l]
      }'s limits: ${refused} calls refused by the limits proxy (must be 0), ${non2xx} non-2xx responses and ${sockets} socket errors (must be 0): ${
        refused + non2xx + sockets === 0 ? "✓" : "✗"
      }`;
    });
  return [
    `### Group commit under each backend's limits`,
    ``,
    `The instrumented app (kv mode) under \`wrk -t${opts.threads} -c${opts.connections}\`, a fresh process for each load`,
    `and each store's limits, ${seconds} s after a 1 s warm-up (the counting Proxy costs a little`,
    `throughput). Returning visitors are ${
      int(opts.visitors)
    } sessions round-robin; the answers are a list of (session,`,
    `question) pairs each sent once, as in the answer stream. "store limits" are the limits the`,
    `app is told its store has; a proxy around the store enforces them too, refusing any call`,
    `over them, so a batch too large for that backend shows even on a local file:`,
    ``,
    ...BATCH_LIMITS.map((l) => `- ${limitsText(l)}`),
    ``,
    `Batch = requests whose writes went into one commit (the committer's own`,
    `\`stats().batchSizes\`: 1, 2-3, 4-7, ...); "largest" counts the warm-up too. Reads are`,
    `merged the same way (concurrent \`getMany\`s share one call of at most 10 keys). "most`,
    `checks" is the most versionstamp checks one commit carried.`,
    ``,
    `| store limits | load | req/s (2xx) | commits/s | requests per commit | batch sizes (requests: commits) | largest batch | mutations per commit (mutations: commits) | most checks | getMany calls per request | keys per getMany |`,
    `| --- | --- | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: |`,
    ...rows,
    ``,
    ...verdicts,
    ``,
  ];
}

/** A scenario's row of the main table. */
function scenarioRow(o: Outcome, ratio: number | null): string {
  const sockets = o.wrk.connect + o.wrk.read + o.wrk.write + o.wrk.timeout;
  const non2xx = o.answers
    ? o.answers.conflict + o.answers.other
    : o.wrk.status;
  return `| ${who(o.scenario)} | ${o.scenario.label} | ${int(o.rps)} | ${
    ms(o.wrk.p50_us)
  } | ${ms(o.wrk.p99_us)} | ${ratio === null ? "–" : ratio.toFixed(3)}${
    verdictOf(ratio, o.scenario.target)
  } | ${non2xx} | ${sockets} | ${
    o.cpuPerRequestUs === null ? "–" : `${o.cpuPerRequestUs.toFixed(0)} µs`
  } | ${cores(o.serverCores)} | ${cores(o.jsCores)} | ${cores(o.wrkCores)} | ${
    cores(o.otherCores)
  }${(o.otherCores ?? 0) > NOISY ? " ⚠" : ""} |`;
}

/** The main table's rows: each scenario run, then those not run and why. */
function scenarioRows(run: Run): string[] {
  const rows = run.results.outcomes.map((o) => scenarioRow(o, run.ratioOf(o)));
  for (const { scenario, reason } of run.results.skipped) {
    rows.push(
      `| ${
        who(scenario)
      } | ${scenario.label} | not run: ${reason} | | | | | | | | | | |`,
    );
  }
  return rows;
}

/**
 * A row against the peers: a column per peer, the same kind of scenario (returning or
 * first). A peer in the scenario's `beats` is judged against PEER_FACTOR; the others are shown.
 */
function peerRow(run: Run, o: Outcome, kind: "returning" | "first"): string {
  const cells = PEERS.map((p) => {
    const id = `${p}-${kind}`;
    const peer = run.byId.get(id);
    if (!peer) return "–";
    const x = o.rps / peer.rps;
    const judged = o.scenario.beats?.includes(id)
      ? ` ${x >= PEER_FACTOR ? "✓" : "✗"}`
      : "";
    return `${x.toFixed(1)}×${judged} (${int(peer.rps)})`;
  });
  const ratio = run.ratioOf(o);
  return `| ${who(o.scenario)}: ${o.scenario.label} | ${int(o.rps)} | ${
    ratio === null ? "–" : ratio.toFixed(3)
  }${verdictOf(ratio, o.scenario.target)} | ${cells.join(" | ")} |`;
}

function peerRows(run: Run): string[] {
  const peerRows = ["returning", "cookie-returning"].flatMap((id) => {
    const o = run.byId.get(id);
    return o ? [peerRow(run, o, "returning")] : [];
  });
  const firstRow = ["first", "cookie-first"].flatMap((id) => {
    const o = run.byId.get(id);
    return o ? [peerRow(run, o, "first")] : [];
  });
  return [...peerRows, ...firstRow];
}

/** The peers some scenario is judged against. */
function judgedPeers(): Set<ServerName | undefined> {
  return new Set(
    SCENARIOS.flatMap((s) => s.beats ?? []).map((id) =>
      SCENARIOS.find((s) => s.id === id)?.server
    ),
  );
}

/** A scenario's row of the exactness table. */
function exactRow(o: Outcome): string {
  const e = o.exactness!;
  const peer = specOf(o.scenario.server).kind === "peer";
  const diff = e.counted - e.acknowledged;
  const visitsLost = e.visits !== null ? e.counted - e.visits : 0;
  const hitsOk = diff >= 0 && diff <= e.slack;
  const verdict = e.ok
    ? "exact ✓"
    : peer
    ? `${
      hitsOk ? "hits exact" : diff < 0 ? `${-diff} hits lost` : "hits over"
    }${visitsLost !== 0 ? `, ${visitsLost} visits lost` : ""} (peer)`
    : "MISMATCH ✗";
  return `| ${who(o.scenario)} | ${o.scenario.label} | ${
    int(e.acknowledged)
  } | ${int(e.counted)} | ${diff} (≤ ${e.slack}) | ${
    e.visits === null
      ? specOf(o.scenario.server).visitsInCookie &&
          o.scenario.session === "returning"
        ? "in the cookie"
        : "–"
      : int(e.visits)
  } | ${verdict} |`;
}

function header(run: Run, ctx: Context): string[] {
  const { opts, results } = run;
  const { host, started, finished, command } = ctx;
  return [
    `## Latest run`,
    ``,
    `- date: ${started.toISOString()} (took ${
      ((finished.getTime() - started.getTime()) / 60000).toFixed(1)
    } min)`,
    `- machine: ${host.nproc} CPUs (nproc), ${host.cpu}, ${host.memory}; load average at start ${host.loadavg}, ${
      host.busyBefore === null
        ? "busy share unknown"
        : `${(host.busyBefore * 100).toFixed(0)} % busy just before`
    }`,
    `- deno ${host.deno}, node ${host.node}, python ${host.python}, wrk ${host.wrk}`,
    `- command: \`${command}\``,
    `- load: \`wrk -t${opts.threads} -c${opts.connections} -d${opts.duration}s --latency -s bench/wrk.lua\` for every scenario, after a ${opts.warmup} s warm-up; wrk runs on the same machine`,
    `- returning visitors: ${
      int(opts.visitors)
    } distinct sessions, sent round-robin over the ${opts.connections} connections`,
    `- servers (each its own process, stdout/stderr to a file): ${
      (Object.keys(WHO) as ServerName[]).map((n) => SERVERS[n].describe).join(
        "; ",
      )
    }`,
    ...(results.waited.length
      ? [
        `- waited for other processes to calm down before: ${
          results.waited.join(", ")
        }`,
      ]
      : []),
    ``,
  ];
}

function scenariosSection(run: Run): string[] {
  const { opts } = run;
  return [
    `| who | scenario | req/s | p50 | p99 | ratio to hello (target) | non-2xx | socket errors | server CPU / req | server CPU (cores) | its JS thread (cores) | wrk CPU (cores) | other processes (cores) |`,
    `| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...scenarioRows(run),
    ``,
    `Returning visitors: ${
      int(opts.visitors)
    } sessions are opened first (one first visit each); each wrk thread`,
    `takes its own share of them and sends them round-robin over its connections (wrk has no`,
    `per-connection hook), so a session comes back only after every other session of that share.`,
    `With more sessions than connections, a session has about one request in flight at most.`,
    `In cookie mode the cookie sent is the sealed value from that first visit's \`Set-Cookie\`,`,
    `every request: each counted response re-issues the cookie (visits +1 inside), which wrk`,
    `ignores; the first one stays valid until the idle timeout (30 min), far beyond the run.`,
    `The answer stream sends a list of`,
    `(session, question) answers each exactly once (see below); its req/s counts 2xx answers.`,
    `"server CPU / req" is the server process's user+system time (all its threads) over the run`,
    `divided by the requests wrk completed. "other processes" is machine CPU time used by neither`,
    `the server, wrk nor the bench; above ${NOISY} cores (⚠) the machine was shared and the numbers`,
    `are doubtful. "its JS thread" is the server's main thread alone: JavaScript runs only there`,
    `(Deno and Node), so near 1.00 the server is bound by its JavaScript whatever the number of`,
    `cores. Python's threads all share one interpreter lock.`,
    ``,
  ];
}

function peersSection(run: Run): string[] {
  const judged = judgedPeers();
  return [
    `### Against the peers (same machine, same run, same wrk settings)`,
    ``,
    `| mcq-edge | req/s | ratio to hello (target) | ${
      PEERS.map((p) =>
        `× ${WHO[p]}${judged.has(p) ? ` (returning: ≥ ${PEER_FACTOR}×)` : ""}`
      ).join(" | ")
    } |`,
    `| --- | ---: | --- | ${PEERS.map(() => "---").join(" | ")} |`,
    ...peerRows(run),
    ``,
  ];
}

function threadsSection(run: Run): string[] {
  return [
    `Server CPU per request by thread (µs; "main (JS)" runs all JavaScript and the HTTP`,
    `server, the other names are the runtime's worker threads, e.g. KV's SQLite work is \`sw-0\`):`,
    ``,
    ...run.results.outcomes.map((o) =>
      `- ${who(o.scenario)}, ${o.scenario.label}: ${
        o.threads.filter(([, us]) => us >= 1).slice(0, 6).map(([name, us]) =>
          `${name} ${us.toFixed(0)}`
        ).join(", ") || "–"
      }`
    ),
    ``,
  ];
}

function exactnessSection(run: Run): string[] {
  return [
    `### Exactness`,
    ``,
    `Counters read just before and after each measured run (after the warm-up has settled):`,
    `\`GET /api/me\` for mcq-edge, the page itself for a peer. "acknowledged" is the counted`,
    `2xx responses wrk received; "counted" is what the site's hits counter grew by. The server`,
    `may count up to one request per connection more: requests in flight when wrk stopped are`,
    `answered and counted but never read by wrk. Fewer counted than acknowledged is a lost`,
    `count; more than that slack, a double count. "visits counted" is what the returning`,
    `sessions' visit counters grew by (must equal "counted").`,
    ``,
    `| who | scenario | acknowledged (wrk) | counted (hits) | difference | visits counted | verdict |`,
    `| --- | --- | ---: | ---: | ---: | ---: | --- |`,
    ...run.results.outcomes.filter((o) => o.exactness).map(exactRow),
    ``,
  ];
}

function answersSection(a: AnswersCheck | undefined): string[] {
  if (!a) return [];
  return [
    `### Answer stream`,
    ``,
    `Sessions are opened first (first visits); the list holds each (session, question) pair`,
    `once, question by question and session by session, so a session's answers are never in`,
    `flight together (${
      int(a.sessions)
    } sessions × up to 30 questions, choices at random); each wrk`,
    `thread sends its own lines in order, once. A thread that sends all its lines asks`,
    `\`GET /healthz\` (not counted) until its answers are read, then stops: ${
      a.exhausted
        ? `**${a.exhausted} thread(s) ran out**, so req/s is a lower bound`
        : "none ran out"
    }.`,
    `After the run every one of these sessions is read through \`GET /api/me\`: the`,
    `answered questions must equal the 2xx answers wrk saw (plus at most the answers in`,
    `flight at the end), no (session, quiz) may have more answered than were sent to it`,
    `(a double score), no answer may be refused (409 would mean a pair scored twice), and`,
    `the sessions' visit counters must have grown by the answers scored.`,
    ``,
    `| listed | sent | 2xx | 409 | other non-2xx | answered in the store | difference | over-answered (session, quiz) | visits counted | verdict |`,
    `| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
    `| ${int(a.planned)} | ${int(a.sent)} | ${
      int(a.ok2xx)
    } | ${a.conflict} | ${a.other} | ${int(a.stored)} | ${
      a.stored - a.ok2xx
    } (≤ ${a.slack}) | ${a.overflow} | ${int(a.visits)} | ${
      a.ok ? "exact: none lost, none scored twice ✓" : "MISMATCH ✗"
    } |`,
    ``,
  ];
}

function lostSection(run: Run): string[] {
  const { lost } = run.results;
  if (!lost.length) return [];
  return [
    `### Lost updates: ${LOST_UPDATE_REQUESTS} concurrent requests with ONE cookie`,
    ``,
    `After the runs, on each server: a fresh session, its counters read, then`,
    `${LOST_UPDATE_REQUESTS} \`GET /\` at once with its cookie (fetch, one connection each), then`,
    `the counters read again. In cookie mode each response re-issues the cookie; the client`,
    `keeps the one that arrived last, as a browser would.`,
    ``,
    `| server | 2xx | failed | visits gained | visits lost | hits gained | hits lost |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...lost.map((l) =>
      `| ${
        WHO[l.server] ?? l.server
      } | ${l.ok} | ${l.failed} | ${l.visitsGained} | ${l.ok - l.visitsGained}${
        l.server === "app-cookie" && l.ok - l.visitsGained > 0
          ? " (by design: the count is in the cookie)"
          : ""
      } | ${l.hitsGained} | ${l.ok - l.hitsGained} |`
    ),
    ``,
  ];
}

function kvOpsSection(k: KvOps): string[] {
  return [
    `### KV operations per request by route (${k.mode} mode)`,
    ``,
    `bench/instrumented.ts: the app's \`createApp\` with a Proxy around a real KV that counts`,
    `each call; one request per route, one at a time (so nothing is shared with another`,
    `request's read or commit), counts reset before each. "getMany" shows the keys read,`,
    `"commits" the atomic commits (each one SQLite transaction and fsync; the group commit`,
    `is one of them), "mutations" what those commits wrote, "checks" their versionstamp checks.`,
    ``,
    `| request | status | get | getMany | list | set/delete alone | commits | mutations | checks |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |`,
    ...k.routes.map((r) =>
      `| ${r.label} | ${r.status} | ${opsCell(r.counts).join(" | ")} |`
    ),
    ``,
  ];
}

/** A session's row of the KV bytes table. */
function bytesRow(k: KvOps, b: KvOps["bytes"][number]): string {
  if (k.mode === "cookie") {
    return `| cookie | ${b.label} | – (only the shared \`hits\` counter) | ${b.cookieBytes} bytes of cookie value |`;
  }
  const perSession = b.keys.filter((x) => !x.key.startsWith("users/"));
  const total = perSession.reduce(
    (s, x) => s + x.keyBytes + x.valueBytes,
    0,
  );
  const user = b.keys.find((x) => x.key.startsWith("users/"));
  return `| kv | ${b.label} | ${total} (${
    perSession.map((x) => `${x.key}: ${x.keyBytes} + ${x.valueBytes}`).join(
      "; ",
    )
  })${
    user
      ? `; plus the user record ${user.keyBytes} + ${user.valueBytes}, per user`
      : ""
  } | ${b.cookieBytes} bytes of cookie value |`;
}

function bytesSection(run: Run): string[] {
  const bytesRows = run.results.kvOps.flatMap((k) =>
    k.bytes.map((b) => bytesRow(k, b))
  );
  if (!bytesRows.length) return [];
  return [
    `### KV bytes per session`,
    ``,
    `Key bytes in Deno KV's key encoding (a type byte per part, strings NUL-terminated);`,
    `value bytes as KV stores them: V8 serialization (\`node:v8\` \`serialize\`, what KV uses`,
    `for objects), 8 for a counter. SQLite adds its own row and index overhead on disk (see`,
    `the RSS table for bytes on disk per session at scale).`,
    ``,
    `| mode | session | KV bytes: key + value | cookie |`,
    `| --- | --- | --- | ---: |`,
    ...bytesRows,
    ``,
  ];
}

/** A run's row of the memory table; `all`: every run (for its control). */
function rssRow(r: RssRun, all: RssRun[]): string {
  const growth = (x: RssRun) =>
    x.before && x.after ? (x.after.rss - x.before.rss) * 1024 * 1024 : null;
  const grow = growth(r);
  const base = all.find((x) => x.who === r.who && x.mode === "returning");
  const net = grow !== null && base && growth(base) !== null
    ? (grow - growth(base)!) / r.sessions
    : null;
  const stored = r.storedKeys
    ? Object.entries(r.storedKeys).map(([k, v]) =>
      `${k}: ${int(v.count)} × ${(v.bytes / v.count).toFixed(0)}`
    ).join("; ")
    : "–";
  const control = r.mode === "returning";
  return `| ${r.who} | ${
    control
      ? `control: ${int(r.requests)} returning visits`
      : `${int(r.requests)} first visits`
  } | ${int(r.sessions)}${r.exact ? "" : " (≈)"} | ${
    r.seconds.toFixed(0)
  } s | ${mib(r.before?.rss)} MiB | ${mib(r.after?.rss)} MiB (${
    mib(r.after?.peak)
  }) | ${
    grow === null || control
      ? "–"
      : `${int(grow / r.sessions)} bytes${net === null ? "" : ` (${int(net)})`}`
  } | ${
    r.diskBytes === undefined
      ? "–"
      : control
      ? `${mib(r.diskBytes / 1024 / 1024)} MiB`
      : `${mib(r.diskBytes / 1024 / 1024)} MiB (${
        int(r.diskBytes / r.sessions)
      } bytes)`
  } | ${stored} |`;
}

function rssSection(run: Run): string[] {
  const { opts } = run;
  const { rss } = run.results;
  if (!rss.length) return [];
  return [
    `### Memory after ${int(opts.sessions)} sessions`,
    ``,
    `A fresh server process each; VmRSS read from /proc idle after start, then`,
    `${
      int(opts.sessions)
    } counted requests from wrk (\`-c${opts.connections}\`, stopped once the hit`,
    `counter reached the number), then VmRSS again 1.5 s after the load ended (VmHWM is the`,
    `peak). "first visits": every request without a cookie, so each one creates a session.`,
    `"control": the same number of returning visits of ${opts.connections} sessions, i.e. the same load`,
    `without the sessions, to tell memory that sessions take from memory that serving takes`,
    `(V8 heap, allocator arenas, SQLite's page cache). mcq-edge keeps sessions in the KV file;`,
    `its counts are exact (the keys in the store afterwards); the peers keep them in their`,
    `heap, counted by their hit counter. "beyond the control" is the growth minus the`,
    `control's growth, per session: what the sessions themselves cost in memory.`,
    ``,
    `| server | load | sessions | took | RSS before | RSS after (peak) | growth per session (beyond the control) | KV file on disk (per session) | stored keys × mean key + value bytes |`,
    `| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
    ...rss.map((r) => rssRow(r, rss)),
    ``,
  ];
}

/** The targets of the scenarios: a ratio to hello, and a factor over a peer. */
function scenarioTargets(run: Run): string[] {
  const targets: string[] = [];
  for (const o of run.results.outcomes) {
    const ratio = run.ratioOf(o);
    if (o.scenario.target !== undefined && ratio !== null) {
      targets.push(
        `- ${who(o.scenario)}, ${o.scenario.label}: ${
          ratio.toFixed(3)
        } of hello, target ≥ ${o.scenario.target}: ${
          ratio >= o.scenario.target ? "met ✓" : "not met ✗"
        }`,
      );
    }
    for (const id of o.scenario.beats ?? []) {
      const peer = run.byId.get(id);
      if (!peer) continue;
      const x = o.rps / peer.rps;
      targets.push(
        `- ${who(o.scenario)}, ${o.scenario.label}: ${x.toFixed(1)}× ${
          who(peer.scenario)
        }, target ≥ ${PEER_FACTOR}×: ${
          x >= PEER_FACTOR ? "met ✓" : "not met ✗"
        }`,
      );
    }
  }
  return targets;
}

/** The targets of the checks: the answer stream's, and no lost update on the app. */
function checkTargets(run: Run, a: AnswersCheck | undefined): string[] {
  const targets: string[] = [];
  if (a) {
    targets.push(
      `- answer stream: ${
        a.ok ? "zero lost or double-scored answers ✓" : "answers MISMATCH ✗"
      }`,
    );
  }
  for (const l of run.results.lost) {
    if (specOf(l.server).kind !== "app") continue;
    const visitsLost = l.ok - l.visitsGained;
    targets.push(
      `- lost updates, ${WHO[l.server]}: ${visitsLost} visits, ${
        l.ok - l.hitsGained
      } hits lost of ${l.ok}${
        specOf(l.server).visitsInCookie
          ? " (visits in the cookie: lost by design)"
          : visitsLost === 0 && l.ok === l.hitsGained
          ? " ✓"
          : " ✗"
      }`,
    );
  }
  return targets;
}

function targetsSection(run: Run, a: AnswersCheck | undefined): string[] {
  const hello = run.results.outcomes.find((o) => o.scenario.server === "hello");
  const targets = [
    ...scenarioTargets(run),
    ...remoteTargetLines(run.results.remote, hello?.rps ?? null),
    ...checkTargets(run, a),
  ];
  return targets.length ? [`### Targets`, ``, ...targets, ``] : [];
}

/** The whole report, in Markdown. */
export function report(opts: Options, results: Results, ctx: Context): string {
  const { outcomes } = results;
  const hello = outcomes.find((o) => o.scenario.server === "hello");
  const run: Run = {
    opts,
    results,
    byId: new Map(outcomes.map((o) => [o.scenario.id, o])),
    ratioOf: (o) => hello ? o.rps / hello.rps : null,
  };
  const a = outcomes.find((o) => o.answers)?.answers ?? undefined;
  return [
    ...header(run, ctx),
    ...scenariosSection(run),
    ...peersSection(run),
    ...threadsSection(run),
    ...exactnessSection(run),
    ...answersSection(a),
    ...lostSection(run),
    ...results.kvOps.flatMap(kvOpsSection),
    ...bytesSection(run),
    ...(results.batches.length
      ? batchReport(opts, results.batches, results.batchSeconds)
      : []),
    ...rssSection(run),
    ...remoteReport(
      opts,
      results.remote,
      results.batchSeconds,
      hello?.rps ?? null,
    ),
    ...growthReport(opts, results.growth),
    ...quizParseSection(results.quizParseMs),
    ...targetsSection(run, a),
  ].join("\n");
}

/** How long reading quiz files takes at start-up, at a size no class reaches. */
function quizParseSection(ms: number | undefined): string[] {
  if (ms === undefined) return [];
  const verdict = ms < 1000 ? "well under a second ✓" : "not under a second ✗";
  return [
    "### Quiz files at start-up",
    "",
    `Parsing 1,000 generated GIFT questions (bench/quiz_parse.ts, best of 5): ${
      ms.toFixed(1)
    } ms, ${verdict}.`,
    "",
  ];
}

const BEGIN =
  "<!-- deno task bench: begin (generated, replaced by each run) -->";
const END = "<!-- deno task bench: end -->";

export async function readOr(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * The report goes between the markers; whatever else the file holds (the hand-written
 * analysis) is kept. A file without markers gets a title and the report.
 */
export function withReport(existing: string | null, report: string): string {
  const block = `${BEGIN}\n${report.trimEnd()}\n${END}`;
  const start = existing?.indexOf(BEGIN) ?? -1;
  const end = existing?.indexOf(END) ?? -1;
  if (existing && start >= 0 && end > start) {
    return existing.slice(0, start) + block + existing.slice(end + END.length);
  }
  return `# Benchmarks\n\nWritten by \`deno task bench\` (bench/bench.ts).\n\n${block}\n`;
}

// ---------------------------------------------------------------------------------------
// Main
