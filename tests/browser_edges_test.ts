/**
 * Rough edges in a real Chromium: liking a question while its explanation shows (with and
 * without JavaScript), the footer's counts after an answer, the keyboard hint on phones, and
 * the admin dashboard on a phone (with its screenshot in docs/screenshots/).
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { loadBank } from "./helpers.ts";
import {
  type BrowserStep,
  openPage,
  ROOT,
  runBrowserSteps,
  type Server,
} from "./browser_helpers.ts";

const QUIZ = loadBank()[0];
const FIRST = QUIZ.questions[0];
const ADMIN_TOKEN = "a".repeat(40);
const PHONE = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
};

type Step = BrowserStep;
const steps: [string, Step][] = [];

async function gotoReady(page: Page, url: string) {
  await page.goto(url);
  await page.waitForSelector('html[data-ready="true"] form[data-ready="true"]');
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent() ?? "").trim();
}

/** Answers the first question right on the hydrated card and waits for its feedback. */
async function answerFirst(page: Page) {
  await page.click(`label.choice:has(input[value="${FIRST.correct}"])`);
  await page.click("button:text('Submit answer')");
  await page.locator('[data-testid="feedback"]').waitFor();
}

/** Clicks a like button and waits for the page it leads back to. */
async function like(page: Page, selector: string) {
  await Promise.all([
    page.waitForURL((u) => u.pathname === `/quiz/${QUIZ.id}`),
    page.click(selector),
  ]);
}

async function likedTexts(page: Page, server: Server): Promise<string[]> {
  await page.goto(`${server.url}/likes`);
  return (await page.locator('[data-testid="liked"] .question-text')
    .allTextContents()).map((s) => s.trim());
}

steps.push([
  "with JavaScript, liking the question whose explanation shows likes it and comes back to that explanation",
  async ({ browser, server }) => {
    const { page, errors } = await openPage(browser);
    await gotoReady(page, `${server.url}/quiz/${QUIZ.id}`);
    await answerFirst(page);
    await like(page, "button:text('Like this question')");
    assert.equal(new URL(page.url()).searchParams.get("answered"), FIRST.id);
    const last = page.locator('[data-testid="last-answer"]');
    assert.ok((await last.textContent())?.includes(FIRST.explanation));
    assert.equal(
      await last.locator(".like-form button").getAttribute("aria-pressed"),
      "true",
    );
    assert.deepEqual(await likedTexts(page, server), [FIRST.text]);
    assert.deepEqual(errors, []);
  },
]);

steps.push([
  "without JavaScript, the like form beside an answer's explanation likes that question, not the next one",
  async ({ browser, server }) => {
    const { page } = await openPage(browser, { javaScriptEnabled: false });
    await page.goto(`${server.url}/quiz/${QUIZ.id}`);
    await page.click(`label.choice:has(input[value="${FIRST.correct}"])`);
    await Promise.all([
      page.waitForURL(`**/quiz/${QUIZ.id}?answered=${FIRST.id}`),
      page.click("button:text('Submit answer')"),
    ]);
    await like(
      page,
      "[data-testid='last-answer'] button:text('Like this question')",
    );
    assert.equal(new URL(page.url()).searchParams.get("answered"), FIRST.id);
    assert.equal(
      await page.getAttribute(
        "[data-testid='last-answer'] .like-form button",
        "aria-pressed",
      ),
      "true",
    );
    assert.deepEqual(await likedTexts(page, server), [FIRST.text]);
  },
]);

steps.push([
  "with JavaScript, the footer's counts follow each answer as a reload would show them",
  async ({ browser, server }) => {
    const { page, errors } = await openPage(browser);
    await gotoReady(page, `${server.url}/quiz/${QUIZ.id}`);
    const before = Number(await text(page, '[data-testid="visits"]'));
    await answerFirst(page);
    await page.waitForFunction(
      (n) =>
        document.querySelector('[data-testid="visits"]')?.textContent !==
          String(n),
      before,
    );
    const counts = async () => [
      Number(await text(page, '[data-testid="hits"]')),
      Number(await text(page, '[data-testid="visits"]')),
    ];
    const [hits, visits] = await counts();
    assert.ok(visits > before, `visits ${visits} after ${before}`);
    // The reload is one more request: both counts are then exactly one higher.
    await page.reload();
    assert.deepEqual(await counts(), [hits + 1, visits + 1]);
    assert.deepEqual(errors, []);
  },
]);

steps.push([
  "the keyboard hint shows on a desktop but not on a phone's touch screen",
  async ({ browser, server }) => {
    const desktop = await openPage(browser, {
      viewport: { width: 1280, height: 800 },
    });
    await gotoReady(desktop.page, `${server.url}/quiz/${QUIZ.id}`);
    assert.equal(await desktop.page.locator(".hint").isVisible(), true);
    const phone = await openPage(browser, PHONE);
    await gotoReady(phone.page, `${server.url}/quiz/${QUIZ.id}`);
    assert.equal(await phone.page.locator(".hint").count(), 1);
    assert.equal(await phone.page.locator(".hint").isVisible(), false);
  },
]);

steps.push([
  "the admin dashboard fits a 390 px phone and shows times like the account page",
  async ({ browser, server }) => {
    const { page, errors } = await openPage(browser, PHONE);
    await page.goto(`${server.url}/admin`);
    await page.fill('input[name="token"]', ADMIN_TOKEN);
    await Promise.all([
      page.waitForURL((u) => u.pathname === "/admin"),
      page.click("button:text('Enter')"),
    ]);
    await page.locator('[data-testid="admin-sessions"]').waitFor();
    const widths = await page.evaluate(() => [
      document.documentElement.scrollWidth,
      innerWidth,
    ]);
    assert.ok(widths[0] <= widths[1], `page ${widths[0]} px wide`);
    const times = await page.locator('[data-testid="admin-sessions"] time')
      .allTextContents();
    assert.ok(times.length >= 2, `times: ${times}`);
    for (const t of times) {
      assert.match(t.trim(), /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    }
    await page.screenshot({
      path: `${ROOT}docs/screenshots/admin-phone.png`,
      fullPage: true,
      animations: "disabled",
    });
    assert.deepEqual(errors, []);
  },
]);

Deno.test("rough edges in a real browser (Chromium)", (t) =>
  runBrowserSteps(t, steps, { ADMIN_TOKEN }));
