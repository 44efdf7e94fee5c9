import assert from "node:assert/strict";
import { choiceOrder, publicQuiz, type Quiz } from "../lib/quiz/bank.ts";
import { HttpError } from "../lib/base/http_error.ts";
import {
  answerOf,
  applyAnswer,
  currentQuestion,
  parseChoice,
  type QuizProgress,
  removedAnswers,
  scoreOf,
} from "../lib/quiz/scoring.ts";

function testQuiz(): Quiz {
  const question = (id: string, correct: number) => ({
    id,
    text: `Question ${id}?`,
    choices: ["a", "b", "c"],
    choiceIds: ["ida00000", "idb00000", "idc00000"],
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
  const result = applyAnswer(testQuiz(), undefined, "one", 0, "visitor");
  assert.deepEqual(result, {
    progress: {
      answers: {
        one: ["ida00000", 1],
      },
    },
    correct: true,
    correctChoice: 0,
    correctChoiceId: "ida00000",
    feedback: null,
    explanation: "Because of one.",
    score: 1,
    answered: 1,
    total: 3,
  });
});

Deno.test("applyAnswer() records a wrong answer and tells the correct choice", () => {
  const result = applyAnswer(
    testQuiz(),
    { answers: { one: 0 } },
    "two",
    2,
    "visitor",
  );
  assert.equal(result.correct, false);
  assert.equal(result.correctChoice, 1);
  // The position stored before ids (one: 0) is written back by id.
  assert.deepEqual(result.progress, {
    answers: {
      one: ["ida00000", 1],
      two: ["idc00000", 0],
    },
  });
  assert.deepEqual([result.score, result.answered, result.total], [1, 2, 3]);
});

Deno.test("applyAnswer() accepts questions in any order and keeps answer order", () => {
  const quiz = testQuiz();
  let progress: QuizProgress | undefined;
  for (
    const [id, choice] of [["constructor", 2], ["one", 1], ["two", 1]] as const
  ) {
    progress = applyAnswer(quiz, progress, id, choice, "visitor").progress;
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
  const result = applyAnswer(testQuiz(), progress, "two", 1, "visitor");
  assert.deepEqual(progress, frozen);
  assert.notEqual(result.progress, progress);
  assert.notEqual(result.progress.answers, progress.answers);
});

Deno.test("applyAnswer() refuses a second answer to the same question with 409", () => {
  const quiz = testQuiz();
  const first = applyAnswer(quiz, undefined, "one", 1, "visitor");
  const error = assertHttpError(
    () => applyAnswer(quiz, first.progress, "one", 0, "visitor"),
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
    () => applyAnswer(testQuiz(), undefined, "nope", 0, "visitor"),
    404,
    "Unknown question",
  );
  assertHttpError(
    () => applyAnswer(testQuiz(), undefined, "toString", 0, "visitor"),
    404,
    "Unknown question",
  );
});

Deno.test("applyAnswer() answers 400 for an out-of-range or non-integer choice", () => {
  for (const choice of [3, -1, 1.5, NaN, Infinity]) {
    assertHttpError(
      () => applyAnswer(testQuiz(), undefined, "one", choice, "visitor"),
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
    applyAnswer(quiz, { answers: {} }, "constructor", 2, "visitor").correct,
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

/** The quiz after an instructor edited it: choices reordered, a question removed, one added. */
function editedQuiz(): Quiz {
  const quiz = testQuiz();
  const [one, two] = quiz.questions;
  return {
    ...quiz,
    questions: [
      // "one" with its choices reversed: the correct one ("a") is now last.
      {
        ...one,
        choices: ["c", "b", "a"],
        choiceIds: ["idc00000", "idb00000", "ida00000"],
        correct: 2,
      },
      // "two" with its correct choice changed from "b" to "c".
      { ...two, correct: 2 },
      {
        ...one,
        id: "new",
        text: "A new question?",
      },
    ],
  };
}

Deno.test("editing the quiz never rewrites a past answer: reordered choices, a changed correct choice, a removed question", () => {
  const quiz = testQuiz();
  let progress: QuizProgress | undefined;
  for (
    const [id, choice] of [["one", 0], ["two", 1], ["constructor", 2]] as const
  ) {
    progress = applyAnswer(quiz, progress, id, choice, "v").progress;
  }
  assert.deepEqual(scoreOf(quiz, progress), {
    score: 3,
    answered: 3,
    total: 3,
  });
  const edited = editedQuiz();
  // "one" still right (chosen "a", wherever it is now); "two" keeps its recorded outcome
  // (right when answered); "constructor" was removed and no longer counts.
  assert.deepEqual(scoreOf(edited, progress), {
    score: 2,
    answered: 2,
    total: 3,
  });
  assert.equal(answerOf(progress, edited.questions[0])?.text, "a");
  assert.deepEqual(
    removedAnswers(edited, progress).map(([id, a]) => [id, a.correct]),
    [["constructor", true]],
  );
  assert.equal(currentQuestion(edited, progress)?.id, "new");
});

Deno.test("a position stored before ids is read as the choice now at that position", () => {
  const quiz = testQuiz();
  const legacy: QuizProgress = { answers: { one: 0, two: 0 } };
  assert.deepEqual(answerOf(legacy, quiz.questions[0]), {
    choice: "ida00000",
    text: "a",
    correct: true,
  });
  assert.deepEqual(scoreOf(quiz, legacy), { score: 1, answered: 2, total: 3 });
});

Deno.test("an answer may name a choice by its id; a shuffled quiz maps the shown index through the visitor's order", () => {
  const quiz = { ...testQuiz(), shuffle: true };
  const byId = applyAnswer(quiz, undefined, "one", "ida00000", "v");
  assert.equal(byId.correct, true);
  assertHttpError(
    () => applyAnswer(quiz, undefined, "one", "ffffffff", "v"),
    400,
  );
  // Some visitor sees the choices of "one" in another order than written.
  const question = quiz.questions[0];
  const visitor = Array.from({ length: 50 }, (_, i) => `v${i}`).find((v) =>
    choiceOrder(quiz, question, v).join() !== "0,1,2"
  )!;
  const order = choiceOrder(quiz, question, visitor);
  assert.deepEqual(order, choiceOrder(quiz, question, visitor), "not stable");
  const shownIndexOfA = order.indexOf(0);
  const result = applyAnswer(quiz, undefined, "one", shownIndexOfA, visitor);
  assert.equal(result.correct, true);
  assert.equal(result.correctChoice, shownIndexOfA);
  assert.equal(
    publicQuiz(quiz, visitor).questions[0].choices[shownIndexOfA],
    "a",
  );
});

Deno.test("parseChoice() reads short digit strings as indexes and 8-hex strings as choice ids", () => {
  assert.equal(parseChoice("2"), 2);
  assert.equal(parseChoice("12345678"), "12345678");
  assert.equal(parseChoice("0a1b2c3d-2"), "0a1b2c3d-2");
  assertHttpError(() => parseChoice("1234"), 400);
});

Deno.test("an answer is kept compactly as [choice id, outcome], its text the choice's with that id", () => {
  const quiz = testQuiz();
  const { progress } = applyAnswer(quiz, undefined, "one", 0, "v");
  assert.deepEqual(progress.answers.one, ["ida00000", 1]);
  assert.equal(answerOf(progress, quiz.questions[0])?.text, "a");
  // A choice whose text was edited has another id: the answer still counts as it was.
  const edited = {
    ...quiz.questions[0],
    choiceIds: ["new00000", "idb00000", "idc00000"],
  };
  assert.equal(answerOf(progress, edited)?.text, "(a choice since changed)");
  assert.equal(answerOf(progress, edited)?.correct, true);
});
