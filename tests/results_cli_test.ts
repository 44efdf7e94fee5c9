/**
 * `deno task results`, run as the task runs it (its own permissions, a clean environment):
 * answers are made by the real app on a temp KV file, then read back from the running server
 * (--url with ADMIN_TOKEN) and from the KV file, as a table and as a CSV file.
 */
import assert from "node:assert/strict";
import { ADMIN_TOKEN, ROOT, startServer } from "./helpers.ts";
import { parseCsv } from "./support/csv.ts";

interface Run {
  code: number;
  out: string;
  err: string;
}

/** The task's command line, read from deno.json so the test runs what users run. */
async function results(
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  const words = (tasks.results as string).split(" ").slice(1);
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...words, ...args],
    cwd: ROOT,
    env: { ...base, QUIZ_DIR: `${ROOT}tests/fixtures/quizzes`, ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, out: decoder.decode(stdout), err: decoder.decode(stderr) };
}

async function answer(url: string, choice: number): Promise<void> {
  const res = await fetch(`${url}/api/quizzes/http/answers`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ questionId: "safe-methods", choice }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
}

Deno.test("deno task results prints a quiz's statistics and writes its CSV, from a server and from the KV file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcq-results-" });
  const kvPath = `${dir}/kv.sqlite3`;
  const server = await startServer({ ADMIN_TOKEN, KV_PATH: kvPath });
  try {
    for (const choice of [2, 2, 0]) await answer(server.url, choice);

    const remote = await results(["http", "--url", server.url], {
      ADMIN_TOKEN,
    });
    assert.equal(remote.code, 0, remote.err);
    assert.match(remote.out, /3 participants, mean score 0\.67 \/ 10/);
    assert.match(remote.out, /safe-methods\s+3\s+2\s+0\.67/);
    assert.match(remote.out, /\*\s+2\s+GET/);

    const local = await results(["http", "--kv", kvPath]);
    assert.equal(local.code, 0, local.err);
    assert.equal(local.out, remote.out);

    const file = `${dir}/out.csv`;
    const written = await results(["http", "--csv", file], { KV_PATH: kvPath });
    assert.equal(written.code, 0, written.err);
    const rows = parseCsv(await Deno.readTextFile(file));
    assert.equal(rows.length, 4);
    assert.deepEqual(rows.slice(1).map((r) => r[4]).sort(), [
      "GET",
      "GET",
      "POST",
    ]);

    const refused = await results(["http", "--url", server.url], {
      ADMIN_TOKEN: "z".repeat(40),
    });
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^error: .*401.*ADMIN_TOKEN/);
    const unknown = await results(["nope", "--kv", kvPath]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /^error: no quiz nope/);
    const usage = await results([]);
    assert.equal(usage.code, 2);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
