/**
 * The load tools' command lines: `--help` prints usage and exits 0, a bad option prints usage
 * and exits 2, never a stack trace.
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers.ts";

async function run(script: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script, ...args],
    cwd: ROOT,
    stdin: "null",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    code: out.code,
    stdout: decode(out.stdout),
    stderr: decode(out.stderr),
  };
}

// bench.ts and soak.ts already handled --help; crash.ts threw on it, and soak.ts on any
// unknown option.
Deno.test("deno task crash --help prints its usage and exits 0", async () => {
  const { code, stdout, stderr } = await run("bench/crash.ts", "--help");
  assert.equal(code, 0, stderr);
  assert.match(stdout, /deno task crash \[--/);
  assert.doesNotMatch(stderr, /Uncaught|TypeError/);
});

for (const tool of ["crash", "soak"]) {
  Deno.test(`deno task ${tool} with an unknown option prints its usage and exits 2`, async () => {
    const { code, stdout, stderr } = await run(
      `bench/${tool}.ts`,
      "--no-such-option",
    );
    assert.equal(code, 2, stdout + stderr);
    assert.match(stderr, /no-such-option/);
    assert.match(stderr, new RegExp(`deno task ${tool} \\[--`));
    assert.doesNotMatch(stderr, /Uncaught|TypeError/);
  });
}
