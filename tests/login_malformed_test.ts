/** Login refuses a password registration would refuse as malformed, exactly like a wrong one. */
import assert from "node:assert/strict";
import { testApp, Visitor } from "./helpers.ts";

const STORED = "correct horse \uFFFD"; // a well-formed password that contains U+FFFD

async function attempt(v: Visitor, password: string) {
  const res = await v.postJson("/api/login", { username: "alice", password });
  return {
    status: res.status,
    body: await res.json(),
    cookies: res.headers.getSetCookie().length,
  };
}

Deno.test("a password with a lone surrogate never logs in, even where U+FFFD would match", async () => {
  await using t = await testApp();
  const owner = new Visitor(t, "192.0.2.10");
  const reg = await owner.postJson("/api/register", {
    username: "alice",
    password: STORED,
  });
  assert.equal(reg.status, 200, await reg.text());

  const wrong = await attempt(new Visitor(t, "192.0.2.11"), "correct horse X");
  assert.equal(wrong.status, 401);
  for (const lone of ["\uD800", "\uDFFF", "\uDBFF"]) {
    const v = new Visitor(t, "192.0.2.12");
    const got = await attempt(v, `correct horse ${lone}`);
    assert.deepEqual(got, wrong, JSON.stringify(lone));
    assert.equal(await v.user(), null);
  }
  const right = new Visitor(t, "192.0.2.13");
  assert.equal((await attempt(right, STORED)).status, 200);
  assert.equal(await right.user(), "alice");
});
