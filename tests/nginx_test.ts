/**
 * docs/DEPLOY.md's (b): nginx on 127.0.0.1 in front of two instances on one KV Connect
 * endpoint, with the doc's own `upstream` and `location` lines. Visitors who only ever talk
 * to nginx log in, out and count exactly, and both instances serve. Skipped when no `nginx`
 * binary is found (`NGINX_BIN=<path>` or on PATH; Debian: `apt-get install nginx`).
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../lib/base/crypto.ts";
import { HITS_KEY } from "../lib/sessions/mod.ts";
import {
  counter,
  freePort,
  ROOT,
  type Server,
  startServer,
  storedVisits,
} from "./helpers.ts";
import { startKvConnect } from "./support/kv_connect.ts";
import { RemoteVisitor } from "./support/remote_visitor.ts";

const NGINX = Deno.env.get("NGINX_BIN") ?? "nginx";
const PASSWORD = "correct horse battery";

async function nginxFound(): Promise<boolean> {
  try {
    const out = await new Deno.Command(NGINX, { args: ["-v"], stderr: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * The doc's nginx block for (b), split where it says the rest goes in the server block:
 * the upstream (for `http`), the location (for `server`), with the test's two ports.
 */
async function docSnippet(ports: number[]): Promise<[string, string]> {
  const doc = await Deno.readTextFile(`${ROOT}docs/DEPLOY.md`);
  const block = doc.match(/```nginx\n\s*(upstream mcq_edge[\s\S]*?)```/);
  assert.ok(block, "DEPLOY.md has the upstream block of (b)");
  const [upstream, location] = block[1].split(/^.*# in the https server.*$/m);
  assert.ok(location, "the block says where its location goes");
  const withPorts = upstream.replace("127.0.0.1:8001", `127.0.0.1:${ports[0]}`)
    .replace("127.0.0.1:8002", `127.0.0.1:${ports[1]}`);
  assert.notEqual(withPorts, upstream);
  return [withPorts, location];
}

function nginxConf(dir: string, port: number, [upstream, location]: string[]) {
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((t) => `${t}_temp_path ${dir}/${t};`).join("\n");
  return `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 512; }
http {
  access_log off;
  ${temp}
  ${upstream}
  server {
    listen 127.0.0.1:${port};
    ${location}
  }
}`;
}

Deno.test({
  name:
    "behind nginx with DEPLOY.md's upstream, two instances on one KV Connect endpoint share logins, logouts and exact counters",
  ignore: !(await nginxFound()),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mcq-nginx-" });
    const endpoint = await startKvConnect();
    Deno.env.set("DENO_KV_ACCESS_TOKEN", endpoint.token);
    const env = {
      KV_PATH: endpoint.url,
      DENO_KV_ACCESS_TOKEN: endpoint.token,
      PBKDF2_ITERATIONS: "1000",
      TRUST_PROXY: "true",
    };
    const servers: Server[] = [];
    let nginx: Deno.ChildProcess | undefined;
    let kv: Deno.Kv | undefined;
    try {
      servers.push(await startServer(env), await startServer(env));
      const ports = servers.map((s) => Number(new URL(s.url).port));
      const port = freePort();
      await Deno.writeTextFile(
        `${dir}/nginx.conf`,
        nginxConf(dir, port, await docSnippet(ports)),
      );
      nginx = new Deno.Command(NGINX, {
        args: [
          "-p",
          dir,
          "-c",
          `${dir}/nginx.conf`,
          "-e",
          "stderr",
          "-g",
          "daemon off;",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "inherit",
      }).spawn();
      const base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          const res = await fetch(`${base}/healthz`);
          await res.body?.cancel();
          if (res.ok) break;
        } catch { /* not yet */ }
        assert.ok(Date.now() < deadline, "nginx never answered");
        await new Promise((r) => setTimeout(r, 50));
      }

      let requests = 0;
      const ok = (status: number, what: string) => {
        requests++;
        assert.equal(status, 200, what);
      };
      for (let n = 0; n < 5; n++) {
        const res = await new RemoteVisitor().post(base, "/api/register", {
          username: `user${n}`,
          password: PASSWORD,
        });
        ok(res.status, `register user${n}`);
      }
      const visitors = Array.from({ length: 20 }, () => new RemoteVisitor());
      await Promise.all(visitors.map(async (v, i) => {
        const me = async () => {
          const res = await v.fetch(base, "/api/me");
          ok(res.status, "GET /api/me");
          return (await res.json()).user?.username ?? null;
        };
        assert.equal(await me(), null);
        const login = await v.post(base, "/api/login", {
          username: `user${i % 5}`,
          password: PASSWORD,
        });
        ok(login.status, "login");
        assert.equal(await me(), `user${i % 5}`);
        ok((await v.post(base, "/api/logout", {})).status, "logout");
        assert.equal(await me(), null);
        await me();
      }));
      kv = await Deno.openKv(endpoint.url);
      assert.equal(await counter(kv, HITS_KEY), requests);
      for (const v of visitors) {
        assert.equal(await storedVisits(kv, await sha256Hex(v.id!)), 2);
      }
      for (const [i, s] of servers.entries()) {
        assert.match(s.output(), /GET \/api\/me 200/, `instance ${i} served`);
        const bad = s.output().split("\n").filter((l) =>
          /failed|error|giving up|\s5\d\d\s/i.test(l)
        );
        assert.deepEqual(bad, [], `instance ${i} logged errors`);
      }
    } finally {
      kv?.close();
      if (nginx) {
        try {
          nginx.kill("SIGQUIT"); // nginx's graceful stop
        } catch { /* ended */ }
        await nginx.status;
      }
      for (const s of servers) await s.stop();
      await endpoint.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
