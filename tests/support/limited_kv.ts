/**
 * A real Deno KV behind a Proxy that refuses what a stricter backend refuses: more checks
 * or mutations per atomic, or more keys per getMany, than `limits` allow (KV Connect and
 * Deno Deploy: 10 checks, 10 ranges), with the same TypeErrors Deno throws locally.
 * Everything else runs on the real KV, so the semantics are the real ones.
 */
import type { StoreLimits } from "../../lib/base/store_limits.ts";

export interface LimitedKv {
  kv: Deno.Kv;
  /** How many calls were refused for going over a limit. */
  refused(): number;
}

export function limitedKv(real: Deno.Kv, limits: StoreLimits): LimitedKv {
  let refused = 0;
  const refuse = (what: string, max: number) => {
    refused++;
    return new TypeError(`Too many ${what} (max ${max})`);
  };
  const wrapAtomic = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    let checks = 0;
    let mutations = 0;
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (prop === "check") checks += args.length;
          if (["set", "delete", "sum", "min", "max"].includes(String(prop))) {
            mutations++;
          }
          if (prop === "mutate") mutations += args.length;
          if (prop === "commit") {
            if (checks > limits.checks) {
              return Promise.reject(refuse("checks", limits.checks));
            }
            if (mutations > limits.mutations) {
              return Promise.reject(refuse("mutations", limits.mutations));
            }
          }
          const result = value.apply(target, args);
          return result === target ? proxy : result;
        };
      },
    });
    return proxy;
  };
  const kv = new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "atomic") return wrapAtomic(value.apply(target, args));
        if (
          prop === "getMany" &&
          (args[0] as unknown[]).length > limits.readRanges
        ) {
          return Promise.reject(refuse("ranges", limits.readRanges));
        }
        return value.apply(target, args);
      };
    },
  });
  return { kv, refused: () => refused };
}
