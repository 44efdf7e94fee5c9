/**
 * `deno task bench`'s options: USAGE, parseOptions, and which scenarios and phases a run
 * takes (`--only`, `--skip`).
 */
import { parseArgs } from "node:util";
import { ROOT } from "../tests/support/server.ts";
import {
  CHOOSABLE,
  type Phase,
  PHASES,
  type Scenario,
  SCENARIOS,
} from "./scenarios.ts";
import type { ServerName } from "./servers.ts";

export const USAGE =
  `usage: deno task bench [--duration S] [--warmup S] [--connections N] [--threads N]
                        [--visitors N] [--quick] [--only id,id] [--skip id,id] [--sessions N]
                        [--out FILE | --no-write] [--keep] [--strict] [--wait-quiet S]
                        [--kv remote] [--growth N,N,N]
--kv remote: only the remote-store phase (and hello, its reference)
--growth: the live sessions the growth phase fills the store with (default 10000,100000,1000000;
          --quick: 2000,20000)
scenarios: ${SCENARIOS.map((s) => s.id).join(", ")}
phases: ${PHASES.join(", ")}
servers (each: its scenarios and its lost-update check): ${
    CHOOSABLE.join(", ")
  }`;

export interface Options {
  duration: number;
  warmup: number;
  connections: number;
  threads: number;
  /** Sessions the returning-visitor scenarios send round-robin over the connections. */
  visitors: number;
  quick: boolean;
  only: string[] | null;
  skip: string[];
  /** Sessions created for the RSS measurement. */
  sessions: number;
  out: string | null;
  keep: boolean;
  strict: boolean;
  /** Seconds to wait for other processes to calm down before starting. */
  waitQuiet: number;
  /** Live sessions in the store for each step of the growth phase. */
  growth: number[];
}

export const GROWTH_SIZES = [10_000, 100_000, 1_000_000];
export const GROWTH_QUICK = [2_000, 20_000];

/** `--growth 10000,100000`: whole numbers ≥ 1, in increasing order. */
export function growthSizes(raw: string | undefined, quick: boolean): number[] {
  if (raw === undefined) return quick ? GROWTH_QUICK : GROWTH_SIZES;
  const sizes = raw.split(",").map((s) => s.trim().replaceAll("_", ""));
  if (!sizes.every((s) => /^\d+$/.test(s) && Number(s) >= 1)) {
    throw new UsageError(
      `--growth must be whole numbers ≥ 1 separated by commas, got "${raw}"`,
    );
  }
  return sizes.map(Number).sort((a, b) => a - b);
}

/** `--kv remote` runs the remote-store phase and hello (its reference), nothing else. */
function kvOnly(raw: string | undefined): string[] | null {
  if (raw === undefined) return null;
  if (raw !== "remote") {
    throw new UsageError(`--kv must be "remote", got "${raw}"`);
  }
  return ["hello", "remote"];
}

export class UsageError extends Error {}

export function positiveInt(
  name: string,
  raw: string | undefined,
  fallback: number,
) {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new UsageError(`--${name} must be a whole number ≥ 1, got "${raw}"`);
  }
  return Number(raw);
}

export function idList(name: string, raw: string | undefined): string[] | null {
  if (!raw) return null;
  const ids = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const id of ids) {
    if (
      !SCENARIOS.some((s) => s.id === id) && !PHASES.includes(id as Phase) &&
      !CHOOSABLE.includes(id as ServerName)
    ) {
      throw new UsageError(
        `--${name}: unknown scenario, phase or server "${id}"`,
      );
    }
  }
  return ids;
}

export function parseOptions(args: string[]): Options | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        duration: { type: "string" },
        warmup: { type: "string" },
        connections: { type: "string" },
        threads: { type: "string" },
        visitors: { type: "string" },
        quick: { type: "boolean" },
        only: { type: "string" },
        skip: { type: "string" },
        sessions: { type: "string" },
        out: { type: "string" },
        "no-write": { type: "boolean" },
        keep: { type: "boolean" },
        strict: { type: "boolean" },
        "wait-quiet": { type: "string" },
        kv: { type: "string" },
        growth: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return "help";
  const quick = values.quick ?? false;
  const threads = positiveInt("threads", values.threads, 2);
  const connections = positiveInt("connections", values.connections, 50);
  if (connections < threads) {
    throw new UsageError("--connections must be at least --threads");
  }
  const visitors = positiveInt("visitors", values.visitors, 200);
  // bench/wrk.lua gives each thread its own share of the sessions.
  if (visitors < threads) {
    throw new UsageError("--visitors must be at least --threads");
  }
  return {
    duration: positiveInt("duration", values.duration, quick ? 3 : 10),
    warmup: positiveInt("warmup", values.warmup, quick ? 1 : 2),
    connections,
    threads,
    visitors,
    quick,
    only: kvOnly(values.kv) ?? idList("only", values.only),
    skip: idList("skip", values.skip) ?? [],
    sessions: positiveInt(
      "sessions",
      values.sessions,
      quick ? 20_000 : 100_000,
    ),
    out: values["no-write"] ? null : values.out ?? `${ROOT}docs/BENCHMARKS.md`,
    keep: values.keep ?? false,
    strict: values.strict ?? false,
    waitQuiet: values["wait-quiet"] === "0"
      ? 0
      : positiveInt("wait-quiet", values["wait-quiet"], 60),
    growth: growthSizes(values.growth, quick),
  };
}

export function selected(opts: Options, id: string): boolean {
  return (!opts.only || opts.only.includes(id)) && !opts.skip.includes(id);
}

/** A scenario runs when it or its server is chosen (and neither is skipped). */
export function scenarioSelected(opts: Options, s: Scenario): boolean {
  return (selected(opts, s.id) || !!opts.only?.includes(s.server)) &&
    !opts.skip.includes(s.server);
}

/** A server's lost-update check runs with the phase or when the server is chosen. */
export function lostUpdateSelected(opts: Options, name: ServerName): boolean {
  return (selected(opts, "lost-updates") || !!opts.only?.includes(name)) &&
    !opts.skip.includes(name);
}
