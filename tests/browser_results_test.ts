/**
 * The instructor's path in a real browser (Chromium): a few visitors answer, the admin enters
 * the token in /admin's form, opens the quiz list, a quiz's statistics on a 390 px phone
 * (no wider than the screen, no JavaScript needed) and downloads the CSV. Writes
 * docs/screenshots/admin-quizzes.png and admin-quiz-stats-phone.png.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import {
  launchBrowser,
  openPage,
  ROOT,
  type Server,
  startServer,
} from "./browser_helpers.ts";

const ADMIN_TOKEN = "a".repeat(40);
const QUIZ = "http";
const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};

/** Some answers so the bars show: visitor i answers the first questions with choice i % 4. */
async function answerSome(server: Server): Promise<void> {
  const ids = ["safe-methods", "idempotent-not-safe", "host-header"];
  for (let i = 0; i < 6; i++) {
    let cookie = "";
    for (const questionId of ids) {
      const res = await fetch(`${server.url}/api/quizzes/${QUIZ}/answers`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie },
        body: JSON.stringify({
          questionId,
          choice: (i + ids.indexOf(questionId)) % 4,
        }),
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      cookie ||= res.headers.getSetCookie()[0].split(";")[0];
    }
  }
}

async function enterToken(page: Page, server: Server): Promise<void> {
  await page.goto(`${server.url}/admin`);
  await page.fill('input[name="token"]', ADMIN_TOKEN);
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/admin"),
    page.click("button:text('Enter')"),
  ]);
}

async function instructorPath(browser: Browser, server: Server) {
  const desktop = await openPage(browser, {
    viewport: { width: 1024, height: 700 },
    acceptDownloads: true,
  });
  await enterToken(desktop.page, server);
  await desktop.page.goto(`${server.url}/admin/quizzes`);
  const row = desktop.page.locator('[data-testid="admin-quizzes"] tr', {
    hasText: "HTTP",
  });
  assert.match(await row.innerText(), /\b6\b/);
  await desktop.page.screenshot({
    path: `${ROOT}docs/screenshots/admin-quizzes.png`,
    fullPage: true,
    animations: "disabled",
  });
  const [download] = await Promise.all([
    desktop.page.waitForEvent("download"),
    row.locator("a", { hasText: "results.csv" }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "http-results.csv");
  const csv = await Deno.readTextFile((await download.path())!);
  const lines = csv.split("\r\n").filter((l) => l !== "");
  assert.equal(lines.length, 7, csv);
  assert.match(lines[0], /^participant,score,answered,total,safe-methods,/);
  assert.deepEqual(desktop.errors, []);
}

async function phoneStats(browser: Browser, server: Server) {
  // Without JavaScript: the statistics are plain HTML and CSS.
  const { page, errors } = await openPage(browser, {
    ...PHONE,
    javaScriptEnabled: false,
  });
  await enterToken(page, server);
  await page.goto(`${server.url}/admin/quizzes`);
  await Promise.all([
    page.waitForURL((u) => u.pathname === `/admin/quizzes/${QUIZ}`),
    page.click("a:text('HTTP requests and headers')"),
  ]);
  const first = page.locator('[data-question="safe-methods"]');
  assert.equal(
    await first.locator('[data-testid="facility"]').innerText(),
    "0.17",
  );
  const widths = await page.evaluate(() => [
    document.documentElement.scrollWidth,
    innerWidth,
  ]);
  assert.ok(widths[0] <= widths[1], `page ${widths[0]} px wide`);
  const bar = await first.locator(".fill").first().boundingBox();
  assert.ok(bar && bar.width > 0, "the first choice's bar shows");
  await page.screenshot({
    path: `${ROOT}docs/screenshots/admin-quiz-stats-phone.png`,
    fullPage: false,
    animations: "disabled",
  });
  assert.deepEqual(errors, []);
}

Deno.test("an instructor enters the token, reads a quiz's statistics on a phone and downloads the CSV", async () => {
  const server = await startServer({ ADMIN_TOKEN });
  let browser: Browser | undefined;
  try {
    await answerSome(server);
    browser = await launchBrowser();
    await instructorPath(browser, server);
    await phoneStats(browser, server);
  } catch (error) {
    console.error(server.output());
    throw error;
  } finally {
    await browser?.close();
    await server.stop();
  }
});
