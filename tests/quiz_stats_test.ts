/**
 * The instructor statistics through the app function: counts kept as answers land (exact
 * under concurrency, never twice for a request that runs again), the per-participant rows
 * and their CSV, what login, restart and account deletion do to them, and the admin guard.
 */
import assert from "node:assert/strict";
import { ADMIN_TOKEN, type TestApp, testApp, Visitor } from "./helpers.ts";
import { parseCsv } from "./support/csv.ts";

const OPTIONS = { pbkdf2Iterations: 1000, adminToken: ADMIN_TOKEN };
const BEARER = { authorization: `Bearer ${ADMIN_TOKEN}` };
const QUIZ = "http";
const Q1 = "safe-methods";
const Q2 = "idempotent-not-safe";
const SAFE_CHOICES = ["POST", "PUT", "GET", "DELETE", "PATCH"];

interface Stats {
  quiz: { id: string; title: string };
  participants: number;
  questions: {
    id: string;
    answered: number;
    correct: number;
    facility: number | null;
    discrimination: number | null;
    choices: { id: string; text: string; count: number; correct: boolean }[];
  }[];
}

async function stats(t: TestApp): Promise<Stats> {
  const res = await t.request(`/admin/quizzes/${QUIZ}/stats.json`, {
    headers: BEARER,
  });
  assert.equal(res.status, 200);
  return await res.json();
}

const question = (s: Stats, id: string) =>
  s.questions.find((q) => q.id === id)!;

