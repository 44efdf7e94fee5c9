/** The route table's matching: the fast segment matcher agrees with URLPattern everywhere. */
import assert from "node:assert/strict";
import { createRouter, matcherFor } from "../lib/server/router.ts";
import { routes } from "../routes/_table.ts";

function viaUrlPattern(pattern: URLPattern, pathname: string) {
  const match = pattern.exec({ pathname });
  if (!match) return null;
  return Object.fromEntries(
    Object.entries(match.pathname.groups).filter(([, v]) => v !== undefined),
  );
}

const TRICKY = [
  "/",
  "",
  "/quiz",
  "/quiz/",
  "/quiz/http",
  "/quiz/http/",
  "/quiz//answer",
  "/quiz/http/answer",
  "/quiz/http/answer/",
  "/quiz/http/answer/x",
  "/quiz/%2F/answer",
  "/quiz/a%20b",
  "/quiz/..",
  "/quiz/.",
  "/QUIZ/http",
  "/quiz/http/result",
  "/quiz/http/restart",
  "/api/quizzes/http",
  "/api/quizzes/http/answers",
  "/api/quizzes//answers",
  "/api/quizzes/http/answers/1",
  "/admin/sessions/abc",
  "/admin/sessions/",
  "/admin/sessions/a/b",
  "/static/x.css",
  "/admin/kv/a/b",
  "//quiz/http",
  "/quiz/http?x=1",
  "/quiz/http#x",
  "/quiz/h:t",
  "/quiz/h*t",
  "/quiz/%E2%9C%93",
  "/static",
  "/static/",
  "/static/a/b.css",
  "/static//x",
  "/staticx/a",
  "/static/%E2%9C%93",
  "/static/build/islands-0123abcd.js",
  "/admin/kv",
  "/admin/kv/",
  "/admin/kv/%2F",
  "/admin/kvx",
];

Deno.test("every route pattern matches exactly what URLPattern matches, with the same params", () => {
  const alphabet = [
    "/",
    "quiz",
    "http",
    "answer",
    "api",
    "quizzes",
    "",
    "%2F",
    "static",
    "admin",
    "kv",
  ];
  const random: string[] = [];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < 2000; i++) {
    let p = "/";
    for (let j = next() % 5; j > 0; j--) {
      p += alphabet[next() % alphabet.length] +
        (next() % 2 ? "/" : "");
    }
    random.push(p);
  }
  for (const { path } of routes.filter((r) => /[:*]/.test(r.path))) {
    const fast = matcherFor(path);
    const pattern = new URLPattern({ pathname: path });
    // As the app sees them: the pathname of the request's URL (dot segments resolved,
    // query and fragment apart).
    const pathnames = [...TRICKY, ...random].map((p) =>
      new URL(`http://127.0.0.1${p}`).pathname
    );
    for (const pathname of pathnames) {
      assert.deepEqual(
        fast(pathname),
        viaUrlPattern(pattern, pathname),
        `${path} on ${JSON.stringify(pathname)}`,
      );
    }
  }
});

Deno.test("the router finds static paths first, then patterns in table order", () => {
  const match = createRouter(routes);
  assert.equal(match("/api/quizzes")?.route.path, "/api/quizzes");
  assert.deepEqual(match("/quiz/http")?.params, { quizId: "http" });
  assert.equal(match("/quiz/http/answer")?.route.path, "/quiz/:quizId/answer");
  assert.deepEqual(match("/api/quizzes/cookies/answers")?.params, {
    quizId: "cookies",
  });
  assert.equal(match("/static/style.css")?.route.path, "/static/*");
  assert.equal(match("/quiz/http/nope"), null);
  assert.equal(match("/nope"), null);
});
