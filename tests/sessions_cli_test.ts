/**
 * `deno task sessions`, run as a subprocess the way the task runs it: sessions are made by the
 * real app (main.ts on a temp KV file), then listed from the file and from the running
 * server's admin API. Checks that the handles match, no raw session id is ever printed, dead
 * sessions are left out, and failures are one `error:` line with the promised exit code.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../lib/base/crypto.ts";
import { sessionKey } from "../lib/sessions/kv_store.ts";
import type { SessionRecord } from "../lib/sessions/session.ts";
import { ADMIN_TOKEN, freePort, ROOT, startServer } from "./helpers.ts";

const SCRIPT = new URL("../lib/cli/sessions.ts", import.meta.url).pathname;

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI with the task's permissions and only the given environment (plus PATH/HOME). */
async function sessions(
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      SCRIPT,
      ...args,
    ],
    cwd: ROOT,
    env: { ...base, ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, out: decoder.decode(stdout), err: decoder.decode(stderr) };
}

function assertOneLineError(run: Run, code: number, pattern: RegExp) {
  assert.equal(run.code, code, `exit code; stderr: ${run.err}`);
  const lines = run.err.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${run.err}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.equal(run.out, "");
}

interface Visitor {
  id: string;
  handle: string;
}

/** A first visit: the id the app sets and its handle. */
async function visit(url: string): Promise<Visitor> {
  const res = await fetch(`${url}/`);
  await res.body?.cancel();
  assert.equal(res.status, 200);
  const cookie = res.headers.getSetCookie().find((c) =>
    c.startsWith("sessionId=")
  );
  assert.ok(cookie, "a session cookie is set");
  const id = cookie.slice("sessionId=".length).split(";")[0];
  return { id, handle: await sha256Hex(id) };
}

