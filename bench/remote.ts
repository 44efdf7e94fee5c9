/**
 * The remote-store phase (`remote`, or `--kv remote`): 1, 2 and 4 instrumented app instances
 * on one KV Connect endpoint (denokv's own engine under node, tests/support/kv_connect.ts)
 * against one instance on a local KV file, under returning visitors, answers and first
 * visits. The load is split with one wrk per instance, the connections (and threads)
 * divided between them; no proxy sits in between, so nothing but the app is measured.
 */
import { HITS_KEY } from "../lib/sessions/mod.ts";
import { startKvConnect } from "../tests/support/kv_connect.ts";
import { log, sleep, wrk, type WrkResult } from "./load.ts";
import type { Options } from "./options.ts";
import {
  type BatchLoad,
  batchLoadEnv,
  failuresOf,
  storeStats,
} from "./phases.ts";
import { ANSWER_RATE_CAP } from "./scenarios.ts";
import { type Running, startServer, stop } from "./servers.ts";
import { COOKIE_NAME, openSessions } from "./visits.ts";
import { int, ms } from "./format.ts";

export type RemoteStore = "local" | "remote";

/** The clusters, in the report's order: the local file first, as the reference. */
export const REMOTE_CLUSTERS: { store: RemoteStore; instances: number }[] = [
  { store: "local", instances: 1 },
  { store: "remote", instances: 1 },
  { store: "remote", instances: 2 },
  { store: "remote", instances: 4 },
];

/** In this order: first visits last, as in the scenarios (a grown store slows the rest). */
export const REMOTE_LOADS: { load: BatchLoad; label: string }[] = [
  { load: "returning", label: "returning visitor `GET /`" },
  { load: "answers", label: "answer `POST /api/quizzes/:id/answers`" },
  { load: "first", label: "first visit `GET /`" },
];

/** The issue's floor: 2 instances on the remote store, returning visitors, vs hello. */
export const REMOTE_TARGET = { instances: 2, load: "returning", ratio: 0.10 };

export interface RemoteRow {
  store: RemoteStore;
  instances: number;
  load: BatchLoad;
  label: string;
  /** 2xx answers over the measured run, all instances together, and per second. */
  requests: number;
  rps: number;
  commits: number;
  commitsPerSecond: number;
  batchSizes: Record<string, number>;
  /** The worst instance's (wrk's percentiles cannot be merged). */
  p50_us: number;
  p99_us: number;
  /** Warm-up included. */
  non2xx: number;
  sockets: number;
  refused: number;
  /** What the stored hit counter grew by, and the requests that may have been in flight. */
  hitsGained: number;
  slack: number;
  exact: boolean;
}

/** One instance's share of wrk's connections and threads. */
export function shareOf(opts: Options, n: number, i: number): Options {
  const connections = Math.floor(opts.connections / n) +
    (i < opts.connections % n ? 1 : 0);
  const threads = Math.max(
    1,
    Math.min(Math.floor(opts.threads / n), connections),
  );
  return { ...opts, connections, threads };
}

/** The shared store as the bench opens it (to read the hit counter). */
interface Store {
  env: Record<string, string>;
  kv: Deno.Kv;
  close(): Promise<void>;
}

async function openStore(store: RemoteStore, tmp: string): Promise<Store> {
  if (store === "local") {
    const path = `${tmp}/remote-local.kv.sqlite3`;
    const kv = await Deno.openKv(path);
    return {
      env: { KV_PATH: path, BENCH_STORE_LIMITS: "local" },
      kv,
      close: () => Promise.resolve(kv.close()),
    };
  }
  const endpoint = await startKvConnect();
  // Deno.openKv takes the endpoint's token from this process's environment.
  Deno.env.set("DENO_KV_ACCESS_TOKEN", endpoint.token);
  const kv = await Deno.openKv(endpoint.url);
  return {
    env: {
      KV_PATH: endpoint.url,
      DENO_KV_ACCESS_TOKEN: endpoint.token,
      BENCH_STORE_LIMITS: "remote",
    },
    kv,
    close: async () => {
      kv.close();
      await endpoint.stop();
    },
  };
}

async function hitsOf(kv: Deno.Kv): Promise<number> {
  const entry = await kv.get<Deno.KvU64>(HITS_KEY, { consistency: "strong" });
  return Number(entry.value?.value ?? 0n);
}

