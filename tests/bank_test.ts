import assert from "node:assert/strict";
import { BankError, publicQuiz, validateBank } from "../lib/quiz/bank.ts";
import { loadBank } from "../data/quizzes/index.ts";
import { quizFiles } from "../data/quizzes/index.ts";

const FILE = "data/quizzes/test.ts";

function validQuestion(id = "q1"): Record<string, unknown> {
  return {
    id,
    text: "Which one?",
    choices: ["alpha", "beta", "gamma", "delta"],
    correct: 2,
    explanation: "Because gamma.",
  };
}

function validQuiz(
  id = "test",
): Record<string, unknown> & { questions: Record<string, unknown>[] } {
  return {
    id,
    title: "A test quiz",
    description: "Only for tests.",
    questions: [validQuestion("q1"), validQuestion("q2"), validQuestion("q3")],
  };
}

/** The message of the BankError thrown for one file, checked to be a single line. */
function bankError(quiz: unknown, file = FILE): string {
  try {
    validateBank({ [file]: quiz });
  } catch (error) {
    assert.ok(error instanceof BankError, `expected a BankError, got ${error}`);
    assert.doesNotMatch(error.message, /\n/);
    return error.message;
  }
  assert.fail("validateBank() accepted a broken quiz");
}

/** A valid quiz whose second question ("q2") has been changed by `edit`. */
function withQuestion(edit: (q: Record<string, unknown>) => void): unknown {
  const quiz = validQuiz();
  edit(quiz.questions[1]);
  return quiz;
}

Deno.test("loadBank() validates the real bank: three quizzes of ten questions", () => {
  const quizzes = loadBank();
  assert.deepEqual(quizzes.map((q) => q.id), ["http", "cookies", "security"]);
  for (const quiz of quizzes) assert.equal(quiz.questions.length, 10, quiz.id);
});

Deno.test("the real bank spreads correct answers over at least three positions per quiz", () => {
  for (const quiz of loadBank()) {
    const positions = new Set(quiz.questions.map((q) => q.correct));
    assert.ok(
      positions.size >= 3,
      `${quiz.id}: correct answers at ${[...positions]}`,
    );
  }
});

Deno.test("validateBank() accepts a valid quiz and returns it unchanged", () => {
  assert.deepEqual(validateBank({ [FILE]: validQuiz() }), [validQuiz()]);
});

Deno.test("validateBank() names file, quiz, question and problem for an out-of-range correct choice", () => {
  const http = structuredClone(quizFiles["data/quizzes/http.ts"]) as ReturnType<
    typeof validQuiz
  >;
  http.questions[3].correct = 5;
  http.questions[3].choices = ["a", "b", "c", "d"];
  const id = http.questions[3].id;
  assert.equal(
    bankError(http, "data/quizzes/http.ts"),
    `data/quizzes/http.ts: quiz "http", question "${id}": correct choice 5 is out of range (4 choices)`,
  );
});

Deno.test("validateBank() reports a missing or empty question text", () => {
  assert.equal(
    bankError(withQuestion((q) => delete q.text)),
    `${FILE}: quiz "test", question "q2": text is missing`,
  );
  assert.equal(
    bankError(withQuestion((q) => q.text = "  ")),
    `${FILE}: quiz "test", question "q2": text is empty`,
  );
});

Deno.test("validateBank() reports a missing or empty quiz title", () => {
  const missing = validQuiz();
  delete missing.title;
  assert.equal(bankError(missing), `${FILE}: quiz "test": title is missing`);
  assert.equal(
    bankError({ ...validQuiz(), title: "" }),
    `${FILE}: quiz "test": title is empty`,
  );
});

Deno.test("validateBank() reports a missing or empty explanation", () => {
  assert.equal(
    bankError(withQuestion((q) => delete q.explanation)),
    `${FILE}: quiz "test", question "q2": explanation is missing`,
  );
  assert.equal(
    bankError(withQuestion((q) => q.explanation = "")),
    `${FILE}: quiz "test", question "q2": explanation is empty`,
  );
});

Deno.test("validateBank() reports a question with too few or too many choices", () => {
  assert.equal(
    bankError(withQuestion((q) => {
      q.choices = ["yes", "no"];
      q.correct = 0;
    })),
    `${FILE}: quiz "test", question "q2": choices must have 3 to 5 entries (got 2)`,
  );
  assert.equal(
    bankError(withQuestion((q) => q.choices = ["a", "b", "c", "d", "e", "f"])),
    `${FILE}: quiz "test", question "q2": choices must have 3 to 5 entries (got 6)`,
  );
});

Deno.test("validateBank() reports an empty choice by its index", () => {
  assert.equal(
    bankError(withQuestion((q) => q.choices = ["a", "b", "", "d"])),
    `${FILE}: quiz "test", question "q2": choice 2 is empty`,
  );
});

Deno.test("validateBank() reports two choices with the same text", () => {
  assert.equal(
    bankError(withQuestion((q) => q.choices = ["Lax", "Strict", "lax "])),
    `${FILE}: quiz "test", question "q2": choices 0 and 2 are the same ("lax ")`,
  );
});

