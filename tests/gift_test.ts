/** The GIFT subset of lib/quiz/gift.ts: what it reads, the ids it gives, what it refuses and where. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { parseGift } from "../lib/quiz/gift.ts";
import { choiceIds, QuizFileError } from "../lib/quiz/quiz_file.ts";
import { generatedGift, parseGenerated } from "../bench/quiz_parse.ts";

const FILE = "data/quizzes/networks.gift";

function only(source: string) {
  const quiz = parseGift(source, FILE);
  assert.equal(quiz.questions.length, 1);
  return quiz.questions[0];
}

/** Every problem parseGift reports for `source`, checking the error's shape on the way. */
function problems(source: string, file = FILE): string[] {
  try {
    parseGift(source, file);
  } catch (error) {
    assert.ok(
      error instanceof QuizFileError,
      `expected a QuizFileError, got ${error}`,
    );
    assert.equal(error.message, error.problems[0]);
    for (const p of error.problems) assert.doesNotMatch(p, /\n/);
    return error.problems;
  }
  assert.fail("parseGift() accepted a broken file");
}

function hex8(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

Deno.test("a titled multiple-choice question keeps its choices, right answer and feedbacks", () => {
  const q = only(`::Ports:: Which port does HTTPS use by default? {
  ~80 #That is plain HTTP.
  =443 #Yes.
  ~8080
  ####Port 443 is registered for HTTP over TLS.
}`);
  assert.equal(q.id, "ports");
  assert.equal(q.text, "Which port does HTTPS use by default?");
  assert.deepEqual(q.choices, ["80", "443", "8080"]);
  assert.equal(q.correct, 1);
  assert.deepEqual(q.choiceFeedback, ["That is plain HTTP.", "Yes.", null]);
  assert.equal(q.generalFeedback, "Port 443 is registered for HTTP over TLS.");
  assert.equal(q.explanation, "Port 443 is registered for HTTP over TLS.");
});

Deno.test("answers may share one line, and without general feedback the right choice's feedback explains", () => {
  const q = only(
    "Between orange and green? { =yellow # right; good! ~red # no ~blue }",
  );
  assert.deepEqual(q.choices, ["yellow", "red", "blue"]);
  assert.deepEqual(q.choiceFeedback, ["right; good!", "no", null]);
  assert.equal(q.explanation, "right; good!");
  assert.equal(only("Pick b {~a =b}").explanation, "");
  assert.equal(only("Pick b {~a =b}").choiceFeedback, undefined);
});

Deno.test("{T}, {F}, {TRUE} and {FALSE} are true/false questions with True and False as choices", () => {
  for (
    const [answer, correct] of [["T", 0], ["TRUE", 0], ["F", 1], [
      "FALSE",
      1,
    ]] as const
  ) {
    const q = only(`The sun is a star. {${answer}}`);
    assert.deepEqual(q.choices, ["True", "False"], answer);
    assert.equal(q.correct, correct, answer);
  }
});

Deno.test("a true/false question's first feedback is for a wrong answer, the second for a right one", () => {
  const t = only("1+1 is 2. {TRUE #Count again. #Well done. ####Arithmetic.}");
  assert.deepEqual(t.choiceFeedback, ["Well done.", "Count again."]);
  assert.equal(t.explanation, "Arithmetic.");
  const f = only("1+1 is 3. {F #Count again. #Well done.}");
  assert.equal(f.correct, 1);
  assert.deepEqual(f.choiceFeedback, ["Count again.", "Well done."]);
  assert.equal(f.explanation, "Well done.");
});

Deno.test("questions are separated by blank lines; comment lines neither split nor show", () => {
  const quiz = parseGift(
    `// A heading comment
First? {=a ~b}
   
Second,
// a comment in the middle
still second? {
// and one among the answers
=c ~d}


// Third: see http://example.com/x
Third, see http://example.com/x {=e ~f}
`,
    FILE,
  );
  assert.deepEqual(quiz.questions.map((q) => q.text), [
    "First?",
    "Second, still second?",
    "Third, see http://example.com/x",
  ]);
  assert.deepEqual(quiz.questions[1].choices, ["c", "d"]);
});

Deno.test("backslash escapes give the special characters, \\n a line break, and spaces are collapsed", () => {
  const q = only(
    String.raw`::Esc\:aped:: Is 1 + 1 \= 2 \{really\}\:   a \~ or a \#?\nSay so.
  Or use \\. {
  =yes \= right #it \# is
  ~no}`,
  );
  assert.equal(q.id, "esc-aped");
  assert.equal(
    q.text,
    "Is 1 + 1 = 2 {really}: a ~ or a #?\nSay so. Or use \\.",
  );
  assert.deepEqual(q.choices, ["yes = right", "no"]);
  assert.deepEqual(q.choiceFeedback, ["it # is", null]);
});

Deno.test("the quiz title is the last segment of $CATEGORY:, else the quiz id", () => {
  const source = "Q? {=a ~b}";
  assert.equal(parseGift(source, FILE).title, "networks");
  assert.equal(
    parseGift(`$CATEGORY: Networks\n\n${source}`, FILE).title,
    "Networks",
  );
  const nested = `$CATEGORY: $course$/top/TCP//IP basics\n\n${source}`;
  assert.equal(parseGift(nested, FILE).title, "TCP/IP basics");
  assert.equal(parseGift(source, FILE).id, "networks");
});

Deno.test("[html], [markdown], [plain] and [moodle] before the text are kept as the format", () => {
  assert.equal(only("::t::[html]<b>Bold</b>? {=a ~b}").format, "html");
  assert.equal(only("[markdown]**Bold**? {=a ~b}").format, "markdown");
  assert.equal(only("[plain]Plain? {=a ~b}").text, "Plain?");
  assert.equal(only("Plain? {=a ~b}").format, undefined);
  assert.equal(only("[note] Odd? {=a ~b}").text, "[note] Odd?");
});

Deno.test("// mcq-edge: shuffle and description lines set the quiz's switches", () => {
  const quiz = parseGift(
    "// mcq-edge: shuffle\n// mcq-edge: description Routing and\n// mcq-edge: description addressing.\nQ? {=a ~b}",
    FILE,
  );
  assert.equal(quiz.shuffle, true);
  assert.equal(quiz.description, "Routing and addressing.");
  const plain = parseGift("Q? {=a ~b}", FILE);
  assert.equal(plain.shuffle, undefined);
  assert.equal(plain.description, "");
});

Deno.test("a title is slugified into the question id; without one the id is a slug and a hash of the text", () => {
  assert.equal(only("::Q1 T/F: Ünïcode!:: Q? {T}").id, "q1-t-f-unicode");
  assert.equal(only(`::${"Long ".repeat(20)}:: Q? {T}`).id.length, 39);
  assert.equal(only("::¿?:: Q? {T}").id, `q-${hex8("¿?")}`);
  const text = "Which layer routes packets between networks?";
  assert.equal(
    only(`${text} {=network ~link}`).id,
    `which-layer-routes-${hex8(text.toLowerCase())}`,
  );
  // Line breaks, runs of spaces and case do not change the id.
  assert.equal(
    only("WHICH layer   routes\npackets between networks? {=network ~link}").id,
    only(`${text} {=network ~link}`).id,
  );
});

Deno.test("a choice's id is the first 8 hex of the SHA-256 of its normalised text", () => {
  const q = only("Q? {=Network Layer ~ link  layer }");
  assert.deepEqual(q.choiceIds, [hex8("network layer"), hex8("link layer")]);
});

Deno.test("choices whose ids collide get -2 appended to the later one", () => {
  // These two share the first 8 hex digits of their SHA-256 (found by search).
  assert.equal(hex8("option 28063"), hex8("option 93445"));
  assert.deepEqual(choiceIds(["option 28063", "x", "option 93445"]), [
    hex8("option 28063"),
    hex8("x"),
    `${hex8("option 28063")}-2`,
  ]);
});

Deno.test("unsupported question types are refused with the file and line", () => {
  const cases: [string, RegExp][] = [
    [
      "Match {\n=cat -> cat food\n=dog -> dog food\n}",
      /^data\/quizzes\/networks\.gift:2: matching/,
    ],
    ["Number? {#3:2}", /:1: numeric questions/],
    ["Two plus two? {=four =4}", /:1: short-answer questions/],
    ["How are you? {}", /:1: essay questions/],
    ["How are you? {####We hope well.}", /:1: essay questions/],
    ["From {\n~Jerusalem\n~%50%Galilee\n=Nazareth}", /:3: weighted answers/],
    [
      "Two right {\n=a\n=b\n~c}",
      /:3: a second correct answer \(the first is on line 2\)/,
    ],
    [
      "Grant is {~buried =entombed ~living} in Grant's tomb.",
      /:1: text after }/,
    ],
    ["{=Two ~Three} plus two is four.", /:1: text after }/],
    ["Just a description.", /:1: no answers/],
  ];
  for (const [source, expected] of cases) {
    const found = problems(source);
    assert.equal(found.length, 1, source);
    assert.match(found[0], expected, source);
  }
});

