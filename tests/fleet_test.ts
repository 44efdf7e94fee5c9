/**
 * A fleet as an operator starts it: a denokv endpoint (tests/support/kv_connect.ts) and two
 * instances started with the real `deno task start` (`KV_PATH=<url>`, the token in
 * `DENO_KV_ACCESS_TOKEN`, one `PORT` each). 200 visitors at once move between them: every
 * login, logout and visit holds on both, the counters are exact, and nobody gets an error.
 * The instances trust `X-Forwarded-For`, as behind nginx, and each visitor has its own address.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../lib/base/crypto.ts";
import {
  HITS_KEY,
  isJanitorLease,
  JANITOR_LEASE_KEY,
} from "../lib/sessions/mod.ts";
import { counter, freePort, ROOT, storedVisits } from "./helpers.ts";
import { type KvConnect, startKvConnect } from "./support/kv_connect.ts";
import { RemoteVisitor } from "./support/remote_visitor.ts";

const PASSWORD = "correct horse battery";

/**
 * A visitor from its own address, as behind the proxy the fleet runs behind
 * (`TRUST_PROXY=true`): 200 logins from one address would all queue on that address's
 * throttle slot, and some would get the throttle's 503 "Service busy".
 */
class Visitor extends RemoteVisitor {
  constructor(private readonly address: string) {
    super();
  }

  override fetch(base: string, path: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set("x-forwarded-for", this.address);
    return super.fetch(base, path, { ...init, headers });
  }
}
const ACCOUNTS = 20;
const VISITORS = 200;

interface Instance {
  url: string;
  child: Deno.ChildProcess;
  output: Promise<string>;
}

/** `deno task start` with only what deno needs and `env`: nothing leaks in from the test. */
function startTask(env: Record<string, string>): Instance {
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  const port = freePort();
  const child = new Deno.Command("deno", {
    args: ["task", "--quiet", "start"],
    cwd: ROOT,
    clearEnv: true,
    env: { ...base, HOST: "127.0.0.1", PORT: String(port), ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]).then(([out, err]) => out + err);
  return { url: `http://127.0.0.1:${port}`, child, output };
}

/** Waits until `/healthz` answers, or fails with the instance's output. */
async function healthy(instance: Instance): Promise<void> {
  let ended = false;
  instance.child.status.finally(() => ended = true);
  const deadline = Date.now() + 60_000;
  while (!ended && Date.now() < deadline) {
    try {
      const res = await fetch(`${instance.url}/healthz`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`deno task start never served:\n${await stop(instance)}`);
}

/** SIGTERM to the launcher; it must exit 0 with no error in its log. Returns the log. */
async function stop(instance: Instance): Promise<string> {
  try {
    instance.child.kill("SIGTERM");
  } catch { /* ended */ }
  const status = await instance.child.status;
  const text = await instance.output;
  assert.equal(status.code, 0, text);
  return text;
}

async function withFleet(
  fn: (urls: string[], kv: Deno.Kv) => Promise<void>,
): Promise<void> {
  const endpoint: KvConnect = await startKvConnect();
  Deno.env.set("DENO_KV_ACCESS_TOKEN", endpoint.token);
  const env = {
    KV_PATH: endpoint.url,
    DENO_KV_ACCESS_TOKEN: endpoint.token,
    PBKDF2_ITERATIONS: "1000",
    TRUST_PROXY: "true",
  };
  const instances = [startTask(env), startTask(env)];
  let kv: Deno.Kv | undefined;
  try {
    await Promise.all(instances.map(healthy));
    kv = await Deno.openKv(endpoint.url);
    await fn(instances.map((i) => i.url), kv);
  } finally {
    kv?.close();
    const logs = await Promise.all(instances.map((i) => stop(i)));
    await endpoint.stop();
    for (const [i, log] of logs.entries()) {
      const bad = log.split("\n").filter((l) =>
        /failed|error|giving up|locked|refused|NotCapable|\s5\d\d\s/i.test(l)
      );
      assert.deepEqual(bad, [], `instance ${i} logged errors:\n${log}`);
    }
  }
}

Deno.test("two instances of deno task start on one KV Connect URL share 200 visitors' sessions, logins, logouts and counters exactly", async () => {
  await withFleet(async ([a, b], kv) => {
    let requests = 0;
    const statuses = new Map<string, number>();
    const seen = (what: string, status: number) => {
      requests++;
      if (status !== 200) statuses.set(what, status);
    };
    await Promise.all(Array.from({ length: ACCOUNTS }, async (_, n) => {
      const res = await new Visitor(`10.0.0.${n}`).post(a, "/api/register", {
        username: `user${n}`,
        password: PASSWORD,
      });
      seen(`register user${n}`, res.status);
    }));

    const visitors = Array.from(
      { length: VISITORS },
      (_, i) => new Visitor(`10.1.${i >> 8}.${i & 255}`),
    );
    await Promise.all(visitors.map(async (v, i) => {
      const name = `user${i % ACCOUNTS}`;
      const [here, there] = i % 2 ? [a, b] : [b, a];
      const me = async (base: string) => {
        const res = await v.fetch(base, "/api/me");
        seen(`visitor ${i} /api/me`, res.status);
        return (await res.json()).user?.username ?? null;
      };
      assert.equal(await me(here), null);
      const login = await v.post(there, "/api/login", {
        username: name,
        password: PASSWORD,
      });
      seen(`visitor ${i} login`, login.status);
      assert.equal(await me(here), name, "the login holds on the other");
      assert.equal(await me(there), name);
      const logout = await v.post(here, "/api/logout", {});
      seen(`visitor ${i} logout`, logout.status);
      assert.equal(await me(there), null, "the logout holds on the other");
      assert.equal(await me(here), null);
      await me(there);
    }));

    assert.deepEqual(Object.fromEntries(statuses), {}, "every answer a 200");
    assert.equal(await counter(kv, HITS_KEY), requests, "hits exact");
    // Each visitor's last session began at its logout: three visits, whichever instance.
    for (const v of visitors) {
      assert.equal(await storedVisits(kv, await sha256Hex(v.id!)), 3);
    }
    // One janitor for the fleet: whichever instance started sweeping first holds the lease.
    const deadline = Date.now() + 10_000;
    let lease = await kv.get(JANITOR_LEASE_KEY);
    while (lease.versionstamp === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      lease = await kv.get(JANITOR_LEASE_KEY);
    }
    assert.ok(isJanitorLease(lease.value), "one instance holds the lease");
  });
});
