/**
 * `deno task cookies URL`, run as a subprocess against a tiny local server (the test's fixture)
 * that answers chosen Set-Cookie headers; and its rules checked directly for what a plain-http
 * fixture cannot show (https).
 */
import assert from "node:assert/strict";
import { inspectSetCookie } from "../lib/cli/cookies.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const SCRIPT = new URL("../lib/cli/cookies.ts", import.meta.url).href;

/** Set-Cookie headers answered on each path of the fixture server. */
const FIXTURES: Record<string, string[]> = {
  "/good": [
    "sessionId=0b6f8a52-4a3e-4b8e-9a53-3c1f0f6f2d11; Path=/; HttpOnly; SameSite=Lax; Max-Age=1800",
  ],
  "/no-httponly": ["sessionId=abc123; Path=/; SameSite=Lax; Max-Age=1800"],
  "/no-samesite": ["theme=dark; Path=/; HttpOnly; Max-Age=3600"],
  "/long": [
    "pref=1; Path=/; HttpOnly; SameSite=Lax; Max-Age=40000000",
    "authToken=x; Path=/; HttpOnly; SameSite=Strict; Max-Age=3000000",
    "cart=2; Path=/; HttpOnly; SameSite=Lax; Max-Age=3000000",
  ],
  "/host-prefix": [
    "__Host-id=1; Domain=127.0.0.1; Path=/app; HttpOnly; SameSite=Lax",
  ],
  "/cleared": ["sessionId=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"],
  "/none": [],
};

async function withFixture(
  fn: (base: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const path = new URL(request.url).pathname;
      const headers = new Headers({ "content-type": "text/plain" });
      if (path === "/redirect") {
        headers.set("location", "/good");
        headers.append("set-cookie", "step=1; Path=/; HttpOnly; SameSite=Lax");
        return new Response(null, { status: 302, headers });
      }
      if (path === "/echo") {
        // Answers 200 only to the request `--method POST --cookie a=1` makes.
        const ok = request.method === "POST" &&
          request.headers.get("cookie") === "a=1";
        return new Response(null, { status: ok ? 200 : 400, headers });
      }
      const cookies = FIXTURES[path];
      if (!cookies) return new Response("not found", { status: 404, headers });
      for (const cookie of cookies) headers.append("set-cookie", cookie);
      return new Response("ok", { headers });
    },
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

async function inspect(...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", SCRIPT, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code,
    out: decoder.decode(stdout),
    err: decoder.decode(stderr),
  };
}

