/**
 * One Proxy around a real Deno KV for the tests and the benchmark: it counts what is asked
 * of the store, can make calls fail (throw, hang, or report a conflict; every call, the next
 * n, from the n-th on, or a seeded share of them) and can refuse what a stricter backend
 * refuses (more checks or mutations per atomic, or more keys per getMany, than `limits`
 * allow, with the TypeErrors Deno throws). Methods always run on the real KV (they need
 * its internal slots) and nothing global is stubbed, so the semantics are the real ones.
 *
 * The order on each call is fixed: count, then faults, then limits, then the real call;
 * a refused or failed call is still counted.
 */
import type { StoreLimits } from "../../lib/base/store_limits.ts";
import { rng } from "./rng.ts";

export interface StoreCounts {
  get: number;
  getMany: number;
  /** Keys read by all `getMany` calls. */
  getManyKeys: number;
  list: number;
  /** Entries those listings returned. */
  listed: number;
  /** `kv.set` / `kv.delete` outside an atomic operation (each its own commit). */
  set: number;
  delete: number;
  commits: number;
  /** Commits refused by a failed check (a conflict: the app retries them). */
  conflicts: number;
  /** Mutations in all commits, by kind (`set`, `delete`, `sum`, `max`, `min`, `enqueue`). */
  mutations: Record<string, number>;
  checks: number;
  /** The most checks one commit carried. */
  largestChecks: number;
  /** How many commits had 1, 2-3, 4-7, ... mutations. */
  mutationsPerCommit: Record<string, number>;
}

/** Counts of nothing asked yet. */
export const emptyCounts = (): StoreCounts => ({
  get: 0,
  getMany: 0,
  getManyKeys: 0,
  list: 0,
  listed: 0,
  set: 0,
  delete: 0,
  commits: 0,
  conflicts: 0,
  mutations: {},
  checks: 0,
  largestChecks: 0,
  mutationsPerCommit: {},
});

/** The power-of-two bucket of `n`: "0", "1", "2-3", "4-7", ... */
export function bucketOf(n: number): string {
  if (n <= 1) return String(n);
  let low = 1;
  while (low * 2 <= n) low *= 2;
  return `${low}-${low * 2 - 1}`;
}

/**
 * How calls misbehave: "throw" fails with `message` (a rejected promise for the async
 * methods and commits, a synchronous throw for the others), "hang" returns a promise that
 * never settles (the real call is not made), "conflict" makes a commit that carries a check
 * report `{ ok: false }`.
 */
export type FaultKind = "throw" | "hang" | "conflict";

export interface Fault {
  kind: FaultKind;
  /** Method names ("get", "getMany", "set", ...; "commit" for atomic commits). */
  methods: string[];
  /** The share of matching calls that misbehave (seeded, so runs repeat); default 1. */
  rate?: number;
  /** How many calls misbehave, then the fault is spent; default: until healed. */
  times?: number;
  /** Matching calls let through before the first fault (default 0). */
  after?: number;
  /** The thrown error's message (default "database is locked"). */
  message?: string;
}

export interface KvProxyOptions {
  /** Refuse (and count in `refused()`) what these limits do not allow. */
  limits?: StoreLimits;
  /** Keep the keys of every `get`/`getMany` in `reads` (memory grows with the calls). */
  recordReads?: boolean;
  /** Seed of the generator behind `Fault.rate` (default 7). */
  seed?: number;
}

export interface KvProxy {
  kv: Deno.Kv;
  /** Calls per method name, e.g. `calls.getMany`; `commit` counts atomic commits. */
  calls: Record<string, number>;
  /** With `recordReads`: the keys of every `get`/`getMany` call, in order. */
  reads: Deno.KvKey[][];
  /** What was asked of the store since the start or the last `reset()`. */
  counts(): StoreCounts;
  /** Zeroes `counts()` (not `calls`, `reads` or `refused()`). */
  reset(): void;
  /** Calls refused for going over `limits`. */
  refused(): number;
  /** Adds a fault (the first matching, unspent one applies to a call). */
  fail(fault: Fault): void;
  /** Removes every fault. */
  heal(): void;
}

