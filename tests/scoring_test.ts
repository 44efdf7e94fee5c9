import assert from "node:assert/strict";
import type { Quiz } from "../lib/quiz/bank.ts";
import { HttpError } from "../lib/base/http_error.ts";
import {
  applyAnswer,
  currentQuestion,
  parseChoice,
  type QuizProgress,
  scoreOf,
} from "../lib/quiz/scoring.ts";

function testQuiz(): Quiz {
  const question = (id: string, correct: number) => ({
    id,
    text: `Question ${id}?`,
    choices: ["a", "b", "c"],
    correct,
    explanation: `Because of ${id}.`,
  });
  return {
    id: "t",
    title: "Test",
    description: "For tests.",
    questions: [
      question("one", 0),
      question("two", 1),
      question("constructor", 2),
    ],
  };
}

/** Runs `fn` and checks it throws an HttpError with this status (and message, if given). */
function assertHttpError(
  fn: () => unknown,
  status: number,
  message?: string | RegExp,
): HttpError {
  try {
    fn();
  } catch (error) {
    assert.ok(
      error instanceof HttpError,
      `expected an HttpError, got ${error}`,
    );
    assert.equal(error.status, status);
    if (typeof message === "string") assert.equal(error.message, message);
    if (message instanceof RegExp) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected an HttpError ${status}`);
}

Deno.test("scoreOf() is zero of the total without progress", () => {
  assert.deepEqual(scoreOf(testQuiz(), undefined), {
    score: 0,
    answered: 0,
    total: 3,
  });
  assert.deepEqual(scoreOf(testQuiz(), { answers: {} }), {
    score: 0,
    answered: 0,
    total: 3,
  });
});

Deno.test("scoreOf() counts right and wrong answers and ignores ids no longer in the bank", () => {
  const progress = { answers: { one: 0, two: 2, removed: 1 } };
  assert.deepEqual(scoreOf(testQuiz(), progress), {
    score: 1,
    answered: 2,
    total: 3,
  });
});

Deno.test("currentQuestion() is the first unanswered question in bank order, then null", () => {
  const quiz = testQuiz();
  assert.equal(currentQuestion(quiz, undefined)?.id, "one");
  assert.equal(currentQuestion(quiz, { answers: { two: 1 } })?.id, "one");
  assert.equal(currentQuestion(quiz, { answers: { one: 1 } })?.id, "two");
  assert.equal(
    currentQuestion(quiz, { answers: { one: 0, two: 0 } })?.id,
    "constructor",
  );
  assert.equal(
    currentQuestion(quiz, { answers: { one: 0, two: 0, constructor: 0 } }),
    null,
  );
});

Deno.test("applyAnswer() records a correct answer with its explanation and the new score", () => {
  const result = applyAnswer(testQuiz(), undefined, "one", 0);
  assert.deepEqual(result, {
    progress: { answers: { one: 0 } },
    correct: true,
    correctChoice: 0,
    explanation: "Because of one.",
    score: 1,
    answered: 1,
    total: 3,
  });
});

Deno.test("applyAnswer() records a wrong answer and tells the correct choice", () => {
  const result = applyAnswer(testQuiz(), { answers: { one: 0 } }, "two", 2);
  assert.equal(result.correct, false);
  assert.equal(result.correctChoice, 1);
  assert.deepEqual(result.progress, { answers: { one: 0, two: 2 } });
  assert.deepEqual([result.score, result.answered, result.total], [1, 2, 3]);
});

Deno.test("applyAnswer() accepts questions in any order and keeps answer order", () => {
  const quiz = testQuiz();
  let progress: QuizProgress | undefined;
  for (
    const [id, choice] of [["constructor", 2], ["one", 1], ["two", 1]] as const
  ) {
    progress = applyAnswer(quiz, progress, id, choice).progress;
  }
  assert.deepEqual(Object.keys(progress!.answers), [
    "constructor",
    "one",
    "two",
  ]);
  assert.deepEqual(scoreOf(quiz, progress), {
    score: 2,
    answered: 3,
    total: 3,
  });
  assert.equal(currentQuestion(quiz, progress), null);
});

Deno.test("applyAnswer() does not mutate the progress it is given", () => {
  const progress = { answers: { one: 0 } };
  const frozen = structuredClone(progress);
  const result = applyAnswer(testQuiz(), progress, "two", 1);
  assert.deepEqual(progress, frozen);
  assert.notEqual(result.progress, progress);
  assert.notEqual(result.progress.answers, progress.answers);
});

Deno.test("applyAnswer() refuses a second answer to the same question with 409", () => {
  const quiz = testQuiz();
  const first = applyAnswer(quiz, undefined, "one", 1);
  const error = assertHttpError(
    () => applyAnswer(quiz, first.progress, "one", 0),
    409,
    "Question already answered",
  );
  assert.deepEqual(error.extra, { score: 0, answered: 1, total: 3 });
  assert.deepEqual(scoreOf(quiz, first.progress), {
    score: 0,
    answered: 1,
    total: 3,
  });
});

Deno.test("applyAnswer() answers 404 for an unknown question, including inherited names", () => {
  assertHttpError(
    () => applyAnswer(testQuiz(), undefined, "nope", 0),
    404,
    "Unknown question",
  );
  assertHttpError(
    () => applyAnswer(testQuiz(), undefined, "toString", 0),
    404,
    "Unknown question",
  );
});

Deno.test("applyAnswer() answers 400 for an out-of-range or non-integer choice", () => {
  for (const choice of [3, -1, 1.5, NaN, Infinity]) {
    assertHttpError(
      () => applyAnswer(testQuiz(), undefined, "one", choice),
      400,
      /from 0 to 2/,
    );
  }
});

Deno.test("scoreOf() does not mistake inherited names such as constructor for answers", () => {
  const quiz = testQuiz();
  assert.deepEqual(scoreOf(quiz, { answers: {} }), {
    score: 0,
    answered: 0,
    total: 3,
  });
  assert.equal(
    currentQuestion(quiz, { answers: { one: 0, two: 1 } })?.id,
    "constructor",
  );
  assert.equal(
    applyAnswer(quiz, { answers: {} }, "constructor", 2).correct,
    true,
  );
});

Deno.test("parseChoice() accepts integer numbers and strings of decimal digits", () => {
  assert.equal(parseChoice(0), 0);
  assert.equal(parseChoice(4), 4);
  assert.equal(parseChoice("0"), 0);
  assert.equal(parseChoice("3"), 3);
});

Deno.test("parseChoice() answers 400 for anything else", () => {
  for (
    const raw of [
      undefined,
      null,
      "",
      " 1",
      "1 ",
      "-1",
      "1.0",
      "0x1",
      "١",
      "1e1",
      -1,
      1.5,
      NaN,
      true,
      [1],
      {},
    ]
  ) {
    assertHttpError(() => parseChoice(raw), 400);
  }
});