async function csv(t: TestApp): Promise<string[][]> {
  const res = await t.request(`/admin/quizzes/${QUIZ}/results.csv`, {
    headers: BEARER,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/csv; charset=utf-8");
  assert.match(
    res.headers.get("content-disposition") ?? "",
    /^attachment; filename="http-results\.csv"$/,
  );
  return parseCsv(await res.text());
}

function answer(v: Visitor, questionId: string, choice: number) {
  return v.postJson(`/api/quizzes/${QUIZ}/answers`, { questionId, choice });
}

Deno.test("200 concurrent visitors answering one question are counted exactly, and the CSV has each one's choice", async () => {
  await using t = await testApp(OPTIONS);
  const visitors = Array.from(
    { length: 200 },
    (_, i) => new Visitor(t, `198.51.100.${i % 250}`),
  );
  const statuses = await Promise.all(visitors.map(async (v, i) => {
    const res = await answer(v, Q1, i % 5);
    await res.body?.cancel();
    return res.status;
  }));
  assert.deepEqual(new Set(statuses), new Set([200]));

  const s = await stats(t);
  const q = question(s, Q1);
  assert.equal(s.participants, 200);
  assert.equal(q.answered, 200);
  assert.equal(q.correct, 40);
  assert.equal(q.facility, 0.2);
  assert.equal(q.choices.reduce((n, c) => n + c.count, 0), 200);
  assert.deepEqual(q.choices.map((c) => c.count), [40, 40, 40, 40, 40]);

  const [header, ...rows] = await csv(t);
  assert.deepEqual(header.slice(0, 6), [
    "participant",
    "score",
    "answered",
    "total",
    Q1,
    Q2,
  ]);
  assert.equal(rows.length, 200);
  const byName = new Map(rows.map((r) => [r[0], r]));
  for (const [i, v] of visitors.entries()) {
    const row = byName.get(`anonymous-${(await v.handle()).slice(0, 8)}`);
    assert.ok(row, `a row for visitor ${i}`);
    assert.equal(row[4], SAFE_CHOICES[i % 5]);
    assert.equal(row[1], i % 5 === 2 ? "1" : "0");
    assert.equal(row[5], "");
  }

  const html = await (await admin(t)).page(`/admin/quizzes/${QUIZ}`);
  assert.match(html, /data-testid="participants">200</);
  assert.match(html, /class="fill w-20"/);
});

Deno.test("parallel answers of one session (requests that run again) count each answer once", async () => {
  await using t = await testApp(OPTIONS);
  const v = new Visitor(t);
  await v.page("/");
  const ids = [Q1, Q1, Q1, Q2, Q2, Q2, "host-header", "host-header"];
  const statuses = await Promise.all(ids.map(async (id) => {
    const res = await answer(v, id, 2);
    await res.body?.cancel();
    return res.status;
  }));
  assert.equal(statuses.filter((s) => s === 200).length, 3);
  const s = await stats(t);
  assert.equal(s.participants, 1);
  for (const id of [Q1, Q2, "host-header"]) {
    assert.equal(question(s, id).answered, 1, id);
  }
  const rows = (await csv(t)).slice(1);
  assert.equal(rows.length, 1);
  assert.equal(rows[0][2], "3");
});

Deno.test("at login the anonymous row becomes the user's; restarting takes the answers back", async () => {
  await using t = await testApp(OPTIONS);
  const v = new Visitor(t);
  await (await answer(v, Q1, 2)).body?.cancel();
  const reg = await v.postJson("/api/register", {
    username: "ada",
    password: "correct horse",
  });
  assert.equal(reg.status, 200);
  await reg.body?.cancel();
  await (await answer(v, Q2, 1)).body?.cancel();
  let rows = (await csv(t)).slice(1);
  assert.deepEqual(rows.map((r) => r.slice(0, 6)), [
    ["ada", "2", "2", "10", "GET", "PUT"],
  ]);
  assert.equal((await stats(t)).participants, 1);

  await v.page(`/quiz/${QUIZ}/restart`);
  const restart = await v.form(`/quiz/${QUIZ}/restart`, {});
  assert.equal(restart.status, 303);
  rows = (await csv(t)).slice(1);
  assert.equal(rows.length, 0);
  const s = await stats(t);
  assert.equal(s.participants, 0);
  assert.equal(question(s, Q1).answered, 0);
});

Deno.test("deleting an account deletes its rows; the per-question counts keep its answers", async () => {
  await using t = await testApp(OPTIONS);
  const ada = new Visitor(t, "192.0.2.10");
  const res = await ada.postJson("/api/register", {
    username: "ada",
    password: "correct horse",
  });
  await res.body?.cancel();
  await (await answer(ada, Q1, 2)).body?.cancel();
  const bob = new Visitor(t, "192.0.2.11");
  await (await answer(bob, Q1, 0)).body?.cancel();

  const del = await ada.postJson("/api/account/delete", {
    password: "correct horse",
  });
  assert.equal(del.status, 200);
  await del.body?.cancel();

  const rows = (await csv(t)).slice(1);
  assert.deepEqual(rows.map((r) => r[0]), [
    `anonymous-${(await bob.handle()).slice(0, 8)}`,
  ]);
  const s = await stats(t);
  assert.equal(s.participants, 1);
  assert.equal(question(s, Q1).answered, 2);
  assert.equal(question(s, Q1).correct, 1);
});

Deno.test("the discrimination index is high when the strong participants get a question right", async () => {
  await using t = await testApp(OPTIONS);
  // Four visitors: two answer all three right, two all three wrong.
  for (let i = 0; i < 4; i++) {
    const v = new Visitor(t, `192.0.2.${20 + i}`);
    const right = i < 2;
    for (const [id, correct] of [[Q1, 2], [Q2, 1], ["host-header", 0]]) {
      const choice = right ? correct as number : 3;
      await (await answer(v, id as string, choice)).body?.cancel();
    }
  }
  const s = await stats(t);
  assert.equal(question(s, Q1).discrimination, 1);
  assert.equal(question(s, Q1).facility, 0.5);
  assert.equal(question(s, "cors-preflight").discrimination, null);
});

async function admin(t: TestApp): Promise<Visitor> {
  const v = new Visitor(t, "192.0.2.99");
  await v.page("/admin");
  const res = await v.form("/admin", { token: ADMIN_TOKEN });
  assert.equal(res.status, 303);
  return v;
}

Deno.test("the instructor pages need the admin session or the Bearer token", async () => {
  await using t = await testApp(OPTIONS);
  const paths = [
    "/admin/quizzes",
    `/admin/quizzes/${QUIZ}`,
    `/admin/quizzes/${QUIZ}/stats.json`,
    `/admin/quizzes/${QUIZ}/results.csv`,
  ];
  for (const path of paths) {
    const res = await t.request(path);
    assert.equal(res.status, 401, path);
    await res.body?.cancel();
  }
  const wrong = await t.request(paths[2], {
    headers: { authorization: `Bearer ${"w".repeat(40)}` },
  });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const bearer = await t.request(paths[3], { headers: BEARER });
  assert.equal(bearer.status, 200);
  assert.deepEqual(
    bearer.headers.getSetCookie(),
    [],
    "no session for a script",
  );
  await bearer.body?.cancel();

  const v = await admin(t);
  const list = await v.page("/admin/quizzes");
  assert.match(list, /href="\/admin\/quizzes\/http"/);
  await v.page(`/admin/quizzes/${QUIZ}`);
  const unknown = await v.fetch("/admin/quizzes/nope");
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
  for (const path of paths.slice(2)) {
    const res = await v.fetch(path);
    assert.equal(res.status, 200, path);
    await res.body?.cancel();
  }
});

Deno.test("without ADMIN_TOKEN the instructor pages do not exist", async () => {
  await using t = await testApp({ pbkdf2Iterations: 1000 });
  for (
    const path of [
      "/admin/quizzes",
      `/admin/quizzes/${QUIZ}`,
      `/admin/quizzes/${QUIZ}/stats.json`,
      `/admin/quizzes/${QUIZ}/results.csv`,
    ]
  ) {
    const res = await t.request(path, { headers: BEARER });
    assert.equal(res.status, 404, path);
    await res.body?.cancel();
  }
});

Deno.test("the admin KV API refuses a value a statistics key could not hold", async () => {
  await using t = await testApp(OPTIONS);
  const res = await t.request("/admin/kv", {
    method: "POST",
    headers: { ...BEARER, "content-type": "application/json" },
    body: JSON.stringify({ [`stats/${QUIZ}/${Q1}/answered`]: "many" }),
  });
  assert.equal(res.status, 400);
  assert.match((await res.json()).error, /KV u64 counter/);
});

Deno.test("an anonymous answer that the login's merge drops stops counting", async () => {
  await using t = await testApp(OPTIONS);
  const v = new Visitor(t);
  const credentials = { username: "ada", password: "correct horse" };
  await (await v.postJson("/api/register", credentials)).body?.cancel();
  await (await answer(v, Q1, 0)).body?.cancel();
  await (await v.postJson("/api/logout", {})).body?.cancel();
  await (await answer(v, Q1, 2)).body?.cancel();
  await (await answer(v, Q2, 1)).body?.cancel();
  assert.equal((await stats(t)).participants, 2);

  const login = await v.postJson("/api/login", credentials);
  assert.equal(login.status, 200);
  await login.body?.cancel();
  const rows = (await csv(t)).slice(1);
  assert.deepEqual(rows.map((r) => r.slice(0, 6)), [
    ["ada", "1", "2", "10", "POST", "PUT"],
  ]);
  const s = await stats(t);
  assert.equal(s.participants, 1);
  assert.deepEqual(question(s, Q1).choices.map((c) => c.count), [
    1,
    0,
    0,
    0,
    0,
  ]);
  assert.equal(question(s, Q2).answered, 1);
});