const ASYNC_METHODS = new Set(["get", "getMany", "set", "delete", "enqueue"]);
const MUTATIONS = new Set(["set", "delete", "sum", "max", "min", "enqueue"]);

interface Rule {
  kind: FaultKind;
  methods: Set<string>;
  rate: number;
  left: number;
  skip: number;
  message: string;
}

/** The fault rules and the seeded draw behind their rates. */
function faultTable(seed: number) {
  let rules: Rule[] = [];
  const random = rng(seed).next;
  /** A new fault replaces those on any of its methods. */
  const add = (f: Fault) => {
    rules = rules.filter((r) => !f.methods.some((m) => r.methods.has(m)));
    rules.push({
      kind: f.kind,
      methods: new Set(f.methods),
      rate: f.rate ?? 1,
      left: f.times ?? Infinity,
      skip: f.after ?? 0,
      message: f.message ?? "database is locked",
    });
  };
  /** The rule this call of `method` falls under, or null to let it through. */
  const match = (method: string): Rule | null => {
    const rule = rules.find((r) => r.methods.has(method) && r.left > 0);
    if (!rule) return null;
    if (rule.skip > 0) {
      rule.skip--;
      return null;
    }
    if (rule.rate < 1 && random() >= rule.rate) return null;
    rule.left--;
    return rule;
  };
  return { add, match, heal: () => void (rules = []) };
}

/** A StoreCounts tally with what one commit carried. */
function countCommit(counts: StoreCounts, kinds: string[], checks: number) {
  counts.commits++;
  counts.checks += checks;
  counts.largestChecks = Math.max(counts.largestChecks, checks);
  for (const k of kinds) counts.mutations[k] = (counts.mutations[k] ?? 0) + 1;
  const b = bucketOf(kinds.length);
  counts.mutationsPerCommit[b] = (counts.mutationsPerCommit[b] ?? 0) + 1;
}

/** What one proxy has seen and is told to do. */
interface State {
  opts: KvProxyOptions;
  calls: Record<string, number>;
  reads: Deno.KvKey[][];
  counts: StoreCounts;
  refused: number;
  faults: ReturnType<typeof faultTable>;
}

function refuse(st: State, what: string, max: number): Promise<never> {
  st.refused++;
  return Promise.reject(new TypeError(`Too many ${what} (max ${max})`));
}

/** Counts a call of the KV (not of an atomic operation, but its commit). */
function countCall(st: State, name: string, args: unknown[]) {
  st.calls[name] = (st.calls[name] ?? 0) + 1;
  if (name === "get" || name === "set" || name === "delete") st.counts[name]++;
  if (name === "getMany") {
    st.counts.getMany++;
    st.counts.getManyKeys += (args[0] as unknown[]).length;
  }
  if (st.opts.recordReads && name === "get") {
    st.reads.push([args[0] as Deno.KvKey]);
  }
  if (st.opts.recordReads && name === "getMany") {
    st.reads.push(args[0] as Deno.KvKey[]);
  }
}

/** A failed or hung call, or null to go on; `async`: reject rather than throw. */
function misbehave(st: State, name: string, async: boolean, checked = false) {
  const rule = st.faults.match(name);
  if (!rule) return null;
  if (rule.kind === "hang") return new Promise<never>(() => {});
  if (rule.kind === "conflict") {
    return checked ? Promise.resolve({ ok: false as const }) : null;
  }
  if (!async) throw new Error(rule.message);
  return Promise.reject(new Error(rule.message));
}

/** An atomic operation's commit, with what it carried (mutation kinds, checks). */
function commit(
  st: State,
  op: Deno.AtomicOperation,
  kinds: string[],
  checks: number,
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  countCall(st, "commit", []);
  countCommit(st.counts, kinds, checks);
  const bad = misbehave(st, "commit", true, checks > 0);
  if (bad) return bad;
  const limits = st.opts.limits;
  const mutations = kinds.filter((k) => k !== "enqueue").length;
  if (limits && checks > limits.checks) {
    return refuse(st, "checks", limits.checks);
  }
  if (limits && mutations > limits.mutations) {
    return refuse(st, "mutations", limits.mutations);
  }
  return op.commit().then((result) => {
    if (!result.ok) st.counts.conflicts++;
    return result;
  });
}