Deno.test("broken questions are refused with the file and line", () => {
  const cases: [string, RegExp][] = [
    ["Open {\n=a\n~b\n", /:1: unclosed \{/],
    ["None right {~a ~b}", /:1: no correct answer/],
    ["::t::", /:1: empty question/],
    ["::t:: {=a ~b}", /:1: empty question/],
    ["::t Q? {=a ~b}", /:1: the title opened with :: is not closed/],
    ["Q } {=a ~b}", /:1: } without a \{/],
    ["Q {=a {b} ~c}", /:1: \{ inside the answers/],
    ["Q {yes =a ~b}", /:1: text before the first answer/],
    ["Q {\n=a\n~\n}", /:3: empty answer after ~/],
    [
      "Q {\n=GET\n~get\n}",
      /:3: the same choice twice \("get", also on line 2\)/,
    ],
    [
      "Q {T #a #b #c}",
      /:1: a true\/false question takes at most two feedbacks/,
    ],
    ["// only a comment", /:1: no questions/],
    [
      "// mcq-edge: shufle\nQ? {=a ~b}",
      /:1: unknown mcq-edge directive "shufle"/,
    ],
    [
      "$CATEGORY: A\nQ? {=a ~b}",
      /:2: a blank line must follow the \$CATEGORY: line/,
    ],
  ];
  for (const [source, expected] of cases) {
    const found = problems(source);
    assert.equal(found.length, 1, `${source}: ${found}`);
    assert.match(found[0], expected, source);
  }
});

Deno.test("a repeated title, or the same text without one, is refused at the later question", () => {
  assert.deepEqual(
    problems(
      "::Ports:: A? {=a ~b}\n\n::ports:: B? {=a ~b}\n\nC? {=a ~b}\n\nC?  {=a ~b}",
    ),
    [
      `${FILE}:3: duplicate question title "ports" (id "ports"), first on line 1`,
      `${FILE}:7: the same question text again, first on line 5`,
    ],
  );
});

Deno.test("a second $CATEGORY: is refused: one file is one quiz", () => {
  assert.deepEqual(
    problems("$CATEGORY: A\n\nQ? {=a ~b}\n\n$CATEGORY: B\n\nR? {=a ~b}"),
    [
      `${FILE}:5: a second $CATEGORY: (the first is on line 1): one file is one quiz`,
    ],
  );
});

Deno.test("every broken question of a file is reported, in line order, and the good ones do not hide them", () => {
  const found = problems("A? {=a ~b}\n\nB? {~a ~b}\n\nC? {=a ~b}\n\nD? {#1}");
  assert.deepEqual(found.map((p) => p.split(": ")[0]), [
    `${FILE}:3`,
    `${FILE}:7`,
  ]);
});

Deno.test("Windows line endings and a byte-order mark read like plain lines", () => {
  const quiz = parseGift(
    "\uFEFF// c\r\nA? {\r\n=a\r\n~b}\r\n\r\nB? {T}\r\n",
    FILE,
  );
  assert.deepEqual(quiz.questions.map((q) => q.text), ["A?", "B?"]);
  assert.match(
    problems("A? {=a ~b}\r\n\r\nB? {~a ~b}")[0],
    /:3: no correct answer/,
  );
});

Deno.test("a file name that is not a quiz id is refused, naming the file", () => {
  assert.deepEqual(problems("Q? {=a ~b}", "data/quizzes/My Quiz.gift"), [
    "data/quizzes/My Quiz.gift: the file name must be a quiz id: 1-40 lowercase letters, digits or dashes, then .gift or .aiken",
  ]);
});

Deno.test("the benchmark's generated file parses to 1,000 questions", () => {
  assert.equal(generatedGift(1000).split("\n\n").length, 1000);
  assert.equal(parseGenerated(1000).questions.length, 1000);
});
