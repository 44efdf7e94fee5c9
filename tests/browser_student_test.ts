/**
 * The student's account paths in a real Chromium, without JavaScript (the forms alone):
 * starting a quiz over asks first; "Forget me" is honest for a logged-in user; changing the
 * password; deleting the account; being told that a session ended. Screenshots of the
 * account page's new forms go to docs/screenshots/.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import {
  type BrowserStep,
  launchBrowser,
  openPage,
  ROOT,
  runBrowserSteps,
  type Server,
  startServer,
} from "./browser_helpers.ts";
import { loadBank } from "./helpers.ts";

const QUIZ = loadBank()[0];
const FIRST = QUIZ.questions[0];
const PASSWORD = "correct horse battery";

async function register(page: Page, server: Server, name: string) {
  await page.goto(`${server.url}/register`);
  await page.fill('input[name="username"]', name);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([
    page.waitForURL(`${server.url}/`),
    page.click("form.auth button, section.auth button"),
  ]);
}

async function answerFirst(page: Page, server: Server) {
  await page.goto(`${server.url}/quiz/${QUIZ.id}`);
  await page.check(`input[name="choice"][value="${FIRST.correct}"]`);
  await Promise.all([
    page.waitForURL((u) => u.searchParams.has("answered")),
    page.click("button:text('Submit answer')"),
  ]);
}

type Step = BrowserStep;
const steps: [string, Step][] = [];

steps.push([
  "starting a quiz over shows a confirmation first, and only its button forgets the answers",
  async ({ browser, server }) => {
    const { page } = await openPage(browser, { javaScriptEnabled: false });
    await answerFirst(page, server);
    await page.goto(`${server.url}/quiz/${QUIZ.id}`);
    await page.click("a:text('Start this quiz over')");
    assert.match(
      await page.textContent("main") ?? "",
      /Your answers to this quiz will be forgotten/,
    );
    await page.click("a:text('No, go back')");
    assert.match(
      await page.textContent("main") ?? "",
      new RegExp(`1 of ${QUIZ.questions.length}|answered`, "i"),
    );
    await page.click("a:text('Start this quiz over')");
    await Promise.all([
      page.waitForURL(`${server.url}/quiz/${QUIZ.id}`),
      page.click("button:text('Yes, start over')"),
    ]);
    const me = await (await page.request.get(`${server.url}/api/me`)).json();
    assert.equal(me.scores[QUIZ.id], undefined);
  },
]);

steps.push([
  "a logged-in user is offered 'Delete my account', not 'Forget me'; the account page has the password and delete forms",
  async ({ browser, server }) => {
    const { page } = await openPage(browser, { javaScriptEnabled: false });
    await register(page, server, "bea");
    const footer = await page.textContent("footer") ?? "";
    assert.doesNotMatch(footer, /Forget me/);
    await page.click("footer a:text('Delete my account')");
    assert.equal(new URL(page.url()).pathname, "/account");
    assert.ok(await page.isVisible("#password form"));
    assert.ok(await page.isVisible("#delete form"));
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator("#password").screenshot({
      path: `${ROOT}docs/screenshots/account-password-phone.png`,
    });
    await page.locator("#delete").screenshot({
      path: `${ROOT}docs/screenshots/account-delete-phone.png`,
    });
  },
]);

steps.push([
  "changing the password through the form: logged in still, the new password logs in, the old one does not",
  async ({ browser, server }) => {
    const { page } = await openPage(browser, { javaScriptEnabled: false });
    await register(page, server, "cai");
    await page.goto(`${server.url}/account`);
    await page.fill('#password input[name="password"]', PASSWORD);
    await page.fill(
      '#password input[name="newPassword"]',
      "a brand new secret",
    );
    await page.fill('#password input[name="confirm"]', "a brand new secret");
    await Promise.all([
      page.waitForURL(`${server.url}/account`),
      page.click("button:text('Change password')"),
    ]);
    assert.match(
      await page.textContent("main") ?? "",
      /Your password is changed/,
    );
    const status = async (password: string) =>
      (await page.request.post(`${server.url}/api/login`, {
        headers: { "content-type": "application/json" },
        data: JSON.stringify({ username: "cai", password }),
      })).status();
    assert.equal(await status(PASSWORD), 401);
    assert.equal(await status("a brand new secret"), 200);
  },
]);

steps.push([
  "deleting the account through the form: back home as a new visitor, and the name can be registered again",
  async ({ browser, server }) => {
    const { page } = await openPage(browser, { javaScriptEnabled: false });
    await register(page, server, "dee");
    await answerFirst(page, server);
    await page.goto(`${server.url}/account`);
    await page.fill('#delete input[name="password"]', PASSWORD);
    await Promise.all([
      page.waitForURL(`${server.url}/`),
      page.click("#delete button"),
    ]);
    assert.match(
      await page.textContent("main") ?? "",
      /Your account and everything kept for it have been deleted/,
    );
    assert.match(await page.textContent("footer") ?? "", /Forget me/);
    await register(page, server, "dee");
    const me = await (await page.request.get(`${server.url}/api/me`)).json();
    assert.equal(me.user.username, "dee");
    assert.equal(me.scores[QUIZ.id], undefined, "the old progress came back");
  },
]);

Deno.test("a student's account paths in a real browser (Chromium), without JavaScript", (t) =>
  runBrowserSteps(t, steps));

Deno.test("a visitor whose session timed out is told so in the browser", async () => {
  const server = await startServer({
    SESSION_IDLE_TIMEOUT: "2",
    SESSION_ABSOLUTE_TIMEOUT: "60",
  });
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const { page } = await openPage(browser, { javaScriptEnabled: false });
    await page.goto(`${server.url}/`);
    await new Promise((r) => setTimeout(r, 2500));
    await page.goto(`${server.url}/`);
    assert.match(
      await page.textContent("main") ?? "",
      /Your previous session has ended: sessions end after 2 seconds without activity/,
    );
  } finally {
    await browser?.close();
    await server.stop();
  }
});