function wrapAtomic(st: State, op: Deno.AtomicOperation): Deno.AtomicOperation {
  const kinds: string[] = [];
  let checks = 0;
  const proxy: Deno.AtomicOperation = new Proxy(op, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const name = String(prop);
      if (name === "commit") return () => commit(st, target, kinds, checks);
      return (...args: unknown[]) => {
        if (MUTATIONS.has(name)) kinds.push(name);
        else if (name === "check") checks += args.length;
        else if (name === "mutate") {
          for (const m of args as Deno.KvMutation[]) kinds.push(m.type);
        }
        const result = value.apply(target, args);
        return result === target ? proxy : result;
      };
    },
  });
  return proxy;
}

/** A listing that counts the entries it returns. */
function listing(st: State, iter: Deno.KvListIterator<unknown>) {
  st.counts.list++;
  const next = iter.next.bind(iter);
  iter.next = async () => {
    const r = await next();
    if (!r.done) st.counts.listed++;
    return r;
  };
  return iter;
}

/** A call of the KV: counted, then faults, then limits, then the real one. */
function call(
  st: State,
  target: Deno.Kv,
  name: string,
  fn: (...args: unknown[]) => unknown,
  args: unknown[],
) {
  if (name === "atomic") {
    return wrapAtomic(st, fn.apply(target, args) as Deno.AtomicOperation);
  }
  countCall(st, name, args);
  const bad = misbehave(st, name, ASYNC_METHODS.has(name));
  if (bad) return bad;
  const limits = st.opts.limits;
  if (
    limits && name === "getMany" &&
    (args[0] as unknown[]).length > limits.readRanges
  ) {
    return refuse(st, "ranges", limits.readRanges);
  }
  const result = fn.apply(target, args);
  return name === "list"
    ? listing(st, result as Deno.KvListIterator<unknown>)
    : result;
}

/** The proxy; see the module comment. */
export function kvProxy(real: Deno.Kv, opts: KvProxyOptions = {}): KvProxy {
  const st: State = {
    opts,
    calls: {},
    reads: [],
    counts: emptyCounts(),
    refused: 0,
    faults: faultTable(opts.seed ?? 7),
  };
  const kv = new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) =>
        call(st, target, String(prop), value, args);
    },
  });
  return {
    kv,
    calls: st.calls,
    reads: st.reads,
    counts: () => structuredClone(st.counts),
    reset: () => void (st.counts = emptyCounts()),
    refused: () => st.refused,
    fail: (fault) => st.faults.add(fault),
    heal: () => st.faults.heal(),
  };
}

export interface LimitedKv {
  kv: Deno.Kv;
  /** How many calls were refused for going over a limit. */
  refused(): number;
}

/** The proxy enforcing `limits` only (what a stricter backend such as KV Connect refuses). */
export function limitedKv(real: Deno.Kv, limits: StoreLimits): LimitedKv {
  const { kv, refused } = kvProxy(real, { limits });
  return { kv, refused };
}

export interface KvSpy {
  kv: Deno.Kv;
  /** Calls per method name, e.g. `calls.getMany`; `commit` counts atomic commits. */
  calls: Record<string, number>;
  /** The keys of every `get`/`getMany` call, in order. */
  reads: Deno.KvKey[][];
  /**
   * Makes the next `n` calls of `method` ("get", "getMany", "commit", ...) throw
   * `new Error(message)`; `Infinity` until {@link KvSpy.heal} is called.
   */
  fail(method: string, n: number, message?: string): void;
  heal(): void;
}

/** The proxy counting calls and keeping the keys read, with faults by method. */
export function spyKv(real: Deno.Kv): KvSpy {
  const p = kvProxy(real, { recordReads: true });
  return {
    kv: p.kv,
    calls: p.calls,
    reads: p.reads,
    fail: (method, n, message) =>
      p.fail({ kind: "throw", methods: [method], times: n, message }),
    heal: p.heal,
  };
}
