/**
 * The terminal quiz client and its cookie jar: first without the app (the jar through a temp
 * file, redirects, error lines), then end to end against the real server process.
 */
import assert from "node:assert/strict";
import {
  CookieJar,
  fetchWithJar,
  JarError,
  loadJar,
  MAX_REDIRECTS,
  saveJar,
  storeSetCookie,
} from "../lib/cli/cookie_jar.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CLIENT = new URL("../lib/cli/client.ts", import.meta.url).href;
const ORIGIN = "http://127.0.0.1:8000";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs the client as `deno task client` does, with `input` piped to its stdin. */
async function client(args: string[], input = ""): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      CLIENT,
      ...args,
    ],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, out: decoder.decode(stdout), err: decoder.decode(stderr) };
}

/** Asserts a failure was reported the way the tools promise: one `error:` line, no stack. */
function assertOneLineError(run: Run, code: number, pattern: RegExp) {
  assert.equal(run.code, code, `exit code; stderr: ${run.err}`);
  const lines = run.err.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${run.err}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(run.err, /\n\s+at /, "no stack trace");
}

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "mcq-client-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function withServer(
  handler: Deno.ServeHandler<Deno.NetAddr>,
  fn: (base: string) => Promise<void>,
) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    handler,
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

// ---------------------------------------------------------------------------------------------
// The jar, without the app
// ---------------------------------------------------------------------------------------------

Deno.test("the jar keeps Max-Age, Path and HttpOnly through a temp file and drops expired cookies", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/jar.json`;
    const jar = new CookieJar();
    const from = `${ORIGIN}/api/quizzes`;
    const before = Date.now();
    for (
      const header of [
        "keep=1; Path=/; Max-Age=3600",
        "apiOnly=2; Path=/api; Max-Age=3600",
        "secret=3; Path=/; HttpOnly; Max-Age=3600",
        "old=4; Path=/; Expires=Wed, 01 Jan 2020 00:00:00 GMT",
        "gone=5; Path=/; Max-Age=3600",
      ]
    ) {
      await storeSetCookie(jar, header, from);
    }
    await storeSetCookie(jar, "gone=; Path=/; Max-Age=0", from);
    await saveJar(jar, path);

    const saved = JSON.parse(await Deno.readTextFile(path));
    const names = saved.cookies.map((c: { key: string }) => c.key).sort();
    assert.deepEqual(names, ["apiOnly", "keep", "secret"]);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir), (e) => e.name), [
      "jar.json",
    ], "no temp file is left behind");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);

    const loaded = await loadJar(path);
    assert.equal(
      await loaded.getCookieString(`${ORIGIN}/`),
      "keep=1; secret=3",
      "Path=/api is not sent to /",
    );
    assert.equal(
      await loaded.getCookieString(`${ORIGIN}/api/me`),
      "apiOnly=2; keep=1; secret=3",
    );
    assert.equal(
      await loaded.getCookieString(`${ORIGIN}/api/me`, { http: false }),
      "apiOnly=2; keep=1",
      "an HttpOnly cookie is for HTTP only",
    );
    const [keep] = await loaded.getCookies(`${ORIGIN}/`).then((cs) =>
      cs.filter((c) => c.key === "keep")
    );
    const expiry = keep.expiryTime()!;
    assert.ok(expiry >= before + 3600_000 && expiry <= Date.now() + 3600_000);
  });
});

Deno.test("a Max-Age lifetime counts from when the cookie was received, not from its last use", async () => {
  const jar = new CookieJar();
  const received = new Date(Date.now() - 2000);
  await storeSetCookie(jar, "short=1; Path=/; Max-Age=3", ORIGIN, received);
  for (let use = 0; use < 2; use++) {
    // Each use refreshes tough-cookie's lastAccessed, which it would count Max-Age from.
    const [cookie] = await jar.getCookies(`${ORIGIN}/`);
    assert.equal(cookie.key, "short");
    assert.equal(cookie.expiryTime(), received.getTime() + 3000);
  }
  await storeSetCookie(jar, "past=1; Path=/; Max-Age=1", ORIGIN, received);
  assert.equal(await jar.getCookieString(`${ORIGIN}/`), "short=1");
});

Deno.test("a missing jar file is an empty jar", async () => {
  await withTempDir(async (dir) => {
    const jar = await loadJar(`${dir}/nothing-here.json`);
    assert.equal((await jar.serialize()).cookies.length, 0);
  });
});

Deno.test("a corrupt jar is refused with a clear message and left untouched", async () => {
  await withTempDir(async (dir) => {
    for (const text of ["{not json", '{"cookies": 3}', "[]", ""]) {
      const path = `${dir}/corrupt.json`;
      await Deno.writeTextFile(path, text);
      await assert.rejects(loadJar(path), (err: Error) => {
        assert.ok(err instanceof JarError);
        assert.match(err.message, /corrupt\.json is corrupt/);
        assert.match(err.message, /left untouched/);
        return true;
      });
      assert.equal(await Deno.readTextFile(path), text);
    }
  });
});

Deno.test("the client refuses a corrupt jar in one line, exits 1 and never overwrites it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/jar.json`;
    await Deno.writeTextFile(path, "{oops");
    const run = await client([
      "--jar",
      path,
      "--url",
      `http://127.0.0.1:${freePort()}`,
      "me",
    ]);
    assertOneLineError(
      run,
      1,
      /cookie jar .*jar\.json is corrupt.*left untouched/,
    );
    assert.equal(await Deno.readTextFile(path), "{oops");
  });
});

