/**
 * The load and what it costs: wrk runs (bench/wrk.lua) and their parsing, and the CPU and
 * memory readers of /proc (per process, per thread, the whole machine) the report is built
 * from; waiting for the machine to be quiet.
 */
import { ROOT } from "../tests/support/server.ts";
import type { Options } from "./options.ts";

const WRK_SCRIPT = `${ROOT}bench/wrk.lua`;

/** A progress line (on stderr: stdout is the report). */
export function log(line: string) {
  console.error(line);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU time (user + system, all threads) a process has used, in milliseconds. */
export async function cpuMs(pid: number): Promise<number | null> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // The command name may hold spaces; fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    return (Number(fields[11]) + Number(fields[12])) * 10; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/**
 * CPU time per thread of a process, in ms, grouped by thread name; the main thread (the one
 * running JavaScript in Deno and Node) is reported as "main (JS)".
 */
export async function threadCpu(
  pid: number,
  mainName = "main (JS)",
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      try {
        const stat = await Deno.readTextFile(
          `/proc/${pid}/task/${task.name}/stat`,
        );
        const name = task.name === String(pid)
          ? mainName
          : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const ms = (Number(f[11]) + Number(f[12])) * 10;
        out.set(name, (out.get(name) ?? 0) + ms);
      } catch { /* the thread ended */ }
    }
  } catch { /* not Linux, or the process ended */ }
  return out;
}

/** Resident memory of a process (VmRSS) and its peak (VmHWM), in MiB. */
export async function rssMiB(
  pid: number,
): Promise<{ rss: number; peak: number } | null> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = (field: string) =>
      Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1]);
    return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
export async function machineCpu(): Promise<
  { busy: number; total: number } | null
> {
  try {
    const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
    const n = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = n[3] + (n[4] ?? 0);
    const total = n.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/**
 * CPU time of this process and of its reaped children (wrk, once it has exited), in ms.
 * The children's share over a wrk run is wrk's own CPU time.
 */
export async function selfCpu(): Promise<
  { self: number; children: number } | null
> {
  try {
    const stat = await Deno.readTextFile("/proc/self/stat");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    return { self: (f[11] + f[12]) * 10, children: (f[13] + f[14]) * 10 };
  } catch {
    return null;
  }
}

/** The share of the machine busy over `ms` while the bench itself does nothing. */
export async function busyShare(ms: number): Promise<number | null> {
  const a = await machineCpu();
  await sleep(ms);
  const b = await machineCpu();
  return a && b && b.total > a.total
    ? (b.busy - a.busy) / (b.total - a.total)
    : null;
}

/**
 * Other processes on a 2-core machine change the numbers a lot: waits (up to `seconds`)
 * for a window of `windowMs` with less than 15 % of the machine busy, and says what it found.
 */
export async function waitForQuiet(
  seconds: number,
  windowMs = 2000,
): Promise<number | null> {
  const deadline = Date.now() + seconds * 1000;
  for (let said = false;;) {
    const busy = await busyShare(windowMs);
    if (busy === null || busy < 0.15 || Date.now() >= deadline) return busy;
    if (!said) {
      log(
        `machine ${
          (busy * 100).toFixed(0)
        } % busy: waiting up to ${seconds} s for it to calm down`,
      );
      said = true;
    }
  }
}

// wrk

export interface WrkResult {
  requests: number;
  duration_us: number;
  status: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
  /** With a request list (BENCH_REQUESTS): answers by status, fillers, threads run out. */
  ok2xx: number;
  conflict: number;
  other: number;
  fillers: number;
  exhausted: number;
  /** Lines each thread sent. */
  sent: number[];
}

function wrkCommand(
  opts: Options,
  url: string,
  seconds: number,
  env: Record<string, string>,
): Deno.Command {
  return new Deno.Command("wrk", {
    args: [
      `-t${opts.threads}`,
      `-c${opts.connections}`,
      `-d${seconds}s`,
      "--latency",
      "-s",
      WRK_SCRIPT,
      url,
    ],
    env: { BENCH_THREADS: String(opts.threads), ...env },
    stdout: "piped",
    stderr: "piped",
  });
}

function parseWrk(output: Deno.CommandOutput, ignoreExit = false) {
  const text = new TextDecoder().decode(output.stdout);
  const err = new TextDecoder().decode(output.stderr);
  const line = text.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if ((!output.success && !ignoreExit) || !line) {
    throw new Error(`wrk failed (exit ${output.code}):\n${text}${err}`);
  }
  return {
    result: JSON.parse(line.slice("BENCH_JSON ".length)) as WrkResult,
    text,
  };
}

export async function wrk(
  opts: Options,
  url: string,
  seconds: number,
  env: Record<string, string>,
): Promise<{ result: WrkResult; text: string }> {
  let output;
  try {
    output = await wrkCommand(opts, url, seconds, env).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "wrk is not installed (Debian/Ubuntu: apt-get install wrk)",
      );
    }
    throw error;
  }
  return parseWrk(output);
}

/** Runs wrk until `done()` says so (checked every 250 ms) or `maxSeconds` pass. */
export async function wrkUntil(
  opts: Options,
  url: string,
  maxSeconds: number,
  env: Record<string, string>,
  done: () => Promise<boolean>,
): Promise<WrkResult> {
  const child = wrkCommand(opts, url, maxSeconds, env).spawn();
  let exited = false;
  const output = child.output().finally(() => exited = true);
  while (!exited) {
    await sleep(250);
    if (!exited && await done()) {
      try {
        child.kill("SIGINT"); // wrk stops, prints its summary and calls done()
      } catch { /* already gone */ }
      break;
    }
  }
  return parseWrk(await output, true).result;
}

/** What the report says about the machine and the tools. */
export interface Machine {
  nproc: number;
  cpu: string;
  memory: string;
  deno: string;
  node: string;
  python: string;
  wrk: string;
  loadavg: string;
  /** Share of the machine busy just before the start (other processes). */
  busyBefore: number | null;
}

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args }).output();
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    return text.trim().split("\n")[0];
  } catch {
    return "not installed";
  }
}

export async function machine(): Promise<Machine> {
  let cpu = "unknown";
  let memory = "unknown";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? cpu;
    const mem = await Deno.readTextFile("/proc/meminfo");
    const kb = Number(mem.match(/^MemTotal:\s+(\d+)/m)?.[1]);
    if (kb) memory = `${(kb / 1024 / 1024).toFixed(1)} GiB RAM`;
  } catch { /* not Linux */ }
  const wrkText = await version("wrk", ["-v"]);
  let loadavg = "unknown";
  try {
    loadavg = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3)
      .join(" ");
  } catch { /* not Linux */ }
  return {
    nproc: navigator.hardwareConcurrency,
    cpu,
    memory,
    deno: Deno.version.deno,
    node: await version("node", ["--version"]),
    python: (await version("python3", ["--version"])).replace(/^Python /, ""),
    wrk: wrkText.match(/^wrk (\S+)/)?.[1] ?? wrkText,
    loadavg,
    busyBefore: null,
  };
}