function warnings(out: string): string[] {
  return out.split("\n").filter((line) => line.trim().startsWith("warning:"));
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test("a well-set session cookie is printed attribute by attribute without warnings", async () => {
  await withFixture(async (base) => {
    const { code, out, err } = await inspect(`${base}/good`);
    assert.equal(code, 0, err);
    assert.match(out, /→ 200 OK/);
    assert.match(out, /name\s+sessionId/);
    assert.match(out, /value\s+36 characters/);
    assert.match(out, /Path\s+\//);
    assert.match(out, /Domain\s+\(not set: this host only\)/);
    assert.match(out, /Max-Age\s+1800 \(30 minutes\)/);
    assert.match(out, /Expires\s+\(not set\)/);
    assert.match(out, /HttpOnly\s+yes/);
    assert.match(out, /Secure\s+no/);
    assert.match(out, /SameSite\s+Lax/);
    assert.match(out, /Partitioned\s+no/);
    assert.match(out, /prefix\s+none/);
    assert.doesNotMatch(out, /0b6f8a52/, "the value itself is never printed");
    assert.deepEqual(warnings(out), []);
    assert.match(out, /No warnings\./);
  });
});

Deno.test("a session-looking cookie without HttpOnly is warned about", async () => {
  await withFixture(async (base) => {
    const { code, out } = await inspect(`${base}/no-httponly`);
    assert.equal(code, 0, "warnings do not fail the run");
    assert.equal(warnings(out).length, 1);
    assert.match(warnings(out)[0], /session cookie but has no HttpOnly/);
  });
});

Deno.test("a cookie without SameSite is warned about", async () => {
  await withFixture(async (base) => {
    const { code, out } = await inspect(`${base}/no-samesite`);
    assert.equal(code, 0);
    assert.equal(warnings(out).length, 1);
    assert.match(warnings(out)[0], /no SameSite/);
  });
});

Deno.test("lifetimes over 400 days, or over 30 days for a session-looking cookie, are warned about", async () => {
  await withFixture(async (base) => {
    const { code, out } = await inspect(`${base}/long`);
    assert.equal(code, 0);
    const list = warnings(out);
    assert.equal(list.length, 2, out);
    assert.match(list[0], /lifetime over 400 days/);
    assert.match(list[1], /session-looking cookie living over 30 days/);
    assert.match(out, /3 Set-Cookie headers/);
  });
});

Deno.test("a __Host- cookie with a Domain, a Path other than / and no Secure is warned about", async () => {
  await withFixture(async (base) => {
    const { code, out } = await inspect(`${base}/host-prefix`);
    assert.equal(code, 0);
    assert.match(out, /prefix\s+__Host-/);
    const list = warnings(out);
    assert.equal(list.length, 1);
    assert.match(
      list[0],
      /__Host- cookie with no Secure, a Domain, a Path other than \//,
    );
  });
});

Deno.test("a Max-Age=0 header is shown as deleting the cookie, without lifetime warnings", async () => {
  await withFixture(async (base) => {
    const { code, out } = await inspect(`${base}/cleared`);
    assert.equal(code, 0);
    assert.match(out, /Max-Age\s+0 \(deletes the cookie\)/);
    assert.match(out, /value\s+0 characters/);
    assert.deepEqual(warnings(out), []);
  });
});

Deno.test("a redirect is reported with its status and not followed", async () => {
  await withFixture(async (base) => {
    const { code, out } = await inspect(`${base}/redirect`);
    assert.equal(code, 0);
    assert.match(out, /→ 302 Found/);
    assert.match(out, /Location: \/good \(not followed\)/);
    assert.match(out, /name\s+step/);
    assert.doesNotMatch(out, /sessionId/);
  });
});

Deno.test("an answer without cookies says so, and an error status is still inspected", async () => {
  await withFixture(async (base) => {
    const none = await inspect(`${base}/none`);
    assert.equal(none.code, 0);
    assert.match(none.out, /No Set-Cookie headers\./);
    const missing = await inspect(`${base}/missing`);
    assert.equal(missing.code, 0);
    assert.match(missing.out, /→ 404 Not Found/);
  });
});

Deno.test("--method and --cookie shape the request", async () => {
  await withFixture(async (base) => {
    const { code, out } = await inspect(
      "--method",
      "post",
      "--cookie",
      "a=1",
      `${base}/echo`,
    );
    assert.equal(code, 0);
    assert.match(out, /^POST http:\/\/127\.0\.0\.1:\d+\/echo → 200 OK/);
    const plain = await inspect(`${base}/echo`);
    assert.match(plain.out, /^GET .* → 400 Bad Request/);
  });
});

Deno.test("a bad URL is one line on stderr and exit 1", async () => {
  const { code, out, err } = await inspect("not a url");
  assert.equal(code, 1);
  assert.equal(out, "");
  assert.equal(err.trim().split("\n").length, 1);
  assert.match(err, /^error: not a url is not a valid URL/);
  const ftp = await inspect("ftp://127.0.0.1/");
  assert.equal(ftp.code, 1);
  assert.match(ftp.err, /not an http:\/\/ or https:\/\/ URL/);
});

Deno.test("an unreachable server is one line on stderr and exit 1", async () => {
  const port = freePort();
  const { code, err } = await inspect(`http://127.0.0.1:${port}/`);
  assert.equal(code, 1);
  assert.equal(err.trim().split("\n").length, 1);
  assert.match(
    err,
    /^error: cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused/,
  );
  assert.doesNotMatch(err, /\bat /, "no stack trace");
});

Deno.test("no URL is a usage error (exit 2)", async () => {
  const { code, err } = await inspect();
  assert.equal(code, 2);
  assert.match(err, /^error: which URL\?/);
});

Deno.test("on an https site a cookie without Secure is warned about", () => {
  const url = new URL("https://quiz.example/");
  const insecure = inspectSetCookie(
    "sessionId=x; Path=/; HttpOnly; SameSite=Lax",
    url,
  );
  assert.deepEqual(insecure.warnings.length, 1);
  assert.match(insecure.warnings[0], /no Secure on an https site/);
  const secure = inspectSetCookie(
    "__Host-sessionId=x; Path=/; HttpOnly; SameSite=Lax; Secure",
    url,
  );
  assert.deepEqual(secure.warnings, []);
  assert.equal(secure.prefix, "__Host-");
});

Deno.test("a lifetime given by Expires is measured from the answer's time", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  const report = inspectSetCookie(
    "sid=x; Path=/; HttpOnly; SameSite=Lax; Expires=Sun, 01 Feb 2026 00:00:00 GMT",
    new URL("http://127.0.0.1/"),
    now,
  );
  assert.equal(report.lifetime, 396 * 86400);
  assert.equal(report.warnings.length, 1);
  assert.match(report.warnings[0], /over 30 days \(396 days\)/);
});
