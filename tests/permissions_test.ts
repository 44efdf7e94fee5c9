/**
 * Least privilege: `deno task start` runs a launcher (lib/cli/start.ts) that may only read
 * the config variables and run `deno`; it runs main.ts with flags derived from the config.
 * A probe script run with exactly those flags shows what the server process cannot do (read
 * or write outside the project and the KV file's folder, read other environment variables,
 * run programs, reach other hosts or ports, load native code). tests/start_test.ts runs the
 * real task.
 */
import assert from "node:assert/strict";
import { childFlags } from "../lib/cli/start.ts";
import { CONFIG_VARS, loadConfig } from "../lib/base/config.ts";
import { freePort, ROOT } from "./helpers.ts";

Deno.test("the start task's launcher may only read the config variables (and the KV Connect token) and run deno", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  for (const task of ["start", "dev"]) {
    const words: string[] = config.tasks[task].split(/\s+/);
    assert.deepEqual(words.slice(0, 2), ["deno", "run"], task);
    const flags = words.filter((w) => w.startsWith("--allow"));
    assert.deepEqual(flags, [
      `--allow-env=${[...CONFIG_VARS, "DENO_KV_ACCESS_TOKEN"].join(",")}`,
      "--allow-run=deno",
    ], task);
    assert.ok(words.includes("lib/cli/start.ts"), task);
  }
});

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
const port = Number(Deno.args[2]);
await probe("read /etc/passwd", () => Deno.readTextFile("/etc/passwd"));
await probe("read outside the project", () => Deno.readTextFile(outside + "/secret.txt"));
await probe("list /", async () => { for await (const _ of Deno.readDir("/")) break; });
await probe("write /tmp", () => Deno.writeTextFile(outside + "/x.txt", "x"));
await probe("write the project (main.ts)", () => Deno.writeTextFile("main.ts", "x", { append: true }));
await probe("write the project (new file)", () => Deno.writeTextFile("perm-probe.txt", "x"));
await probe("open a KV file outside the KV folder", async () => (await Deno.openKv(outside + "/kv.sqlite3")).close());
await probe("write data/kv", () => Deno.mkdir("data/kv/perm-probe", { recursive: true }));
await probe("env DENO_KV_ACCESS_TOKEN", () => { Deno.env.get("DENO_KV_ACCESS_TOKEN"); });
await probe("listen on another port", () => Deno.listen({ hostname: "127.0.0.1", port: 0 }).close());
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
await probe("write the KV folder", async () => {
  const file = kvDir + "/perm-probe-" + crypto.randomUUID() + ".txt";
  await Deno.writeTextFile(file, "x");
  await Deno.remove(file);
});
await probe("listen on its address", () => Deno.listen({ hostname: "127.0.0.1", port }).close());
console.log(JSON.stringify(results));
`;

Deno.test("with the flags derived for a KV file outside the project, nothing outside the project, that folder, the config variables and the listen address is reachable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcq-perm-" });
  const kvDir = `${dir}/kv`;
  const port = freePort();
  const flags = childFlags(
    loadConfig({ KV_PATH: `${kvDir}/kv.sqlite3`, PORT: String(port) }),
  );
  try {
    await Deno.writeTextFile(`${dir}/secret.txt`, "secret");
    const probe = `${kvDir}/probe.js`;
    await Deno.mkdir(kvDir);
    await Deno.writeTextFile(probe, PROBE);
    const out = await new Deno.Command(Deno.execPath(), {
      // deno task runs with the project's deno.json (unstable KV); the probe lives in /tmp.
      args: [
        "run",
        "--config",
        "deno.json",
        ...flags,
        probe,
        kvDir,
        dir,
        String(port),
      ],
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
      "write data/kv",
      "open a KV file outside the KV folder",
      "env HOME",
      "env PATH",
      "env toObject",
      "env DENO_KV_ACCESS_TOKEN",
      "run a program",
      "Deno.run",
      "connect to another host",
      "resolve a name",
      "listen on another port",
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
        "write the KV folder",
        "listen on its address",
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
  }
});

Deno.test("a KV Connect URL adds net to its host and the token variable, and no folder to write", () => {
  const flags = childFlags(
    loadConfig({ KV_PATH: "https://kv.example.com/db", PORT: "8000" }),
  );
  assert.ok(flags.includes("--allow-net=127.0.0.1:8000,kv.example.com:443"));
  assert.ok(flags.some((f) => /^--allow-env=.*,DENO_KV_ACCESS_TOKEN$/.test(f)));
  assert.ok(!flags.some((f) => f.startsWith("--allow-write")), flags.join(" "));
  assert.deepEqual(
    childFlags(loadConfig({ KV_PATH: ":memory:", HOST: "::1", PORT: "9" }))
      .filter((f) => f.startsWith("--allow-net")),
    ["--allow-net=[::1]:9"],
  );
});