/**
 * The hit counter once it has stopped moving (unchanged over 300 ms, at most 10 s): the
 * requests wrk left in flight are answered and committed by then, on a slow store too.
 */
async function settledHits(kv: Deno.Kv): Promise<number> {
  let last = await hitsOf(kv);
  for (const end = Date.now() + 10_000; Date.now() < end;) {
    await sleep(300);
    const now = await hitsOf(kv);
    if (now === last) break;
    last = now;
  }
  return last;
}

/**
 * Each instance's wrk environment as a function of how many answers to list. Returning
 * visitors: `--visitors` sessions opened round-robin (session j on instance j mod n), each
 * then sent by the next instance's wrk, so every session moves once, as behind a load
 * balancer without sticky sessions.
 */
async function envsFor(
  opts: Options,
  servers: Running[],
  load: BatchLoad,
  tmp: string,
): Promise<((answers: number) => Promise<Record<string, string>>)[]> {
  const n = servers.length;
  if (load !== "returning") {
    return await Promise.all(servers.map(async (s, i) => {
      const dir = `${tmp}/remote-${n}-${i}`;
      await Deno.mkdir(dir, { recursive: true });
      return await batchLoadEnv(opts, s, load, dir);
    }));
  }
  const ids: string[] = [];
  for (let j = 0; j < opts.visitors; j++) {
    ids.push((await openSessions(servers[j % n].url, 1))[0]);
  }
  return await Promise.all(servers.map(async (_, i) => {
    const file = `${tmp}/cookies-remote-${n}-${i}.txt`;
    const mine = ids.filter((_, j) => (j + 1) % n === i);
    await Deno.writeTextFile(file, mine.join("\n") + "\n");
    const env = { BENCH_COOKIE_NAME: COOKIE_NAME, BENCH_COOKIES: file };
    return () => Promise.resolve(env);
  }));
}

/** Every instance's wrk at once, each with its share of the connections. */
async function wrkAll(
  opts: Options,
  servers: Running[],
  load: BatchLoad,
  seconds: number,
  envs: Record<string, string>[],
): Promise<WrkResult[]> {
  const path = load === "answers" ? "" : "/";
  return await Promise.all(
    servers.map(async (s, i) =>
      (await wrk(
        shareOf(opts, servers.length, i),
        `${s.url}${path}`,
        seconds,
        envs[i],
      ))
        .result
    ),
  );
}

/** The committers' commits and batch sizes, summed over the instances. */
async function committers(servers: Running[]) {
  const all = await Promise.all(servers.map(storeStats));
  const batchSizes: Record<string, number> = {};
  let commits = 0;
  let refused = 0;
  for (const { committer, refused: r } of all) {
    commits += committer?.commits ?? 0;
    refused += r;
    for (const [b, k] of Object.entries(committer?.batchSizes ?? {})) {
      batchSizes[b] = (batchSizes[b] ?? 0) + k;
    }
  }
  return { commits, batchSizes, refused };
}

/** A 1 s warm-up on every instance, then `seconds` measured, counters read around it. */
async function remoteRun(
  opts: Options,
  servers: Running[],
  kv: Deno.Kv,
  load: BatchLoad,
  seconds: number,
  tmp: string,
) {
  const answers = load === "answers";
  const n = servers.length;
  const envFor = await envsFor(opts, servers, load, tmp);
  const cap = Math.ceil(ANSWER_RATE_CAP / n);
  const warm = await wrkAll(
    opts,
    servers,
    load,
    1,
    await Promise.all(envFor.map((f) => f(cap))),
  );
  // Each measured list: twice its instance's warm-up rate, so that it does not run out.
  const envs = await Promise.all(envFor.map((f, i) => {
    const w = warm[i];
    const rate = w.exhausted === 0 ? w.ok2xx / (w.duration_us / 1e6) : cap;
    return f(Math.ceil(Math.max(500, 2 * rate) * seconds));
  }));
  const hitsBefore = await settledHits(kv);
  const before = await committers(servers);
  const results = await wrkAll(opts, servers, load, seconds, envs);
  const hitsGained = await settledHits(kv) - hitsBefore;
  const after = await committers(servers);
  return { answers, warm, results, before, after, hitsGained };
}

