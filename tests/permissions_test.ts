/**
 * Least privilege: `deno task start` runs main.ts with narrow permissions. The flags are read
 * from deno.json, so these tests follow the task. A probe script run with exactly those flags
 * shows what the server process cannot do (read or write outside the project and data/kv,
 * read other environment variables, run programs, reach other hosts, load native code); the
 * server itself, started with the same flags from the project root and KV_PATH unset, serves.
 */
import assert from "node:assert/strict";
import { freePort, ROOT } from "./helpers.ts";

/** The `deno run` flags of the `start` task, e.g. `--allow-read=.`. */
async function startFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task: string = config.tasks.start;
  const run = task.split("&&").map((s) => s.trim()).find((s) =>
    s.startsWith("deno run ")
  );
  assert.ok(run, `no "deno run" in the start task: ${task}`);
  const words = run.split(/\s+/);
  const main = words.indexOf("main.ts");
  assert.ok(main > 2, `the start task does not run main.ts: ${run}`);
  const flags = words.slice(2, main);
  for (const flag of flags) {
    assert.match(flag, /^--/, `unexpected word in the start task: ${flag}`);
    assert.notEqual(flag, "-A");
    assert.notEqual(flag, "--allow-all");
  }
  return flags;
}

/** Only what deno itself needs to run, nothing the app should see. */
function minimalEnv(
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

const PROBE = `
const results = {};
async function probe(name, fn) {
  try {
    await fn();
    results[name] = "allowed";
  } catch (e) {
    results[name] = e instanceof Deno.errors.NotCapable ? "NotCapable"
      : e instanceof Deno.errors.PermissionDenied ? "PermissionDenied"
      : "error: " + (e?.name ?? "") + " " + (e?.message ?? e);
  }
}
const kvDir = Deno.args[0];
const outside = Deno.args[1];
await probe("read /etc/passwd", () => Deno.readTextFile("/etc/passwd"));
await probe("read outside the project", () => Deno.readTextFile(outside + "/secret.txt"));
await probe("list /", async () => { for await (const _ of Deno.readDir("/")) break; });
await probe("write /tmp", () => Deno.writeTextFile(outside + "/x.txt", "x"));
await probe("write the project (main.ts)", () => Deno.writeTextFile("main.ts", "x", { append: true }));
await probe("write the project (new file)", () => Deno.writeTextFile("perm-probe.txt", "x"));
await probe("open a KV file outside data/kv", async () => (await Deno.openKv(outside + "/kv.sqlite3")).close());
await probe("env HOME", () => { Deno.env.get("HOME"); });
await probe("env PATH", () => { Deno.env.get("PATH"); });
await probe("env toObject", () => { Deno.env.toObject(); });
await probe("run a program", () => new Deno.Command("sh", { args: ["-c", "true"] }).output());
await probe("Deno.run", () => {
  if (typeof Deno.run !== "function") throw new Deno.errors.NotCapable("Deno.run does not exist in Deno 2");
  return Deno.run({ cmd: ["true"] }).status();
});
await probe("connect to another host", () => fetch("http://192.0.2.1/"));
await probe("resolve a name", () => Deno.resolveDns("example.com", "A"));
await probe("load native code", () => Deno.dlopen("libc.so.6", {}));
await probe("signal another process", () => Deno.kill(1, "SIGCONT"));
await probe("system info", () => Deno.osRelease());
// What the server needs stays possible:
await probe("read the project", () => Deno.readTextFile("deno.json"));
await probe("env PORT", () => { Deno.env.get("PORT"); });
await probe("write data/kv", async () => {
  await Deno.mkdir(kvDir, { recursive: true });
  const file = kvDir + "/perm-probe-" + crypto.randomUUID() + ".txt";
  await Deno.writeTextFile(file, "x");
  await Deno.remove(file);
});
await probe("listen on 127.0.0.1", () => Deno.listen({ hostname: "127.0.0.1", port: 0 }).close());
console.log(JSON.stringify(results));
`;

Deno.test("with the start task's flags, nothing outside the project, data/kv, the config variables and local addresses is reachable", async () => {
  const flags = await startFlags();
  const dir = await Deno.makeTempDir({ prefix: "mcq-perm-" });
  const kvDirExisted = await Deno.stat(`${ROOT}data/kv`).then(
    () => true,
    () => false,
  );
  try {
    await Deno.writeTextFile(`${dir}/secret.txt`, "secret");
    const probe = `${dir}/probe.js`;
    await Deno.writeTextFile(probe, PROBE);
    const out = await new Deno.Command(Deno.execPath(), {
      // deno task runs with the project's deno.json (unstable KV); the probe lives in /tmp.
      args: ["run", "--config", "deno.json", ...flags, probe, "data/kv", dir],
      cwd: ROOT,
      clearEnv: true,
      env: minimalEnv({ PORT: "1" }),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const results = JSON.parse(new TextDecoder().decode(out.stdout));
    const denied = [
      "read /etc/passwd",
      "read outside the project",
      "list /",
      "write /tmp",
      "write the project (main.ts)",
      "write the project (new file)",
      "open a KV file outside data/kv",
      "env HOME",
      "env PATH",
      "env toObject",
      "run a program",
      "Deno.run",
      "connect to another host",
      "resolve a name",
      "load native code",
      "signal another process",
      "system info",
    ];
    for (const name of denied) {
      assert.equal(results[name], "NotCapable", `${name}: ${results[name]}`);
    }
    for (
      const name of [
        "read the project",
        "env PORT",
        "write data/kv",
        "listen on 127.0.0.1",
      ]
    ) {
      assert.equal(results[name], "allowed", `${name}: ${results[name]}`);
    }
    // Nothing was written where it was refused.
    assert.equal(await Deno.stat(`${dir}/x.txt`).catch(() => null), null);
    assert.equal(
      await Deno.stat(`${ROOT}perm-probe.txt`).catch(() => null),
      null,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    if (!kvDirExisted) {
      await Deno.remove(`${ROOT}data/kv`, { recursive: true }).catch(() => {});
    }
  }
});

Deno.test("main.ts started with exactly the start task's flags (KV_PATH unset: data/kv/) serves /healthz, pages and the API", async () => {
  const flags = await startFlags();
  const kvFile = `${ROOT}data/kv/mcq-edge.sqlite3`;
  const kvDirExisted = await Deno.stat(`${ROOT}data/kv`).then(
    () => true,
    () => false,
  );
  const existed = await Deno.stat(kvFile).then(() => true, () => false);
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, "main.ts"],
    cwd: ROOT,
    clearEnv: true,
    env: minimalEnv({ PORT: String(port), HOST: "127.0.0.1" }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = (async () => {
    const [out, err] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    return out + err;
  })();
  const url = `http://127.0.0.1:${port}`;
  try {
    let health: Response | null = null;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        health = await fetch(`${url}/healthz`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.ok(health, "the server never answered");
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { ok: true });
    for (const path of ["/", "/api/me", "/api/quizzes", "/static/style.css"]) {
      const res = await fetch(url + path);
      await res.body?.cancel();
      assert.equal(res.status, 200, path);
    }
    // The KV file it opened is the default one, under data/kv.
    assert.ok(await Deno.stat(kvFile), "no KV file under data/kv");
    child.kill("SIGTERM");
    const status = await child.status;
    const text = await output;
    assert.equal(status.code, 0, text);
    assert.doesNotMatch(text, /NotCapable|PermissionDenied|Requires .* access/);
    assert.match(text, /KV: data\/kv\/mcq-edge\.sqlite3/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already ended */ }
    await child.status;
    await output;
    if (!existed) {
      for (const suffix of ["", "-wal", "-shm"]) {
        await Deno.remove(kvFile + suffix).catch(() => {});
      }
      if (!kvDirExisted) {
        await Deno.remove(`${ROOT}data/kv`, { recursive: true }).catch(
          () => {},
        );
      }
    }
  }
});
