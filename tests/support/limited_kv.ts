/**
 * The store-limits proxy: refuses what a stricter backend refuses (more checks or mutations
 * per atomic, or more keys per getMany, than the limits allow). One implementation, in
 * ./kv_proxy.ts, which also counts calls and injects faults.
 */
export { type LimitedKv, limitedKv } from "./kv_proxy.ts";
