import { loadBank } from "./helpers.ts";
/**
 * Accounts end to end in a real Chromium against the real server process: register, answer,
 * log out, log in again, and find the progress and the finished quiz on /account.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import {
  launchBrowser,
  openPage,
  type Server,
  startServer,
} from "./browser_helpers.ts";

const QUIZ = loadBank()[0];
const PASSWORD = "correct horse battery";

/** One server (fast PBKDF2) and one browser per test, both torn down whatever happens. */
function browserTest(
  name: string,
  fn: (t: { browser: Browser; server: Server }) => Promise<void>,
) {
  Deno.test(name, async () => {
    const server = await startServer({ PBKDF2_ITERATIONS: "1000" });
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      await fn({ browser, server });
    } catch (error) {
      console.error(`server output:\n${server.output()}`);
      throw error;
    } finally {
      await browser?.close();
      await server.stop();
    }
  });
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent() ?? "").trim();
}

async function sessionId(page: Page, url: string): Promise<string> {
  const cookies = await page.context().cookies(url);
  const c = cookies.find((c) => c.name === "sessionId");
  assert.ok(c, `no sessionId among ${cookies.map((c) => c.name)}`);
  return c.value;
}

/** Fills and submits the login or registration form, waiting for the redirect to `/`. */
async function submitCredentials(page: Page, button: string) {
  await page.fill('input[name="username"]', "Alice");
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/"),
    page.click(`form[method="post"] button:text-is('${button}')`),
  ]);
}

async function logOut(page: Page) {
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/"),
    page.click("header button:text('Log out')"),
  ]);
  assert.equal(await text(page, ".flash"), "You are logged out.");
  assert.equal(await page.locator('[data-testid="user"]').count(), 0);
}

/** The /account line for the quiz, e.g. "HTTP …: 1/10 answered, score 1". */
async function accountLine(page: Page): Promise<string> {
  return await text(page, `li:has(a[href="/quiz/${QUIZ.id}"])`);
}

browserTest(
  "with JavaScript: register, answer, log out, log in again, see the progress and the finished quiz on /account",
  async ({ browser, server }) => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${server.url}/register`);
    const anonymous = await sessionId(page, server.url);
    await submitCredentials(page, "Register");
    assert.equal(await text(page, '[data-testid="user"]'), "alice");
    assert.match(await text(page, ".flash"), /Your account is ready/);
    assert.notEqual(await sessionId(page, server.url), anonymous);

    // One question through the island.
    const q = QUIZ.questions[0];
    await page.goto(`${server.url}/quiz/${QUIZ.id}`);
    await page.waitForSelector('form[data-ready="true"]');
    await page.click(`label.choice:has(input[value="${q.correct}"])`);
    await page.click("button:text('Submit answer')");
    assert.match(await text(page, '[data-testid="feedback"]'), /^Correct!/);
    assert.equal(await text(page, '[data-testid="score"]'), "1");

    await logOut(page);
    await page.goto(`${server.url}/quiz/${QUIZ.id}`);
    await page.waitForSelector('form[data-ready="true"]');
    assert.equal(await text(page, '[data-testid="answered"]'), "0");

    // Log in again: a new id, the progress is back, the flash shows once.
    await page.goto(`${server.url}/login`);
    const beforeLogin = await sessionId(page, server.url);
    await submitCredentials(page, "Log in");
    assert.notEqual(await sessionId(page, server.url), beforeLogin);
    assert.match(await text(page, ".flash"), /Welcome back/);
    await page.goto(`${server.url}/account`);
    assert.equal(await page.locator(".flash").count(), 0);
    assert.match(await accountLine(page), /1\/10 answered, score 1$/);
    assert.match(
      await text(page, "main"),
      /None yet: finish a quiz and it is kept here\./,
    );

    // Finish the quiz through the JSON API from the page (same cookie, same origin).
    const rest = QUIZ.questions.slice(1).map((q) => ({
      questionId: q.id,
      choice: q.correct,
    }));
    const statuses = await page.evaluate(async ({ quizId, answers }) => {
      const out: number[] = [];
      for (const a of answers) {
        const res = await fetch(`/api/quizzes/${quizId}/answers`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(a),
        });
        out.push(res.status);
      }
      return out;
    }, { quizId: QUIZ.id, answers: rest });
    assert.deepEqual(statuses, rest.map(() => 200));

    await page.goto(`${server.url}/account`);
    const total = QUIZ.questions.length;
    assert.match(
      await accountLine(page),
      new RegExp(`${total}/${total} answered, score ${total}$`),
    );
    const rows = await page.locator('[data-testid="history"] tbody tr')
      .allTextContents();
    assert.equal(rows.length, 1);
    assert.ok(rows[0].includes(QUIZ.title), rows[0]);
    assert.ok(rows[0].includes(`${total}/${total}`), rows[0]);
    const sessions = await page.locator('[data-testid="sessions"] li')
      .allTextContents();
    assert.equal(sessions.length, 1, sessions.join(" | "));
    assert.match(sessions[0], /^This session/);
    assert.deepEqual(errors, []);
  },
);

browserTest(
  "without JavaScript: the same account flow works through forms, finishing the quiz by form",
  async ({ browser, server }) => {
    const { page } = await openPage(browser, { javaScriptEnabled: false });
    await page.goto(`${server.url}/register`);
    await submitCredentials(page, "Register");
    assert.equal(await text(page, '[data-testid="user"]'), "alice");

    const answerByForm = async (i: number) => {
      const q = QUIZ.questions[i];
      assert.equal(await text(page, "legend.question-text"), q.text);
      await page.click(`label.choice:has(input[value="${q.correct}"])`);
      await Promise.all([
        page.waitForURL(`**/quiz/${QUIZ.id}?answered=${q.id}`),
        page.click("button:text('Submit answer')"),
      ]);
      assert.match(
        await text(page, '[data-testid="last-answer"]'),
        /^Correct!/,
      );
    };
    await page.goto(`${server.url}/quiz/${QUIZ.id}`);
    await answerByForm(0);

    await logOut(page);
    await page.goto(`${server.url}/`);
    assert.equal(await page.locator(".flash").count(), 0, "the flash was once");

    // Protected page → login → back to /account.
    await page.goto(`${server.url}/account`);
    assert.equal(new URL(page.url()).pathname, "/login");
    assert.equal(new URL(page.url()).search, "?next=%2Faccount");
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', PASSWORD);
    await Promise.all([
      page.waitForURL((u) => u.pathname === "/account"),
      page.click("form[method=post] button:text-is('Log in')"),
    ]);
    assert.match(await accountLine(page), /1\/10 answered, score 1$/);

    await page.goto(`${server.url}/quiz/${QUIZ.id}`);
    for (let i = 1; i < QUIZ.questions.length; i++) await answerByForm(i);
    await page.goto(`${server.url}/account`);
    const rows = await page.locator('[data-testid="history"] tbody tr')
      .allTextContents();
    assert.equal(rows.length, 1);
    const total = QUIZ.questions.length;
    assert.ok(rows[0].includes(`${total}/${total}`), rows[0]);

    // A wrong password: the form comes back with the username and an error, no password.
    await logOut(page);
    await page.goto(`${server.url}/login`);
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "not the password");
    await page.click("form[method=post] button:text-is('Log in')");
    assert.equal(
      await text(page, '[data-testid="form-error"]'),
      "Wrong username or password",
    );
    assert.equal(await page.inputValue('input[name="username"]'), "alice");
    assert.equal(await page.inputValue('input[name="password"]'), "");
  },
);
