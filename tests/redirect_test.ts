import assert from "node:assert/strict";
import { redirect } from "../lib/server/http.ts";
import { HttpError } from "../lib/base/http_error.ts";
import { safeNext } from "../lib/server/safe_next.ts";
import { testApp, Visitor } from "./helpers.ts";

// Spellings whose dot segments (plain or percent-encoded, before or after one
// decoding) collapse so that the path starts with "//" or "/\\": another host.
const dotSegments = [
  "/.//evil.example",
  "/./\\/evil.example",
  "/a/..//evil.example",
  "/..//evil.example",
  "/../..//evil.example",
  "/a/b/../..//evil.example",
  "/.//evil.example/path?q=1#top",
  "/%2e//evil.example",
  "/%2E//evil.example",
  "/%2e%2e//evil.example",
  "/%2E%2E//evil.example",
  "/.%2e//evil.example",
  "/%2e.//evil.example",
  "/a/%2e%2e//evil.example",
  "/.%2f/evil.example",
  "/.%2F/evil.example",
  "/%2e%2f/evil.example",
  "/%2e%2e%2f/evil.example",
  "/..%2f/evil.example",
  "/a/..%2F/evil.example",
  "/%2e/%2fevil.example",
  "/.%2f%2fevil.example",
];

const hostile: [string, string | null | undefined][] = [
  ["protocol-relative", "//evil.com"],
  ["protocol-relative with path", "//evil.com/login"],
  ["triple slash", "///evil.com"],
  ["many slashes", "////evil.com"],
  ["slash backslash", "/\\evil.com"],
  ["backslash slash", "\\/evil.com"],
  ["double backslash", "\\\\evil"],
  ["backslash later in the path", "/account\\..\\..\\evil"],
  ["absolute https URL", "https://evil.com"],
  ["absolute http URL", "http://evil.com/"],
  ["scheme with one slash", "http:/evil"],
  ["scheme without slash", "http:evil.com"],
  ["javascript URL", "javascript:alert(1)"],
  ["mixed-case javascript URL", "JaVaScRiPt:alert(1)"],
  ["data URL", "data:text/html,<script>alert(1)</script>"],
  ["encoded CRLF header injection", "/%0d%0aSet-Cookie:x"],
  ["raw CRLF header injection", "/\r\nSet-Cookie:x"],
  ["raw LF", "/x\nLocation: //evil.com"],
  ["tab that browsers strip", "/\t/evil.com"],
  ["encoded tab", "/%09/evil.com"],
  ["leading space", " /x"],
  ["trailing space", "/x "],
  ["space inside", "/x y"],
  ["NUL", "/x\u0000"],
  ["encoded NUL", "/x%00"],
  ["DEL", "/x\u007f"],
  ["non-breaking space", "/\u00a0/evil.com"],
  ["ideographic space", "/\u3000/evil.com"],
  ["line separator", "/x\u2028"],
  ["right-to-left override", "/\u202emoc.live"],
  ["zero-width space", "/\u200b/evil.com"],
  ["BOM", "\ufeff/x"],
  ["fullwidth solidus", "/\uff0fevil.com"],
  ["encoded double slash without leading slash", "%2F%2Fevil.com"],
  ["encoded double slash after slash", "/%2F/evil.com"],
  ["encoded lowercase double slash", "/%2f%2fevil.com"],
  ["encoded backslash", "/%5cevil.com"],
  ["encoded backslash later", "/a%5Cb"],
  ["encoded C1 control", "/x%C2%85"],
  ["malformed percent-encoding", "/%E0%A4%A"],
  ["lone percent", "/100%"],
  ["relative path", "account"],
  ["dot-relative path", "./account"],
  ["parent-relative path", "../account"],
  ["query only", "?x=1"],
  ["fragment only", "#top"],
  ["user info trick", "@evil.com"],
  ["too long", "/" + "a".repeat(2048)],
  ...dotSegments.map((p): [string, string] => [`dot segments ${p}`, p]),
  ["empty", ""],
  ["null", null],
  ["undefined", undefined],
];