/** One load's row from its run. */
function rowOf(
  opts: Options,
  cluster: { store: RemoteStore; instances: number },
  { load, label }: { load: BatchLoad; label: string },
  run: Awaited<ReturnType<typeof remoteRun>>,
): RemoteRow {
  const { answers, warm, results, before, after, hitsGained } = run;
  const duration = Math.max(...results.map((r) => r.duration_us)) / 1e6;
  const requests = results.reduce(
    (sum, r) => sum + (answers ? r.ok2xx : r.requests - r.status),
    0,
  );
  const fails = [...warm, ...results].map((r) => failuresOf(r, answers));
  const batchSizes: Record<string, number> = {};
  for (const [b, k] of Object.entries(after.batchSizes)) {
    const d = k - (before.batchSizes[b] ?? 0);
    if (d > 0) batchSizes[b] = d;
  }
  const commits = after.commits - before.commits;
  // wrk stops reading with up to one request per connection still being answered.
  const slack = opts.connections;
  return {
    ...cluster,
    load,
    label,
    requests,
    rps: requests / duration,
    commits,
    commitsPerSecond: commits / duration,
    batchSizes,
    p50_us: Math.max(...results.map((r) => r.p50_us)),
    p99_us: Math.max(...results.map((r) => r.p99_us)),
    non2xx: fails.reduce((s, f) => s + f.non2xx, 0),
    sockets: fails.reduce((s, f) => s + f.sockets, 0),
    refused: after.refused,
    hitsGained,
    slack,
    exact: hitsGained >= requests && hitsGained - requests <= slack,
  };
}

/** One cluster: its store, its instances, each load in turn; all stopped after. */
async function clusterRows(
  opts: Options,
  cluster: { store: RemoteStore; instances: number },
  seconds: number,
  tmp: string,
): Promise<RemoteRow[]> {
  const store = await openStore(cluster.store, tmp);
  const servers: Running[] = [];
  const rows: RemoteRow[] = [];
  try {
    for (let i = 0; i < cluster.instances; i++) {
      const tag = `remote-${cluster.store}-${cluster.instances}-${i}`;
      servers.push(await startServer("instrumented", tmp, tag, store.env));
    }
    for (const load of REMOTE_LOADS) {
      log(`remote: ${load.label}, ${describeCluster(cluster)}`);
      const run = await remoteRun(
        opts,
        servers,
        store.kv,
        load.load,
        seconds,
        tmp,
      );
      const row = rowOf(opts, cluster, load, run);
      log(
        `  ${int(row.rps)} req/s, p99 ${ms(row.p99_us)}, ${
          int(row.commitsPerSecond)
        } commits/s, non-2xx ${row.non2xx}, exact ${row.exact}`,
      );
      rows.push(row);
      const dead = servers.find((s) => s.exited);
      if (dead) throw new Error(`${dead.name} died (log: ${dead.log})`);
    }
  } finally {
    for (const s of servers) await stop(s);
    await store.close();
  }
  return rows;
}

export function describeCluster(
  c: { store: RemoteStore; instances: number },
): string {
  return c.store === "local"
    ? "1 instance, local KV file"
    : `${c.instances} instance${
      c.instances === 1 ? "" : "s"
    }, one KV Connect endpoint`;
}

/** The phase: every cluster of REMOTE_CLUSTERS, `seconds` per load. */
export async function remoteStore(
  opts: Options,
  seconds: number,
  tmp: string,
): Promise<RemoteRow[]> {
  const rows: RemoteRow[] = [];
  for (const cluster of REMOTE_CLUSTERS) {
    rows.push(...await clusterRows(opts, cluster, seconds, tmp));
  }
  return rows;
}

const histogram = (h: Record<string, number>) =>
  Object.entries(h).map(([b, n]) => `${b}: ${n}`).join(", ") || "–";

/** Whether the row the issue's floor is about exists, its ratio, and whether it passed. */
export function remoteVerdict(rows: RemoteRow[], helloRps: number | null) {
  const row = rows.find((r) =>
    r.store === "remote" && r.instances === REMOTE_TARGET.instances &&
    r.load === REMOTE_TARGET.load
  );
  if (!row) return null;
  const ratio = helloRps ? row.rps / helloRps : null;
  const clean = row.non2xx + row.sockets + row.refused === 0 && row.exact;
  const met = clean && ratio !== null && ratio >= REMOTE_TARGET.ratio;
  return { row, ratio, clean, met };
}

