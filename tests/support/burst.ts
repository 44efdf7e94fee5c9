/**
 * The visitors of a burst (tests/burst_test.ts). Run as a script, it sends a share of them to a
 * real server and prints their statuses as JSON: the test splits a thousand connections over
 * processes, because one process may have no more than 1,024 descriptors (the common default).
 *
 *   deno run -A tests/support/burst.ts <url> <first visitor> <count>
 */
import assert from "node:assert/strict";
import { cookieFrom } from "../helpers.ts";

export type Send = (path: string, init?: RequestInit) => Promise<Response>;

/** One visitor: a first visit, the quiz, an answer to its first question, a return. */
export async function visit(send: Send, i: number): Promise<number[]> {
  const statuses: number[] = [];
  let cookie = "";
  // Like a browser: the cookie each answer sets is sent from then on (cookie mode re-seals it).
  const request = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (cookie) headers.set("cookie", cookie);
    const res = await send(path, { ...init, headers });
    cookie = cookieFrom(res) ?? cookie;
    statuses.push(res.status);
    return res;
  };
  await (await request("/")).body?.cancel();
  const quiz = await request("/api/quizzes/http");
  if (!quiz.ok) return statuses;
  const { questions } = await quiz.json();
  const answer = await request("/api/quizzes/http/answers", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ questionId: questions[0].id, choice: i % 2 }),
  });
  await answer.body?.cancel();
  const back = await request("/api/me");
  if (statuses.some((status) => status >= 400)) return statuses;
  const me = await back.json();
  assert.equal(me.visits, 4, "a visit was lost or counted twice");
  assert.equal(me.scores.http.answered, 1);
  return statuses;
}

/** Visitors `first` to `first + count - 1`, all at once; their statuses. */
export async function burst(
  send: Send,
  first: number,
  count: number,
): Promise<number[]> {
  const all = await Promise.all(
    Array.from({ length: count }, (_, i) => visit(send, first + i)),
  );
  return all.flat();
}

if (import.meta.main) {
  const [url, first, count] = Deno.args;
  const send: Send = (path, init) => fetch(url + path, init);
  console.log(JSON.stringify(await burst(send, Number(first), Number(count))));
}