for (const [label, input] of hostile) {
  Deno.test(`safeNext() refuses ${label}`, () => {
    assert.equal(safeNext(input), "/");
    assert.equal(safeNext(input, "/home"), "/home");
  });
}

Deno.test("safeNext() is tested against at least 25 hostile inputs", () => {
  assert.ok(hostile.length >= 25);
});

const friendly = [
  "/",
  "/account",
  "/quiz/http?x=1#top",
  "/quiz/42/question/3",
  "/search?q=a%20b&page=2",
  "/quiz/caf%C3%A9",
  "/path;params",
  "/a/b/../c",
  "/@user",
  "/x?next=//evil.com", // a double slash in the query does not change the host
  "/x#//evil.com",
  "/x?u=https://evil.com",
  "/%2e%2e/account",
  "/a/./b",
  "/a/.%2e/b",
  "/" + "a".repeat(2047),
];

for (const input of friendly) {
  Deno.test(`safeNext() keeps the same-site path ${JSON.stringify(input.slice(0, 40))}`, () => {
    assert.equal(safeNext(input, "/fallback"), input);
  });
}

Deno.test("safeNext() returns the path unchanged, never re-serialized", () => {
  // new URL("/a/b/../c", base).pathname is "/a/c".
  assert.equal(safeNext("/a/b/../c"), "/a/b/../c");
});

Deno.test("redirect() sends a printable-ASCII path exactly as given", () => {
  for (const path of ["/a/b/../c", "/%2e%2e/account", "/x?next=%2Fa#top"]) {
    assert.equal(redirect(path).headers.get("location"), path);
  }
});

Deno.test("redirect() still percent-encodes a non-ASCII path", () => {
  assert.equal(
    redirect("/quiz/café").headers.get("location"),
    "/quiz/caf%C3%A9",
  );
});

Deno.test("redirect() refuses with a 400 any path that is or resolves to another host", () => {
  for (const path of ["//evil.example", "/\\evil.example", ...dotSegments]) {
    let location: string | null = null;
    try {
      location = redirect(path).headers.get("location");
    } catch (error) {
      assert.ok(error instanceof HttpError, path);
      assert.equal(error.status, 400, path);
      continue;
    }
    // The percent-encoded-slash forms resolve to one segment: sent as is, they stay here.
    assert.equal(location, path);
    assert.ok(!/^\/[\/\\]/.test(location), path);
    assert.equal(
      new URL(location, "https://q.example").origin,
      "https://q.example",
    );
  }
});

for (const mode of ["login", "register"]) {
  Deno.test(`POST /${mode} with a dot-segment ?next= redirects home, never to another host`, async () => {
    await using t = await testApp();
    // One account per attempt, registered first for the login case.
    let n = 0;
    for (const next of dotSegments) {
      const v = new Visitor(t, `192.0.2.${++n}`);
      const username = `user${n}`;
      const password = "correct horse battery";
      if (mode === "login") {
        await v.page("/register");
        const reg = await v.form("/register", { username, password });
        assert.equal(reg.status, 303);
        await v.form("/logout", {});
      }
      const query = `?next=${encodeURIComponent(next)}`;
      await v.page(`/${mode}${query}`);
      const res = await v.form(`/${mode}${query}`, { username, password });
      assert.equal(res.status, 303, next);
      assert.equal(res.headers.get("location"), "/", next);
    }
  });
}

Deno.test("safeNext() defaults its fallback to /", () => {
  assert.equal(safeNext("//evil.com"), "/");
});

Deno.test("safeNext() never throws on non-string input at run time", () => {
  for (const bad of [42, {}, [], true, Symbol("x")]) {
    assert.equal(safeNext(bad as unknown as string), "/");
  }
});

Deno.test("every accepted value resolves to the same origin in a browser-like parse", () => {
  for (const [, input] of hostile) {
    const out = safeNext(input);
    assert.equal(
      new URL(out, "https://quiz.example").origin,
      "https://quiz.example",
    );
  }
  for (const input of friendly) {
    assert.equal(
      new URL(safeNext(input), "https://quiz.example").origin,
      "https://quiz.example",
    );
  }
});