Deno.test("fetchWithJar follows redirects itself and stores the cookies of every hop", async () => {
  const seen: string[] = [];
  await withServer((request) => {
    const url = new URL(request.url);
    seen.push(
      `${request.method} ${url.pathname} [${
        request.headers.get("cookie") ?? ""
      }] ${request.headers.get("content-type") ?? ""}`,
    );
    const headers = new Headers();
    if (url.pathname === "/start") {
      headers.append("set-cookie", "first=1; Path=/; HttpOnly");
      headers.set("location", "/middle");
      return new Response(null, { status: 303, headers });
    }
    if (url.pathname === "/middle") {
      headers.append("set-cookie", "second=2; Path=/");
      headers.append("set-cookie", "first=; Path=/; Max-Age=0");
      headers.set("location", "/end");
      return new Response(null, { status: 302, headers });
    }
    if (url.pathname === "/loop") {
      headers.set("location", "/loop");
      return new Response(null, { status: 307, headers });
    }
    return Response.json({ cookie: request.headers.get("cookie") });
  }, async (base) => {
    const jar = new CookieJar();
    const response = await fetchWithJar(jar, `${base}/start`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(response.status, 200);
    assert.equal(response.url, `${base}/end`);
    assert.deepEqual(await response.json(), { cookie: "second=2" });
    assert.deepEqual(seen, [
      "POST /start [] application/json",
      "GET /middle [first=1] ",
      "GET /end [second=2] ",
    ]);
    await assert.rejects(
      fetchWithJar(jar, `${base}/loop`),
      new RegExp(`too many redirects \\(more than ${MAX_REDIRECTS}\\)`),
    );
    assert.equal(
      seen.filter((s) => s.includes("/loop")).length,
      MAX_REDIRECTS + 1,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The client's error lines, without the app
// ---------------------------------------------------------------------------------------------

Deno.test("the client against a port nobody listens on says so in one line and exits 1", async () => {
  await withTempDir(async (dir) => {
    const run = await client([
      "--url",
      `http://127.0.0.1:${freePort()}`,
      "--jar",
      `${dir}/jar.json`,
    ]);
    assertOneLineError(
      run,
      1,
      /cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused/,
    );
    assert.equal(run.out, "");
    await assert.rejects(Deno.stat(`${dir}/jar.json`), Deno.errors.NotFound);
  });
});

Deno.test("an answer that is not JSON is a clear error, not a crash", async () => {
  await withTempDir(async (dir) => {
    await withServer(
      () =>
        new Response("<!doctype html><h1>Welcome</h1>", {
          headers: { "content-type": "text/html; charset=utf-8" },
        }),
      async (base) => {
        const run = await client(["--url", base, "--jar", `${dir}/jar.json`]);
        assertOneLineError(
          run,
          1,
          /GET \/api\/quizzes: the server answered 200 OK with something that is not JSON \(text\/html/,
        );
      },
    );
  });
});

Deno.test("a 5xx answer is reported with the API's error message and exit 1", async () => {
  await withTempDir(async (dir) => {
    await withServer(
      () =>
        Response.json({ error: "the store is not answering" }, { status: 503 }),
      async (base) => {
        const run = await client([
          "--url",
          base,
          "--jar",
          `${dir}/jar.json`,
          "me",
        ]);
        assertOneLineError(
          run,
          1,
          /GET \/api\/me failed \(503\): the store is not answering/,
        );
      },
    );
  });
});

Deno.test("usage errors exit 2 with one line", async () => {
  assertOneLineError(
    await client(["--url", "not a url"]),
    2,
    /not a valid URL/,
  );
  assertOneLineError(
    await client(["--url", "ftp://x/"]),
    2,
    /http:\/\/ or https:\/\//,
  );
  assertOneLineError(
    await client(["take"]),
    2,
    /take needs exactly one quiz id/,
  );
  assertOneLineError(await client(["dance"]), 2, /unknown command dance/);
  assertOneLineError(await client(["--nope"]), 2, /unknown option --nope/);
  assertOneLineError(await client(["--jar"]), 2, /--jar needs a value/);
  const help = await client(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /usage: deno task client/);
});

Deno.test("--show-cookies prints the jar with values masked except their last 4 characters", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/jar.json`;
    const jar = new CookieJar();
    await storeSetCookie(
      jar,
      "sessionId=0b6f8a52-4a3e-4b8e-9a53-3c1f0f6f2d11; Path=/; HttpOnly; SameSite=Lax; Max-Age=1800",
      ORIGIN,
    );
    await saveJar(jar, path);
    const run = await client(["--jar", path, "--show-cookies"]);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /1 cookie\n/);
    assert.match(
      run.out,
      /NAME\s+VALUE\s+DOMAIN\s+PATH\s+EXPIRES\s+HTTPONLY\s+SECURE\s+SAMESITE/,
    );
    assert.match(
      run.out,
      /sessionId\s+\*+2d11\s+127\.0\.0\.1 \(host-only\)\s+\/\s+\S+ \(in (29m 5\ds|30m)\)\s+yes\s+no\s+Lax/,
    );
    assert.doesNotMatch(run.out, /0b6f8a52/);
  });
});
