/** Configuration from the environment: defaults, and one clear line for each bad value. */
import assert from "node:assert/strict";
import {
  ConfigError,
  DEFAULT_KV_PATH,
  kvFolder,
  loadConfig,
  prepareKvFile,
} from "../lib/base/config.ts";
import { ROOT } from "./helpers.ts";

const SECRET = "s".repeat(32);

Deno.test("an empty environment gives the documented defaults", () => {
  const config = loadConfig({});
  assert.equal(config.port, 8000);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.kvPath, DEFAULT_KV_PATH);
  assert.equal(config.cookieName, "sessionId");
  assert.equal(config.idleTimeout, 1800);
  assert.equal(config.absoluteTimeout, 86400);
  assert.equal(config.mode, "kv");
  assert.deepEqual(config.secrets, []);
  assert.equal(config.cookieSecure, "auto");
  assert.equal(config.trustProxy, false);
  assert.equal(config.adminToken, undefined);
  assert.ok(config.pbkdf2Iterations >= 600_000);
  // HOSTNAME is the container's own name, never the listening address.
  assert.equal(loadConfig({ HOSTNAME: "container-name" }).host, "127.0.0.1");
});

Deno.test("valid values are read as documented", () => {
  const config = loadConfig({
    PORT: "0",
    HOST: "0.0.0.0",
    KV_PATH: ":memory:",
    SESSION_COOKIE_NAME: "sid",
    SESSION_IDLE_TIMEOUT: "60",
    SESSION_ABSOLUTE_TIMEOUT: "60",
    SESSION_MODE: "cookie",
    SESSION_SECRET: `${SECRET},${"t".repeat(40)}`,
    COOKIE_SECURE: "true",
    TRUST_PROXY: "true",
    ADMIN_TOKEN: "a".repeat(32),
    HOSTNAME: "container-name",
  });
  assert.equal(config.port, 0);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.kvPath, ":memory:");
  assert.equal(config.cookieName, "sid");
  assert.equal(config.idleTimeout, 60);
  assert.equal(config.absoluteTimeout, 60);
  assert.equal(config.mode, "cookie");
  assert.deepEqual(config.secrets, [SECRET, "t".repeat(40)]);
  assert.equal(config.cookieSecure, "true");
  assert.equal(config.trustProxy, true);
  assert.equal(config.adminToken, "a".repeat(32));
});

Deno.test("a long idle timeout raises the default absolute timeout to match", () => {
  const config = loadConfig({ SESSION_IDLE_TIMEOUT: "172800" });
  assert.equal(config.absoluteTimeout, 172800);
});

Deno.test("on Deno Deploy without KV_PATH the platform's KV is used", () => {
  assert.equal(loadConfig({ DENO_DEPLOYMENT_ID: "x" }).kvPath, undefined);
});

const BAD: [string, Record<string, string>][] = [
  ["PORT", { PORT: "abc" }],
  ["PORT", { PORT: "-1" }],
  ["PORT", { PORT: "65536" }],
  ["PORT", { PORT: "80.5" }],
  ["SESSION_IDLE_TIMEOUT", { SESSION_IDLE_TIMEOUT: "0" }],
  ["SESSION_IDLE_TIMEOUT", { SESSION_IDLE_TIMEOUT: "ten" }],
  ["SESSION_ABSOLUTE_TIMEOUT", {
    SESSION_IDLE_TIMEOUT: "1800",
    SESSION_ABSOLUTE_TIMEOUT: "1799",
  }],
  ["SESSION_ABSOLUTE_TIMEOUT", { SESSION_ABSOLUTE_TIMEOUT: "0" }],
  ["SESSION_MODE", { SESSION_MODE: "x" }],
  ["SESSION_MODE", { SESSION_MODE: "KV" }],
  ["SESSION_SECRET", { SESSION_MODE: "cookie" }],
  ["SESSION_SECRET", { SESSION_MODE: "cookie", SESSION_SECRET: "," }],
  ["SESSION_SECRET", { SESSION_MODE: "cookie", SESSION_SECRET: "short" }],
  ["SESSION_SECRET", {
    SESSION_MODE: "cookie",
    SESSION_SECRET: `${SECRET},short`,
  }],
  ["ADMIN_TOKEN", { ADMIN_TOKEN: "too-short" }],
  ["ADMIN_TOKEN", { ADMIN_TOKEN: `${"a".repeat(32)} b` }],
  ["COOKIE_SECURE", { COOKIE_SECURE: "maybe" }],
  ["TRUST_PROXY", { TRUST_PROXY: "yes" }],
  ["TRUST_PROXY", { TRUST_PROXY: "1" }],
  ["SESSION_COOKIE_NAME", { SESSION_COOKIE_NAME: "a b" }],
  ["SESSION_COOKIE_NAME", { SESSION_COOKIE_NAME: "__Host-x" }],
  ["HOST", { HOST: "not a host" }],
  ["HOST", { HOST: "http://127.0.0.1" }],
  ["HOST", { HOST: "127.0.0.1:8000" }],
  ["HOST", { HOST: "999.1.1.1" }],
  ["HOST", { HOST: "[::1]" }],
  ["HOST", { HOST: "-bad.example" }],
  ["KV_PATH", { KV_PATH: "http://[nope/" }],
  ["KV_PATH", { KV_PATH: "data/kv/" }],
];