Deno.test("validateBank() reports duplicate question ids within a quiz", () => {
  const quiz = validQuiz();
  quiz.questions[2].id = "q1";
  assert.equal(
    bankError(quiz),
    `${FILE}: quiz "test", question "q1": duplicate question id (questions 0 and 2)`,
  );
});

Deno.test("validateBank() reports the same quiz id in two files", () => {
  assert.throws(
    () =>
      validateBank({
        "data/quizzes/a.ts": validQuiz("dup"),
        "data/quizzes/b.ts": validQuiz("dup"),
      }),
    new BankError(
      'data/quizzes/b.ts: quiz "dup": duplicate quiz id, already used in data/quizzes/a.ts',
    ),
  );
});

Deno.test("validateBank() reports a non-integer, negative or out-of-range correct choice", () => {
  const where = `${FILE}: quiz "test", question "q2"`;
  assert.equal(
    bankError(withQuestion((q) => q.correct = 1.5)),
    `${where}: correct must be a whole number (got 1.5)`,
  );
  assert.equal(
    bankError(withQuestion((q) => q.correct = "1")),
    `${where}: correct must be a number`,
  );
  assert.equal(
    bankError(withQuestion((q) => q.correct = -1)),
    `${where}: correct must not be negative (got -1)`,
  );
  assert.equal(
    bankError(withQuestion((q) => q.correct = 4)),
    `${where}: correct choice 4 is out of range (4 choices)`,
  );
});

Deno.test("validateBank() reports badly formed quiz and question ids", () => {
  assert.equal(
    bankError(validQuiz("HTTP Quiz")),
    `${FILE}: quiz "HTTP Quiz": id must be 1-40 lowercase letters, digits or dashes (got "HTTP Quiz")`,
  );
  assert.equal(
    bankError(withQuestion((q) => q.id = "q_2")),
    `${FILE}: quiz "test", question "q_2": id must be 1-40 lowercase letters, digits or dashes (got "q_2")`,
  );
  assert.equal(
    bankError(withQuestion((q) => q.id = "x".repeat(41))),
    `${FILE}: quiz "test", question "${
      "x".repeat(41)
    }": id must be 1-40 lowercase letters, digits or dashes (got "${
      "x".repeat(41)
    }")`,
  );
});

Deno.test("validateBank() names a question without a usable id by its position", () => {
  assert.equal(
    bankError(withQuestion((q) => delete q.id)),
    `${FILE}: quiz "test", questions[1]: id is missing`,
  );
});

Deno.test("validateBank() rejects unknown fields, so typos are caught", () => {
  assert.equal(
    bankError(withQuestion((q) => {
      q.explaination = q.explanation;
      delete q.explanation;
    })),
    `${FILE}: quiz "test", question "q2": explanation is missing`,
  );
  assert.equal(
    bankError(withQuestion((q) => q.hint = "try gamma")),
    `${FILE}: quiz "test", question "q2": unknown field "hint"`,
  );
  assert.equal(
    bankError({ ...validQuiz(), titel: "x" }),
    `${FILE}: quiz "test": unknown field "titel"`,
  );
});

Deno.test("validateBank() reports a quiz or question that is not an object", () => {
  assert.equal(
    bankError("nope"),
    `${FILE}: quiz must be an object (got "nope")`,
  );
  assert.equal(
    bankError({ ...validQuiz(), questions: [validQuestion(), null] }),
    `${FILE}: quiz "test", questions[1]: question must be an object (got null)`,
  );
  assert.equal(
    bankError({ ...validQuiz(), questions: [] }),
    `${FILE}: quiz "test": questions must not be empty`,
  );
});

Deno.test("validateBank() keeps each message on one line, even for text with line breaks", () => {
  const message = bankError(validQuiz("bad\nid"));
  assert.match(
    message,
    /^data\/quizzes\/test\.ts: quiz "bad\\nid": id must be/,
  );
});

Deno.test("publicQuiz() leaks no correct answers or explanations", () => {
  for (const quiz of loadBank()) {
    const json = JSON.stringify(publicQuiz(quiz));
    assert.doesNotMatch(json, /"correct"|"explanation"/);
    for (const question of quiz.questions) {
      assert.ok(!json.includes(question.explanation));
    }
    assert.deepEqual(Object.keys(publicQuiz(quiz)), [
      "id",
      "title",
      "questions",
    ]);
    assert.deepEqual(Object.keys(publicQuiz(quiz).questions[0]), [
      "id",
      "text",
      "choices",
    ]);
  }
});

Deno.test("publicQuiz() returns copies, so changing them cannot alter the bank", () => {
  const [quiz] = loadBank();
  publicQuiz(quiz).questions[0].choices.push("extra");
  assert.equal(
    publicQuiz(quiz).questions[0].choices.length,
    quiz.questions[0].choices.length,
  );
  assert.ok(!quiz.questions[0].choices.includes("extra"));
});
