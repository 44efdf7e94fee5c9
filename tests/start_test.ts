/**
 * The real `deno task start` from the project root: a bad value is one line naming the variable
 * and exit code 1, a KV file anywhere serves, and two starts at once from one checkout both
 * come up. Every run gets a KV folder outside the project.
 */
import assert from "node:assert/strict";
import { freePort, ROOT } from "./helpers.ts";

/** Only what deno itself needs, plus `env`: the caller's KV_PATH never leaks in. */
function taskEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  return { ...base, HOST: "127.0.0.1", ...env };
}

function startTask(env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command("deno", {
    args: ["task", "--quiet", "start"],
    cwd: ROOT,
    clearEnv: true,
    env: taskEnv(env),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "mcq-start-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts the task exited 1 with one stderr line starting `mcq-edge: <name>` and no stack. */
async function assertOneLine(env: Record<string, string>, name: string) {
  const out = await startTask(env).output();
  const stderr = new TextDecoder().decode(out.stderr).trimEnd();
  assert.equal(out.code, 1, stderr);
  const lines = stderr.split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.ok(lines[0].startsWith(`mcq-edge: ${name}`), lines[0]);
  assert.doesNotMatch(lines[0], /\bat |Uncaught|NotCapable|--allow/);
}

const cases: [
  string,
  string,
  (dir: string) => Record<string, string> | Promise<Record<string, string>>,
][] = [
  ["HOST is not a host", "HOST", (dir) => ({
    HOST: "not a host",
    KV_PATH: `${dir}/kv.sqlite3`,
  })],
  ["PORT is in use", "PORT", (dir) => ({
    PORT: String(busy!.port),
    KV_PATH: `${dir}/kv.sqlite3`,
  })],
  ["HOST is not an address of this machine", "HOST", (dir) => ({
    HOST: "192.0.2.1",
    PORT: String(freePort()),
    KV_PATH: `${dir}/kv.sqlite3`,
  })],
  ["KV_PATH names a directory", "KV_PATH", (dir) => ({
    PORT: String(freePort()),
    KV_PATH: dir,
  })],
  ["KV_PATH's folder cannot be created", "KV_PATH", async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "x");
    return { PORT: String(freePort()), KV_PATH: `${dir}/file/kv.sqlite3` };
  }],
  ["KV_PATH is not a database", "KV_PATH", async (dir) => {
    await Deno.writeTextFile(`${dir}/kv.sqlite3`, "not sqlite, ".repeat(100));
    return { PORT: String(freePort()), KV_PATH: `${dir}/kv.sqlite3` };
  }],
  [
    "KV_PATH is a KV Connect URL without a token",
    "DENO_KV_ACCESS_TOKEN",
    () => ({
      KV_PATH: `http://127.0.0.1:${freePort()}`,
    }),
  ],
  // Deno 2.9 opens a remote KV eagerly: a closed port fails at start, not at the first request.
  ["KV_PATH is a KV Connect URL nobody answers", "KV_PATH", () => ({
    PORT: String(freePort()),
    KV_PATH: `http://127.0.0.1:${freePort()}`,
    DENO_KV_ACCESS_TOKEN: "t".repeat(32),
  })],
  [
    "SESSION_IDLE_TIMEOUT is not a number",
    "SESSION_IDLE_TIMEOUT",
    () => ({
      SESSION_IDLE_TIMEOUT: "soon",
    }),
  ],
];

let busy: Deno.NetAddr | undefined;

for (const [what, name, env] of cases) {
  Deno.test(`deno task start when ${what}: one line naming ${name}, exit 1`, async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    busy = listener.addr;
    try {
      await withTempDir(async (dir) =>
        await assertOneLine(await env(dir), name)
      );
    } finally {
      listener.close();
    }
  });
}

interface Running {
  url: string;
  status: Promise<Deno.CommandStatus>;
  output: Promise<string>;
  child: Deno.ChildProcess;
}

/** Starts the task on a free port and waits for /healthz (or fails with its output). */
async function startServing(env: Record<string, string>): Promise<Running> {
  const port = freePort();
  const child = startTask({ PORT: String(port), ...env });
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]).then(([out, err]) => out + err);
  let ended = false;
  const status = child.status.finally(() => ended = true);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!ended && Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/healthz`);
      await res.body?.cancel();
      if (res.ok) return { url, status, output, child };
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    child.kill("SIGKILL");
  } catch { /* ended */ }
  await status;
  throw new Error(`deno task start never served:\n${await output}`);
}

/** SIGTERM to the launcher reaches the server, which drains and exits 0. */
async function stopServing(server: Running): Promise<string> {
  server.child.kill("SIGTERM");
  const status = await server.status;
  const text = await server.output;
  assert.equal(status.code, 0, text);
  return text;
}

Deno.test("deno task start with KV_PATH outside the project serves, keeps the data there and stops on SIGTERM", async () => {
  await withTempDir(async (dir) => {
    const kvPath = `${dir}/deep/er/kv.sqlite3`;
    const server = await startServing({ KV_PATH: kvPath });
    try {
      for (
        const path of ["/", "/api/me", "/api/quizzes", "/static/style.css"]
      ) {
        const res = await fetch(server.url + path);
        await res.body?.cancel();
        assert.equal(res.status, 200, path);
      }
    } finally {
      const text = await stopServing(server);
      assert.doesNotMatch(
        text,
        /NotCapable|PermissionDenied|Requires .* access/,
      );
      assert.ok(text.includes(`KV: ${kvPath}`), text);
    }
    assert.ok((await Deno.stat(kvPath)).isFile);
  });
});

Deno.test("two deno task start at once from one checkout both build and serve, on two ports", async () => {
  await withTempDir(async (dir) => {
    const [a, b] = await Promise.all([
      startServing({ KV_PATH: `${dir}/a.sqlite3` }),
      startServing({ KV_PATH: `${dir}/b.sqlite3` }),
    ]);
    try {
      for (const server of [a, b]) {
        const manifest = await (await fetch(
          server.url + "/static/build/manifest.json",
        )).json();
        assert.match(
          manifest.islands,
          /^\/static\/build\/islands-[0-9a-f]+\.js$/,
        );
        const res = await fetch(server.url + manifest.islands);
        await res.body?.cancel();
        assert.equal(res.status, 200);
      }
    } finally {
      await stopServing(a);
      await stopServing(b);
    }
  });
});

Deno.test("six island builds at once all succeed and leave one manifest naming a bundle that exists", async () => {
  const build = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "build"],
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
  const results = await Promise.all(Array.from({ length: 6 }, build));
  for (const r of results) {
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  }
  const manifest = JSON.parse(
    await Deno.readTextFile(`${ROOT}static/build/manifest.json`),
  );
  assert.ok((await Deno.stat(`${ROOT}${manifest.islands.slice(1)}`)).isFile);
});
