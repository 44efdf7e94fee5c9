/**
 * The growth phase (`growth`): how the app's costs grow with the live sessions in its store.
 * One KV file is filled directly, in `kv.atomic()` batches of 1,000, with session records
 * built by the app's own code (lib/sessions/: `newRecord`, `sessionSets`, the keys), up to
 * each size of `--growth` in turn; at each size: the janitor's `sweep()` over the file (a
 * full pass: every session is alive, so it deletes nothing), the first row of
 * `deno task sessions`, then the app on the file: the first page of `/admin/sessions`,
 * returning visitors' page views (wrk, sessions from the filled ones) and its RSS.
 */
import { loadConfig } from "../lib/base/config.ts";
import type { Config } from "../lib/base/config.ts";
import { sha256Hex } from "../lib/base/crypto.ts";
import { sweep } from "../lib/sessions/janitor.ts";
import { newRecord, sessionSets } from "../lib/sessions/kv_store.ts";
import { ROOT } from "../tests/support/server.ts";
import { cpuMs, log, rssMiB, sleep, wrk } from "./load.ts";
import type { Options } from "./options.ts";
import { fileSize } from "./phases.ts";
import { startServer, stop } from "./servers.ts";
import { COOKIE_NAME } from "./visits.ts";
import { int, ms } from "./format.ts";

/** The admin API's token for the app the phase starts (only this run's server has it). */
const ADMIN_TOKEN = "bench-admin-token-".padEnd(40, "0");

/** Records per commit: local KV's limit of mutations per atomic operation. */
export const FILL_BATCH = 1000;

/** The app's configuration as the bench's servers run it (none of its variables set). */
export const GROWTH_CONFIG: Config = loadConfig({});

/** Commits in flight while filling: local KV takes them about twice as fast as one by one. */
const FILL_IN_FLIGHT = 4;

/**
 * Adds `count` live sessions to `kv`, as first visits would have stored them (the visit in
 * the record, `visitsAtStart: 1`; no counter row), timestamps `now`. Returns the first
 * `keep` session ids (cookie values), to visit with.
 */
export async function fillSessions(
  kv: Deno.Kv,
  count: number,
  now: number,
  keep = 0,
  config: Config = GROWTH_CONFIG,
): Promise<string[]> {
  const kept: string[] = [];
  const batch = async (size: number) => {
    const atomic = kv.atomic();
    for (let i = 0; i < size; i++) {
      const id = crypto.randomUUID();
      if (kept.length < keep) kept.push(id);
      const record = { ...newRecord(now, "mcq-bench"), visitsAtStart: 1 };
      for (const w of sessionSets(sha256Hex(id), record, config, now)) {
        atomic.set(w.key, w.value, { expireIn: w.expireIn });
      }
    }
    if (!(await atomic.commit()).ok) {
      throw new Error("growth: a fill commit failed");
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const size = Math.min(FILL_BATCH, count - next);
      next += size;
      await batch(size);
    }
  };
  await Promise.all(Array.from({ length: FILL_IN_FLIGHT }, worker));
  return kept;
}

export interface GrowthRow {
  sessions: number;
  /** Seconds to add this step's sessions (from the previous size). */
  fillSeconds: number;
  added: number;
  diskBytes: number;
  sweepMs: number;
  /** What the sweep removed (0 and 0: every session alive). */
  swept: { sessions: number; counters: number };
  cliFirstMs: number | null;
  adminFirstMs: number;
  adminItems: number;
  rps: number;
  p50_us: number;
  p99_us: number;
  non2xx: number;
  rss: { rss: number; peak: number } | null;
}

