/**
 * Quizzes are files: dropped into QUIZ_DIR (here a folder outside the project) they are
 * served after a restart, edits never rewrite a past answer, and a broken file stops the
 * server with one `file:line: reason` line. All against the real server process.
 */
import assert from "node:assert/strict";
import { startServer } from "./helpers.ts";
import { RemoteVisitor } from "./support/remote_visitor.ts";

const NETWORKS = `$CATEGORY: Networks

// mcq-edge: description Transport and addressing.

::transport:: Which transport protocol does DNS mostly use? {
  =UDP #Right: small queries, one datagram each.
  ~TCP #TCP is used for zone transfers and large answers.
  ~ICMP #ICMP carries errors, not queries.
}

::port:: Which port does HTTPS use by default? {
  ~80 #That is plain HTTP.
  =443
  ~8080
}

::ipv6:: IPv6 addresses are 128 bits long. {T}
`;

/** The same quiz edited: choices reordered, "port" removed, a question added. */
const NETWORKS_EDITED = `$CATEGORY: Networks

::transport:: Which transport protocol does DNS mostly use? {
  ~ICMP #ICMP carries errors, not queries.
  ~TCP #TCP is used for zone transfers and large answers.
  =UDP #Right: small queries, one datagram each.
}

::ipv6:: IPv6 addresses are 128 bits long. {T}

::mtu:: What is the usual Ethernet MTU? {
  =1500 bytes
  ~9000 bytes
  ~576 bytes
}
`;

const AIKEN = `Which layer does IP belong to?
A. Link
B. Internet
C. Transport
ANSWER: B
`;

async function withQuizDir(
  files: Record<string, string>,
  fn: (dir: string, kvPath: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "mcq-quizzes-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    await fn(dir, `${dir}/kv.sqlite3`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function answer(
  v: RemoteVisitor,
  url: string,
  questionId: string,
  choice: string,
) {
  const res = await v.post(url, "/api/quizzes/networks/answers", {
    questionId,
    choice,
  });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json!;
}

/** GETs `path`; its body as text, and as JSON when it is JSON. */
async function get(v: RemoteVisitor, url: string, path: string) {
  const res = await v.fetch(url, path);
  const text = await res.text();
  assert.equal(res.status, 200, `GET ${path}: ${text.slice(0, 200)}`);
  const json = res.headers.get("content-type")?.includes("json")
    ? JSON.parse(text)
    : null;
  return { text, json };
}

Deno.test("a GIFT and an Aiken file in a QUIZ_DIR outside the project are served: pages, JSON API, per-choice feedback", async () => {
  await withQuizDir(
    { "networks.gift": NETWORKS, "layers.aiken": AIKEN },
    async (dir, kvPath) => {
      const server = await startServer({ QUIZ_DIR: dir, KV_PATH: kvPath });
      try {
        const v = new RemoteVisitor();
        const list = await get(v, server.url, "/api/quizzes");
        assert.deepEqual(list.json, [
          { id: "layers", title: "layers", questionCount: 1 },
          { id: "networks", title: "Networks", questionCount: 3 },
        ]);
        const quiz = (await get(v, server.url, "/api/quizzes/networks"))
          .json as {
            questions: { id: string; choices: string[]; choiceIds: string[] }[];
          };
        assert.deepEqual(quiz.questions.map((q) => q.id), [
          "transport",
          "port",
          "ipv6",
        ]);
        const transport = quiz.questions[0];
        const tcp = transport.choiceIds[transport.choices.indexOf("TCP")];
        const result = await answer(v, server.url, "transport", tcp);
        assert.equal(result.correct, false);
        assert.equal(
          result.feedback,
          "TCP is used for zone transfers and large answers.",
        );
        const page = await get(
          v,
          server.url,
          "/quiz/networks?answered=transport",
        );
        assert.match(
          page.text,
          /TCP is used for zone transfers and large answers/,
        );
        assert.match(page.text, /Which port does HTTPS use by default\?/);
        const home = await get(v, server.url, "/");
        assert.match(home.text, /Transport and addressing\./);
      } finally {
        await server.stop();
      }
    },
  );
});

Deno.test("editing the quiz file and restarting keeps every past answer and score as the student chose and earned", async () => {
  await withQuizDir({ "networks.gift": NETWORKS }, async (dir, kvPath) => {
    const v = new RemoteVisitor();
    let server = await startServer({ QUIZ_DIR: dir, KV_PATH: kvPath });
    try {
      const quiz = (await get(v, server.url, "/api/quizzes/networks")).json as {
        questions: { id: string; choices: string[]; choiceIds: string[] }[];
      };
      const idOf = (qid: string, text: string) => {
        const q = quiz.questions.find((x) => x.id === qid)!;
        return q.choiceIds[q.choices.indexOf(text)];
      };
      assert.equal(
        (await answer(v, server.url, "transport", idOf("transport", "UDP")))
          .correct,
        true,
      );
      assert.equal(
        (await answer(v, server.url, "port", idOf("port", "443"))).correct,
        true,
      );
      assert.equal(
        (await answer(v, server.url, "ipv6", idOf("ipv6", "True"))).correct,
        true,
      );
      const before = (await get(v, server.url, "/api/me")).json as {
        scores: Record<string, unknown>;
      };
      assert.deepEqual(before.scores.networks, {
        score: 3,
        answered: 3,
        total: 3,
      });
    } finally {
      await server.stop();
    }
    await Deno.writeTextFile(`${dir}/networks.gift`, NETWORKS_EDITED);
    server = await startServer({ QUIZ_DIR: dir, KV_PATH: kvPath });
    try {
      const me = (await get(v, server.url, "/api/me")).json as {
        scores: Record<string, unknown>;
      };
      // "port" was removed: it drops out; "mtu" is new: not answered yet.
      assert.deepEqual(me.scores.networks, { score: 2, answered: 2, total: 3 });
      const review = (await get(v, server.url, "/quiz/networks/result")).text;
      assert.match(review, /Your answer: “UDP” ✔ correct/);
      assert.doesNotMatch(review, /Your answer: “ICMP”/);
      assert.match(
        review,
        /Your answer was right — this question has been removed/,
      );
    } finally {
      await server.stop();
    }
  });
});

const BROKEN: [string, string, RegExp][] = [
  [
    "an unclosed {",
    "::a:: Question? {\n  =yes\n  ~no\n",
    /networks\.gift:1: .*\{/,
  ],
  [
    "no correct answer",
    "::a:: Question? {\n  ~yes\n  ~no\n}\n",
    /networks\.gift:\d: no correct answer/,
  ],
  [
    "two correct answers",
    "::a:: Question? {\n  =yes\n  =no\n  ~maybe\n}\n",
    /networks\.gift:\d+: .*(second|two|more than one) correct/i,
  ],
  [
    "a duplicate question title",
    "::a:: One? {\n  =yes\n  ~no\n}\n\n::a:: Two? {\n  =yes\n  ~no\n}\n",
    /networks\.gift:6: .*(title|duplicate)/i,
  ],
];

for (const [what, text, line] of BROKEN) {
  Deno.test(`a quiz file with ${what} stops the server with one file:line line`, async () => {
    await withQuizDir({ "networks.gift": text }, async (dir) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts"],
        cwd: new URL("..", import.meta.url).pathname,
        env: { PORT: "0", KV_PATH: ":memory:", QUIZ_DIR: dir },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr).trim();
      assert.equal(out.code, 1, stderr);
      const lines = stderr.split("\n").filter((l) => !l.startsWith("warning:"));
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0], /^mcq-edge: /);
      assert.match(lines[0], line);
    });
  });
}
