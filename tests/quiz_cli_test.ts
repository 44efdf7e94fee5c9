/** `deno task quiz check FILE...` (lib/cli/quiz.ts): what an instructor sees for good and broken files. */
import assert from "node:assert/strict";
import { checkFiles } from "../lib/cli/quiz.ts";
import { ROOT } from "./helpers.ts";

async function withFiles(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("quiz check reports ok with the question count, or each problem as file:line: reason", async () => {
  await withFiles({
    "good.gift": "A? {=a ~b}\n\nB? {T}\n",
    "bad.gift": "A? {=a ~b}\n\nB? {=x =y ~z}\n",
    "one.aiken": "Q?\nA. x\nB. y\nANSWER: B\n",
  }, async (dir) => {
    const report = await checkFiles([
      "good.gift",
      "bad.gift",
      "one.aiken",
      "gone.gift",
    ], dir);
    assert.deepEqual(report, [
      { text: "good.gift: ok: 2 questions", problem: false },
      {
        text: "bad.gift:3: a second correct answer (the first is on line 3): " +
          "exactly one choice starts with = (write \\= for an equals sign)",
        problem: true,
      },
      { text: "one.aiken: ok: 1 question", problem: false },
      { text: "gone.gift: no such file", problem: true },
    ]);
  });
});

Deno.test("deno task quiz check exits 0 for the shipped quizzes, 1 for a broken file and 2 without files", async () => {
  const run = async (...args: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "quiz", ...args],
      cwd: ROOT,
      // An outer `deno task` would otherwise pass its own starting directory down.
      env: { INIT_CWD: ROOT },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return {
      code: output.code,
      stdout: decode(output.stdout),
      stderr: decode(output.stderr),
    };
  };
  const good = await run(
    "check",
    "data/quizzes/http.gift",
    "data/quizzes/cookies.gift",
  );
  assert.equal(good.code, 0, good.stderr);
  assert.equal(
    good.stdout,
    "data/quizzes/http.gift: ok: 10 questions\ndata/quizzes/cookies.gift: ok: 10 questions\n",
  );
  await withFiles({ "broken.gift": "Essay? {}\n" }, async (dir) => {
    const bad = await run("check", `${dir}/broken.gift`);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /broken\.gift:1: essay questions \(\{\}\) are not supported/,
    );
  });
  assert.equal((await run("check")).code, 2);
});