/** `deno task sessions` as deno.json runs it, on `path`: ms until its first row. */
export async function cliFirstRow(path: string): Promise<number | null> {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  const [cmd, ...args] = String(tasks.sessions).split(" ");
  const t0 = performance.now();
  const child = new Deno.Command(cmd === "deno" ? Deno.execPath() : cmd, {
    args: [...args, "--kv", path, "--json"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let first: number | null = null;
  const decoder = new TextDecoder();
  const reader = child.stdout.getReader();
  for (let seen = "";;) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += decoder.decode(value, { stream: true });
    if (seen.includes("\n")) {
      first = performance.now() - t0;
      break;
    }
  }
  // The rest of the listing is not measured.
  try {
    child.kill("SIGTERM");
  } catch { /* already ended */ }
  await reader.cancel().catch(() => {});
  await child.status;
  return first;
}

/** The admin API's first page of sessions: ms for the whole answer, and its items. */
async function adminFirstPage(url: string) {
  const t0 = performance.now();
  const res = await fetch(`${url}/admin/sessions`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const body = await res.json();
  const elapsed = performance.now() - t0;
  if (res.status !== 200) {
    throw new Error(`growth: /admin/sessions answered ${res.status}`);
  }
  return { ms: elapsed, items: (body.sessions as unknown[]).length };
}

/** A full sweep of the file, timed (no server has it open meanwhile). */
async function timedSweep(path: string) {
  const kv = await Deno.openKv(path);
  try {
    const t0 = performance.now();
    const swept = await sweep(kv, GROWTH_CONFIG, Date.now());
    return { sweepMs: performance.now() - t0, swept };
  } finally {
    kv.close();
  }
}

/**
 * The app's janitor sweeps 1 s after its start; it is measured apart, so wait for it to end:
 * until the process is idle (under 5 % of a core over 500 ms), at most twice the sweep.
 */
async function janitorDone(pid: number, sweepMs: number) {
  await sleep(1200);
  for (const end = Date.now() + 2 * sweepMs + 2000; Date.now() < end;) {
    const before = await cpuMs(pid);
    await sleep(500);
    const after = await cpuMs(pid);
    if (before === null || after === null || after - before < 25) return;
  }
}

/** The app on the grown file: the admin page, the page views, its RSS. */
async function serve(
  opts: Options,
  path: string,
  ids: string[],
  sweepMs: number,
  tmp: string,
  tag: string,
) {
  const server = await startServer("rss", tmp, tag, {
    KV_PATH: path,
    ADMIN_TOKEN,
  });
  try {
    await janitorDone(server.child.pid, sweepMs);
    const admin = await adminFirstPage(server.url);
    const cookies = `${tmp}/cookies-${tag}.txt`;
    await Deno.writeTextFile(cookies, ids.join("\n") + "\n");
    const env = { BENCH_COOKIE_NAME: COOKIE_NAME, BENCH_COOKIES: cookies };
    await wrk(opts, `${server.url}/`, opts.warmup, env);
    const { result } = await wrk(opts, `${server.url}/`, opts.duration, env);
    const rss = await rssMiB(server.child.pid);
    if (server.exited) throw new Error(`growth: the app died (${server.log})`);
    return {
      adminFirstMs: admin.ms,
      adminItems: admin.items,
      rps: (result.requests - result.status) / (result.duration_us / 1e6),
      p50_us: result.p50_us,
      p99_us: result.p99_us,
      non2xx: result.status + result.connect + result.read + result.write +
        result.timeout,
      rss,
    };
  } finally {
    await stop(server);
  }
}

/** Says so when the largest size will take over 3 minutes to fill at the rate seen. */
function fillWarning(sizes: number[], size: number, rate: number) {
  const largest = sizes[sizes.length - 1];
  const seconds = (largest - size) / rate;
  if (largest > size && seconds > 180) {
    log(
      `  at ${int(rate)} sessions/s, filling to ${int(largest)} takes about ${
        int(seconds)
      } s more (--growth sets the sizes)`,
    );
  }
}

/** Each size of `opts.growth` in turn, on one file grown from one size to the next. */
export async function growth(opts: Options, tmp: string): Promise<GrowthRow[]> {
  const tag = "growth";
  const path = `${tmp}/${tag}.kv.sqlite3`;
  const rows: GrowthRow[] = [];
  let ids: string[] = [];
  let have = 0;
  for (const size of opts.growth) {
    log(`growth: filling to ${int(size)} sessions`);
    const kv = await Deno.openKv(path);
    const t0 = performance.now();
    let kept: string[];
    try {
      kept = await fillSessions(kv, size - have, Date.now(), opts.visitors);
    } finally {
      kv.close();
    }
    const fillSeconds = (performance.now() - t0) / 1000;
    if (ids.length === 0) ids = kept;
    const added = size - have;
    have = size;
    log(`  ${fillSeconds.toFixed(1)} s; sweep, CLI, app`);
    fillWarning(opts.growth, size, added / fillSeconds);
    const { sweepMs, swept } = await timedSweep(path);
    const cliFirstMs = await cliFirstRow(path);
    const diskBytes = await fileSize(path) + await fileSize(`${path}-wal`);
    const served = await serve(opts, path, ids, sweepMs, tmp, `${tag}-${size}`);
    rows.push({
      sessions: size,
      fillSeconds,
      added,
      diskBytes,
      sweepMs,
      swept,
      cliFirstMs,
      ...served,
    });
    log(
      `  sweep ${int(sweepMs)} ms, admin ${int(served.adminFirstMs)} ms, ${
        int(served.rps)
      } req/s, p99 ${ms(served.p99_us)}`,
    );
  }
  return rows;
}

const secs = (msValue: number) => `${(msValue / 1000).toFixed(2)} s`;
const growthOf = (rows: GrowthRow[], f: (r: GrowthRow) => number) =>
  rows.length > 1 && f(rows[0]) > 0
    ? `${(f(rows[rows.length - 1]) / f(rows[0])).toFixed(1)}×`
    : "–";

function growthRow(r: GrowthRow): string {
  return `| ${int(r.sessions)} | ${int(r.rps)} | ${ms(r.p50_us)} | ${
    ms(r.p99_us)
  } | ${r.non2xx} | ${r.rss ? r.rss.rss.toFixed(0) : "–"} | ${
    (r.diskBytes / 1024 / 1024).toFixed(1)
  } | ${secs(r.sweepMs)} | ${int(r.adminFirstMs)} ms | ${
    r.cliFirstMs === null ? "–" : `${int(r.cliFirstMs)} ms`
  } | ${int(r.added)} in ${r.fillSeconds.toFixed(1)} s |`;
}

/** The report's section: a row per size and, last, how much each cost grew. */
export function growthReport(
  opts: Pick<Options, "threads" | "connections" | "visitors" | "duration">,
  rows: GrowthRow[],
): string[] {
  if (!rows.length) return [];
  const [first, last] = [rows[0], rows[rows.length - 1]];
  const factor = (last.sessions / first.sessions).toFixed(0);
  return [
    `### How cost grows with stored sessions`,
    ``,
    `One KV file filled directly with live session records built by the app's own code`,
    `(\`kv.atomic()\` batches of ${FILL_BATCH}), grown from one size to the next. At each size:`,
    `returning visitors \`GET /\` (${
      int(opts.visitors)
    } of the filled sessions, \`wrk -t${opts.threads} -c${opts.connections}\`, ${opts.duration} s)`,
    `on main.ts (kv mode) and its RSS after; the janitor's \`sweep()\` over the file, a full pass`,
    `(every session alive: nothing deleted), with no server running; the first page of`,
    `\`GET /admin/sessions\` (the whole answer) and the first row of \`deno task sessions --json\`.`,
    ``,
    `| live sessions | req/s | p50 | p99 | non-2xx + socket errors | RSS MiB | KV file MiB | sweep | /admin/sessions first page | \`deno task sessions\` first row | filled |`,
    `| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
    ...rows.map(growthRow),
    ``,
    ...(rows.length > 1
      ? [
        `From ${int(first.sessions)} to ${
          int(last.sessions)
        } sessions (${factor}×): req/s ${growthOf(rows, (r) => r.rps)}, p99 ${
          growthOf(rows, (r) => r.p99_us)
        }, RSS ${growthOf(rows, (r) => r.rss?.rss ?? 0)}, sweep ${
          growthOf(rows, (r) => r.sweepMs)
        }, admin first page ${
          growthOf(rows, (r) => r.adminFirstMs)
        }, CLI first row ${growthOf(rows, (r) => r.cliFirstMs ?? 0)}.`,
        ``,
      ]
      : []),
  ];
}