/** FAIL lines (errors, counts not exact), then the floor ("below target" unless --strict). */
export function remoteFailures(
  rows: RemoteRow[],
  helloRps: number | null,
  strict: boolean,
): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const where = `remote, ${r.label}, ${describeCluster(r)}`;
    if (r.non2xx + r.sockets + r.refused > 0) {
      out.push(
        `FAIL ${where}: ${r.non2xx} non-2xx, ${r.sockets} socket errors, ${r.refused} calls refused`,
      );
    }
    if (!r.exact) {
      out.push(
        `FAIL ${where}: hits grew by ${r.hitsGained}, ${r.requests} 2xx`,
      );
    }
  }
  const v = remoteVerdict(rows, helloRps);
  if (v && v.ratio !== null && v.ratio < REMOTE_TARGET.ratio) {
    out.push(
      `${strict ? "FAIL" : "below target"} remote: ${
        v.ratio.toFixed(3)
      } of hello < ${REMOTE_TARGET.ratio}`,
    );
  }
  return out;
}

function remoteRow(r: RemoteRow, helloRps: number | null): string {
  return `| ${describeCluster(r)} | ${r.label} | ${int(r.rps)} | ${
    helloRps ? (r.rps / helloRps).toFixed(3) : "–"
  } | ${int(r.commitsPerSecond)} | ${
    r.commits ? (r.requests / r.commits).toFixed(1) : "–"
  } | ${histogram(r.batchSizes)} | ${ms(r.p50_us)} | ${ms(r.p99_us)} | ${
    r.non2xx + r.sockets
  } | ${r.refused} | ${r.hitsGained} of ${r.requests} (±${r.slack}) ${
    r.exact ? "✓" : "✗"
  } |`;
}

/** The floor's verdict, as a line of the report's targets (none without its row). */
export function remoteTargetLines(
  rows: RemoteRow[],
  helloRps: number | null,
): string[] {
  const v = remoteVerdict(rows, helloRps);
  if (!v) return [];
  return [
    `- remote store, ${describeCluster(v.row)}, returning visitors: ${
      v.ratio === null ? "no hello run" : `${v.ratio.toFixed(3)} of hello`
    }, ${
      v.clean ? "no error" : "errors or inexact counts"
    }, target ≥ ${REMOTE_TARGET.ratio} with no error: ${
      v.met ? "met ✓" : "not met ✗"
    }`,
  ];
}

/** The report's section, with the floor's verdict. */
export function remoteReport(
  opts: Pick<Options, "threads" | "connections" | "visitors">,
  rows: RemoteRow[],
  seconds: number,
  helloRps: number | null,
): string[] {
  if (!rows.length) return [];
  const target = remoteTargetLines(rows, helloRps);
  return [
    `### Remote store: instances on one KV Connect endpoint`,
    ``,
    `The instrumented app (kv mode) on a KV Connect endpoint (denokv's own engine under node,`,
    `on this machine, so the network is loopback) with KV Connect's limits, 1, 2 and 4`,
    `instances, against 1 instance on a local KV file with local limits. One \`wrk\` per`,
    `instance, the ${opts.connections} connections and ${opts.threads} threads split between them, all at once:`,
    `${seconds} s after a 1 s warm-up per load, a fresh endpoint per row group. Returning visitors`,
    `are ${
      int(opts.visitors)
    } sessions opened round-robin over the instances, each then sent to`,
    `the next instance (no sticky sessions). req/s is combined; p50 and p99 are the worst`,
    `instance's; commits and batch sizes are the instances' committers' together. "hits" is`,
    `what the stored hit counter grew by against the 2xx answers (± the requests that may`,
    `have been in flight when wrk stopped).`,
    ``,
    `| instances, store | load | req/s | of hello | commits/s | requests per commit | batch sizes (requests: commits) | p50 | p99 | non-2xx + socket errors | refused calls | hits grew by (of 2xx) |`,
    `| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |`,
    ...rows.map((r) => remoteRow(r, helloRps)),
    ``,
    ...target,
    ...(target.length ? [``] : []),
  ];
}
