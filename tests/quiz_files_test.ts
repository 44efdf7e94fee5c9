/** lib/quiz/files.ts: a directory of GIFT and Aiken files as quizzes, and the shipped GIFT files. */
import assert from "node:assert/strict";
import { loadQuizDir, QuizFileError } from "../lib/quiz/files.ts";
import { ROOT } from "./helpers.ts";

const GIFT = "::q1:: Which? {=a ~b}\n";
const AIKEN = "Which?\nA. a\nB. b\nANSWER: A\n";

/** A temporary directory holding `files` (name -> text or bytes), removed after `fn`. */
async function withDir(
  files: Record<string, string | Uint8Array>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, content] of Object.entries(files)) {
      if (typeof content === "string") {
        await Deno.writeTextFile(`${dir}/${name}`, content);
      } else await Deno.writeFile(`${dir}/${name}`, content);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function loadProblems(dir: string): Promise<string[]> {
  try {
    await loadQuizDir(dir);
  } catch (error) {
    assert.ok(
      error instanceof QuizFileError,
      `expected a QuizFileError, got ${error}`,
    );
    assert.equal(error.message, error.problems[0]);
    return error.problems;
  }
  assert.fail("loadQuizDir() accepted a broken directory");
}

Deno.test("loadQuizDir() reads every .gift and .aiken file, in file-name order, and nothing else", async () => {
  await withDir({
    "zeta.gift": GIFT,
    "alpha.aiken": AIKEN,
    "mid-2.gift": GIFT,
    "notes.txt": "not a quiz",
    "old.ts": "export default {}",
  }, async (dir) => {
    const quizzes = await loadQuizDir(dir);
    assert.deepEqual(quizzes.map((q) => q.id), ["alpha", "mid-2", "zeta"]);
    assert.deepEqual(quizzes[2].questions.map((q) => q.id), ["q1"]);
  });
});

Deno.test("a quiz file whose name is not a quiz id is refused, naming the file", async () => {
  await withDir({ "Networks.gift": GIFT }, async (dir) => {
    const [problem] = await loadProblems(dir);
    assert.match(problem, /\/Networks\.gift: the file name must be a quiz id/);
  });
});

Deno.test("the problems of every file come in one error, each as file:line: reason", async () => {
  await withDir({
    "a.gift": "Q? {~a ~b}\n",
    "b.aiken": "Q?\nA. x\nANSWER: A\n",
    "c.gift": GIFT,
  }, async (dir) => {
    assert.deepEqual(await loadProblems(dir), [
      `${dir}/a.gift:1: no correct answer: mark the right choice with =`,
      `${dir}/b.aiken:3: fewer than two options (1) before ANSWER:`,
    ]);
  });
});

Deno.test("a.gift and a.aiken cannot both be quiz a", async () => {
  await withDir({ "a.gift": GIFT, "a.aiken": AIKEN }, async (dir) => {
    assert.deepEqual(await loadProblems(dir), [
      `${dir}/a.gift: quiz id "a" is also ${dir}/a.aiken's`,
    ]);
  });
});

Deno.test("a file that is not UTF-8, or a missing directory, is a clear error", async () => {
  const latin1 = new Uint8Array([
    ...new TextEncoder().encode("Caf"),
    0xe9,
    ...new TextEncoder().encode("? {=a ~b}"),
  ]);
  await withDir({ "cafe.gift": latin1 }, async (dir) => {
    assert.deepEqual(await loadProblems(dir), [
      `${dir}/cafe.gift: not UTF-8 text (save it as UTF-8)`,
    ]);
  });
  assert.deepEqual(await loadProblems(`${ROOT}no-such-dir/`), [
    `${ROOT}no-such-dir: no such quiz directory`,
  ]);
});
