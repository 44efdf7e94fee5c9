/** The Aiken format of lib/quiz/aiken.ts: what it reads and what it refuses, with file and line. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { parseAiken } from "../lib/quiz/aiken.ts";
import { QuizFileError } from "../lib/quiz/quiz_file.ts";

const FILE = "data/quizzes/networks.aiken";

function problems(source: string): string[] {
  try {
    parseAiken(source, FILE);
  } catch (error) {
    assert.ok(
      error instanceof QuizFileError,
      `expected a QuizFileError, got ${error}`,
    );
    assert.equal(error.message, error.problems[0]);
    return error.problems;
  }
  assert.fail("parseAiken() accepted a broken file");
}

Deno.test("an Aiken file reads as questions with options A. or A) and the ANSWER letter", () => {
  const quiz = parseAiken(
    `What does status 404 mean?
A. Not Found
B. Gone
C. Forbidden
ANSWER: A


Which port does
HTTPS use?
A) 80

B) 443
ANSWER:B
`,
    FILE,
  );
  assert.equal(quiz.id, "networks");
  assert.equal(quiz.title, "networks");
  assert.equal(quiz.description, "");
  assert.deepEqual(quiz.questions.map((q) => [q.text, q.choices, q.correct]), [
    ["What does status 404 mean?", ["Not Found", "Gone", "Forbidden"], 0],
    ["Which port does HTTPS use?", ["80", "443"], 1],
  ]);
  assert.equal(quiz.questions[0].explanation, "");
});

Deno.test("Aiken ids come from the texts, as for untitled GIFT questions", () => {
  const [q] =
    parseAiken("Which port does HTTPS use?\nA. 80\nB. 443\nANSWER: B", FILE)
      .questions;
  const hex8 = (t: string) =>
    createHash("sha256").update(t).digest("hex").slice(0, 8);
  assert.equal(
    q.id,
    `which-port-does-https-${hex8("which port does https use?")}`,
  );
  assert.deepEqual(q.choiceIds, [hex8("80"), hex8("443")]);
});

Deno.test("a question without an ANSWER: line is refused at its first line", () => {
  assert.deepEqual(problems("Q1?\nA. x\nB. y\n"), [
    `${FILE}:1: no ANSWER: line for this question`,
  ]);
  assert.deepEqual(problems("Q1?\nA. x\nB. y\n\nQ2?\nA. x\nB. y\nANSWER: A"), [
    `${FILE}:1: no ANSWER: line after this question's options`,
  ]);
});

Deno.test("ANSWER naming a missing option, fewer than two options and a repeated letter are refused", () => {
  assert.deepEqual(problems("Q?\nA. x\nB. y\nANSWER: C"), [
    `${FILE}:4: ANSWER: "C" names no option (options: A, B)`,
  ]);
  assert.deepEqual(problems("Q?\nA. x\nANSWER: A"), [
    `${FILE}:3: fewer than two options (1) before ANSWER:`,
  ]);
  assert.deepEqual(problems("Q?\nA. x\nB. y\nA) z\nANSWER: A"), [
    `${FILE}:4: option A twice (also on line 2)`,
  ]);
});

Deno.test("empty options, options or ANSWER before a question and repeated texts are refused", () => {
  assert.deepEqual(problems("Q?\nA. x\nB. y\nC. \nANSWER: A"), [
    `${FILE}:4: empty option C`,
  ]);
  assert.deepEqual(problems("A. x\nB. y\nANSWER: A"), [
    `${FILE}:1: option A without a question before it`,
  ]);
  assert.deepEqual(problems("ANSWER: A"), [
    `${FILE}:1: ANSWER: without a question before it`,
  ]);
  assert.deepEqual(problems("Q?\nA. x\nB. X\nANSWER: A"), [
    `${FILE}:3: the same choice twice ("X", also on line 2)`,
  ]);
  assert.deepEqual(
    problems("Q?\nA. x\nB. y\nANSWER: A\n\nQ?\nA. x\nB. y\nANSWER: B"),
    [
      `${FILE}:6: the same question text again, first on line 1`,
    ],
  );
  assert.deepEqual(problems("\n\n"), [`${FILE}:1: no questions`]);
});

Deno.test("after a broken question the parser goes on and reports the next problems too", () => {
  const found = problems(
    "Q1?\nA. x\nANSWER: A\n\nQ2?\nA. x\nB. y\nANSWER: B\n\nQ3?\nA. x\nB. y\nANSWER: D\n\nQ4?\nA. x",
  );
  assert.deepEqual(found.map((p) => p.split(": ")[0]), [
    `${FILE}:3`,
    `${FILE}:13`,
    `${FILE}:15`,
  ]);
});

Deno.test("Windows line endings read like plain lines", () => {
  const quiz = parseAiken("Q?\r\nA. x\r\nB. y\r\nANSWER: B\r\n", FILE);
  assert.deepEqual(quiz.questions[0].choices, ["x", "y"]);
});