Deno.test("HOST accepts IPv4 and IPv6 addresses and host names", () => {
  for (
    const host of [
      "0.0.0.0",
      "10.1.2.3",
      "::",
      "::1",
      "fe80::1",
      "localhost",
      "quiz.example.com",
    ]
  ) {
    assert.equal(loadConfig({ HOST: host }).host, host);
  }
});

Deno.test("KV_PATH's folder is what the server must write: none for :memory: or a KV Connect URL", () => {
  assert.equal(kvFolder("data/kv/mcq-edge.sqlite3"), "data/kv");
  assert.equal(kvFolder("/srv/kv/a.sqlite3"), "/srv/kv");
  assert.equal(kvFolder("kv.sqlite3"), ".");
  assert.equal(kvFolder(":memory:"), null);
  assert.equal(kvFolder("https://kv.example.com:4512"), null);
  assert.equal(kvFolder(undefined), null);
});

/** Asserts that `fn` rejects with a one-line ConfigError naming KV_PATH and matching `problem`. */
async function assertKvRefused(fn: () => Promise<void>, problem: RegExp) {
  await assert.rejects(fn, (error) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.message, /^KV_PATH=/);
    assert.match(error.message, problem);
    assert.doesNotMatch(error.message, /[\r\n]|--allow/);
    return true;
  });
}

Deno.test("a KV_PATH that names a directory, or whose folder cannot be created, is one line naming KV_PATH", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcq-config-" });
  try {
    await assertKvRefused(() => prepareKvFile(dir), /is a directory/);
    await Deno.writeTextFile(`${dir}/file`, "x");
    await assertKvRefused(
      () => prepareKvFile(`${dir}/file/kv.sqlite3`),
      /Not a directory|cannot be/,
    );
    // Not writable even for root: the kernel's own filesystem.
    await assertKvRefused(
      () => prepareKvFile("/proc/mcq-edge/kv.sqlite3"),
      /cannot be|not writable/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a KV file's missing folder is created and left without probe files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcq-config-" });
  try {
    await prepareKvFile(`${dir}/a/b/kv.sqlite3`);
    const names = [];
    for await (const entry of Deno.readDir(`${dir}/a/b`)) {
      names.push(entry.name);
    }
    assert.deepEqual(names, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const [name, env] of BAD) {
  Deno.test(`${JSON.stringify(env)} is refused with one line naming ${name}`, () => {
    assert.throws(() => loadConfig(env), (error) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.ok(error.message.includes(name), error.message);
      assert.ok(!/[\r\n]/.test(error.message), "one line");
      assert.ok(error.message.length < 200, error.message);
      return true;
    });
  });
}

Deno.test("deno run main.ts with PORT=abc exits non-zero printing one line that names PORT", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    cwd: ROOT,
    env: { PORT: "abc", KV_PATH: ":memory:" },
    stdin: "null",
  }).output();
  assert.notEqual(code, 0);
  assert.equal(new TextDecoder().decode(stdout), "");
  const lines = new TextDecoder().decode(stderr).trimEnd().split("\n");
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /PORT/);
  assert.doesNotMatch(lines[0], /at |Error:|stack/i);
});