async function api(
  url: string,
  path: string,
  id: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url + path, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      cookie: `sessionId=${id}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

interface Listed {
  handle: string;
  user: string | null;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  data: Record<string, unknown>;
}

function parseJsonLines(out: string): Listed[] {
  return out.trimEnd().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

Deno.test("deno task sessions lists what the app stored, from the file and from the server", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "mcq-sessions-cli-" });
  const kvPath = `${dir}/store.kv.sqlite3`;
  const env = {
    KV_PATH: kvPath,
    ADMIN_TOKEN,
    PBKDF2_ITERATIONS: "1000",
  };
  try {
    // 1. The real app makes three sessions: anonymous, anonymous with progress, logged in.
    let server = await startServer(env);
    let anonymous: Visitor, answered: Visitor, alice: Visitor;
    let quizId: string;
    try {
      anonymous = await visit(server.url);
      answered = await visit(server.url);
      // With its cookie: a request without one would start a fourth session.
      const quizzes = (await api(server.url, "/api/quizzes", answered.id))
        .json as unknown as { id: string }[];
      quizId = quizzes[0].id;
      const quiz = await api(server.url, `/api/quizzes/${quizId}`, answered.id);
      const questions = quiz.json.questions as { id: string }[];
      const answer = await api(
        server.url,
        `/api/quizzes/${quizId}/answers`,
        answered.id,
        { questionId: questions[0].id, choice: 0 },
      );
      assert.equal(answer.status, 200, JSON.stringify(answer.json));

      const first = await visit(server.url);
      const res = await fetch(`${server.url}/api/register`, {
        method: "POST",
        headers: {
          cookie: `sessionId=${first.id}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({
          username: "alice",
          password: "correct horse battery",
        }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      await res.body?.cancel();
      // Registration rotates the id: the listing must show the new handle, not the old one.
      const rotated = res.headers.getSetCookie().find((c) =>
        c.startsWith("sessionId=")
      )!;
      const id = rotated.slice("sessionId=".length).split(";")[0];
      assert.notEqual(id, first.id);
      alice = { id, handle: await sha256Hex(id) };
    } finally {
      await server.stop();
    }

    // 2. Two dead records the local store still holds (it deletes expired keys lazily):
    //    one idle too long, one past its absolute lifetime.
    const now = Date.now();
    const deadIdle = { id: crypto.randomUUID(), handle: "" };
    const deadAbsolute = { id: crypto.randomUUID(), handle: "" };
    deadIdle.handle = await sha256Hex(deadIdle.id);
    deadAbsolute.handle = await sha256Hex(deadAbsolute.id);
    const record = (createdAt: number, lastSeenAt: number): SessionRecord => ({
      createdAt,
      lastSeenAt,
      user: null,
      csrf: "x".repeat(43),
      data: { likes: ["dead/one"] },
    });
    {
      const kv = await Deno.openKv(kvPath);
      await kv.set(
        sessionKey(deadIdle.handle),
        record(now - 3 * 3600_000, now - 2 * 3600_000),
      );
      await kv.set(
        sessionKey(deadAbsolute.handle),
        record(now - 2 * 86400_000, now - 60_000),
      );
      kv.close();
    }
    const live = [anonymous, answered, alice].map((v) => v.handle).sort();
    const everyId = [anonymous, answered, alice, deadIdle, deadAbsolute].map((
      v,
    ) => v.id);

    const checkListing = (rows: Listed[]) => {
      assert.deepEqual(rows.map((r) => r.handle).sort(), live);
      const byHandle = new Map(rows.map((r) => [r.handle, r]));
      assert.equal(byHandle.get(alice.handle)!.user, "alice");
      assert.equal(byHandle.get(anonymous.handle)!.user, null);
      const data = byHandle.get(answered.handle)!.data as {
        quizzes?: Record<string, unknown>;
      };
      assert.ok(data.quizzes?.[quizId], "the answered quiz is in the data");
      for (const r of rows) {
        assert.match(r.handle, /^[0-9a-f]{64}$/);
        assert.ok(Date.parse(r.createdAt) <= Date.parse(r.lastSeenAt));
        assert.ok(Date.parse(r.expiresAt) > Date.now());
      }
    };
    const assertNoIds = (text: string) => {
      for (const id of everyId) {
        assert.ok(!text.includes(id), "a raw session id was printed");
      }
      assert.doesNotMatch(text, /csrf|x{43}/, "no CSRF token printed");
    };

    await t.step("from the KV file: JSON lines", async () => {
      const run = await sessions(["--kv", kvPath, "--json"]);
      assert.equal(run.code, 0, run.err);
      assert.equal(run.err, "");
      checkListing(parseJsonLines(run.out));
      assertNoIds(run.out);
      assert.ok(!run.out.includes(deadIdle.handle));
      assert.ok(!run.out.includes(deadAbsolute.handle));
    });

    await t.step("from the KV file named by KV_PATH: a table", async () => {
      const run = await sessions([], { KV_PATH: kvPath });
      assert.equal(run.code, 0, run.err);
      const lines = run.out.trimEnd().split("\n");
      assert.match(lines[0], /^handle\s+user\s+created/);
      const handles = lines.slice(1, -1).map((l) => l.split(/\s+/)[0]).sort();
      assert.deepEqual(handles, live);
      assert.match(lines.at(-1)!, /^3 live sessions \(2 ended/);
      assert.match(run.out, /\balice\b/);
      assertNoIds(run.out);
      assert.ok(!run.out.includes(deadIdle.handle));
    });

    await t.step(
      "timeouts come from the environment, as the app's do",
      async () => {
        // With an absolute lifetime of two days the second dead record is alive again.
        const run = await sessions(["--kv", kvPath, "--json"], {
          SESSION_ABSOLUTE_TIMEOUT: String(3 * 86400),
        });
        assert.equal(run.code, 0, run.err);
        const handles = parseJsonLines(run.out).map((r) => r.handle);
        assert.ok(handles.includes(deadAbsolute.handle));
        assert.ok(!handles.includes(deadIdle.handle));
      },
    );

    await t.step(
      "a missing KV file is an error, and is not created",
      async () => {
        const missing = `${dir}/nothing-here.kv.sqlite3`;
        assertOneLineError(
          await sessions(["--kv", missing]),
          1,
          /no KV file at .*nothing-here/,
        );
        await assert.rejects(Deno.stat(missing), Deno.errors.NotFound);
      },
    );

    await t.step("bad flags and bad configuration exit 2", async () => {
      assertOneLineError(
        await sessions(["--nope"]),
        2,
        /unknown option --nope/,
      );
      assertOneLineError(await sessions(["--kv"]), 2, /--kv needs a value/);
      assertOneLineError(
        await sessions(["--kv", kvPath, "--url", "http://127.0.0.1:1"]),
        2,
        /not both/,
      );
      assertOneLineError(await sessions(["--url", "nope"]), 2, /not a URL/);
      assertOneLineError(
        await sessions(["--kv", kvPath], { SESSION_IDLE_TIMEOUT: "soon" }),
        2,
        /SESSION_IDLE_TIMEOUT/,
      );
      const help = await sessions(["--help"]);
      assert.equal(help.code, 0);
      assert.match(help.out, /^usage: deno task sessions/);
    });

    // 3. The same store behind the running server.
    server = await startServer(env);
    try {
      await t.step("from the server's admin API", async () => {
        const run = await sessions(["--url", server.url, "--json"], {
          ADMIN_TOKEN,
        });
        assert.equal(run.code, 0, run.err);
        checkListing(parseJsonLines(run.out));
        assertNoIds(run.out);
        const table = await sessions(["--url", server.url], { ADMIN_TOKEN });
        assert.equal(table.code, 0, table.err);
        assert.match(table.out, /^3 live sessions$/m);
        assertNoIds(table.out);
      });

      await t.step("a session the admin ends is no longer listed", async () => {
        const res = await fetch(
          `${server.url}/admin/sessions/${anonymous.handle}`,
          {
            method: "DELETE",
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          },
        );
        await res.body?.cancel();
        assert.equal(res.status, 200);
        const run = await sessions(["--url", server.url, "--json"], {
          ADMIN_TOKEN,
        });
        assert.equal(run.code, 0, run.err);
        assert.deepEqual(
          parseJsonLines(run.out).map((r) => r.handle).sort(),
          [answered.handle, alice.handle].sort(),
        );
      });

      await t.step("a wrong token is a one-line 401 error", async () => {
        assertOneLineError(
          await sessions(["--url", server.url], {
            ADMIN_TOKEN: "w".repeat(40),
          }),
          1,
          /401/,
        );
      });

      await t.step("--url without ADMIN_TOKEN exits 2", async () => {
        assertOneLineError(
          await sessions(["--url", server.url]),
          2,
          /ADMIN_TOKEN/,
        );
      });
    } finally {
      await server.stop();
    }

    await t.step("a server that is down is a one-line error", async () => {
      const port = freePort();
      assertOneLineError(
        await sessions(["--url", `http://127.0.0.1:${port}`], { ADMIN_TOKEN }),
        1,
        /cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused/,
      );
    });

    await t.step(
      "more than a page (the API caps a page at 1000) follows the cursor",
      async () => {
        const extra = new Set<string>();
        const kv = await Deno.openKv(kvPath);
        try {
          const now = Date.now();
          for (let batch = 0; batch < 12; batch++) {
            const op = kv.atomic();
            for (let i = 0; i < 100; i++) {
              const handle = await sha256Hex(crypto.randomUUID());
              extra.add(handle);
              op.set(sessionKey(handle), record(now, now));
            }
            assert.ok((await op.commit()).ok);
          }
        } finally {
          kv.close();
        }
        const expected = [answered.handle, alice.handle, ...extra].sort();
        const fromFile = await sessions(["--kv", kvPath, "--json"]);
        assert.equal(fromFile.code, 0, fromFile.err);
        assert.deepEqual(
          parseJsonLines(fromFile.out).map((r) => r.handle).sort(),
          expected,
        );
        const again = await startServer(env);
        try {
          const run = await sessions(["--url", again.url, "--json"], {
            ADMIN_TOKEN,
          });
          assert.equal(run.code, 0, run.err);
          const handles = parseJsonLines(run.out).map((r) => r.handle);
          assert.equal(
            handles.length,
            expected.length,
            "no page lost or repeated",
          );
          assert.deepEqual(handles.sort(), expected);
        } finally {
          await again.stop();
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
