/** The HTML error pages: the site's header, one heading, and a sentence that says what went wrong. */
import assert from "node:assert/strict";
import { testApp } from "./helpers.ts";

Deno.test("a 404 page keeps the navigation, names the error once and the path it could not find, escaped", async () => {
  await using t = await testApp();
  const res = await t.request("/no&such<page>");
  assert.equal(res.status, 404);
  const html = await res.text();
  assert.match(html, /<nav aria-label="Main">.*<a href="\/">Quizzes<\/a>/);
  assert.match(html, /<a href="\/account">Account<\/a>/);
  assert.match(html, /<h1>Not found<\/h1>/);
  // Once as the heading (and in the title), never repeated as the sentence under it.
  assert.equal(html.match(/>Not found</g)?.length, 1);
  assert.match(html, /There is no page at \/no&amp;such%3Cpage%3E\./);
  assert.equal(html.includes("<page>"), false);
  assert.match(html, /<a href="\/">Back to the quizzes<\/a>/);
});

Deno.test("a 404 with its own reason says it before naming the path", async () => {
  await using t = await testApp();
  const res = await t.request("/quiz/nope");
  assert.equal(res.status, 404);
  assert.match(
    await res.text(),
    /No such quiz\. There is no page at \/quiz\/nope\./,
  );
});
