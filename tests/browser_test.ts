import { loadBank } from "./helpers.ts";
/**
 * End-to-end in a real browser: the quiz with and without JavaScript, the session cookie as the
 * browser holds it, progress across reloads, likes, and the screenshots in docs/screenshots/.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { type Quiz } from "../lib/quiz/bank.ts";
import {
  type BrowserStep,
  openPage,
  ROOT,
  runBrowserSteps,
} from "./browser_helpers.ts";

const UUID_V4 =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const QUIZ: Quiz = loadBank()[0];

/** The choice the tests make for question `i`: right for most, wrong for every third. */
function pickFor(i: number): number {
  const q = QUIZ.questions[i];
  return i % 3 === 1 ? (q.correct + 1) % q.choices.length : q.correct;
}
const EXPECTED_SCORE = QUIZ.questions.filter((q, i) => pickFor(i) === q.correct)
  .length;

type Step = BrowserStep;
/** The scenarios, run in order as steps of one test sharing one server and one browser. */
const steps: [string, Step][] = [];

async function gotoReady(page: Page, url: string) {
  await page.goto(url);
  await page.waitForSelector('html[data-ready="true"] form[data-ready="true"]');
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent() ?? "").trim();
}

/** What the focused element is, e.g. `BUTTON:Next question` or `INPUT:0`. */
function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLInputElement | null;
    if (!el) return "";
    return `${el.tagName}:${
      el.tagName === "INPUT" ? el.value : el.textContent?.trim()
    }`;
  });
}

/** Answers question `i` on the hydrated card with keys 1..n and Enter; returns the feedback text. */
async function answerWithKeys(page: Page, i: number): Promise<string> {
  const q = QUIZ.questions[i];
  await page.locator("legend.question-text", { hasText: q.text }).waitFor();
  const pick = pickFor(i);
  await page.keyboard.press(String(pick + 1));
  assert.equal(
    await page.isChecked(`input[name=choice][value="${pick}"]`),
    true,
  );
  await page.keyboard.press("Enter");
  return await text(page, '[data-testid="feedback"]');
}

// First, on the fresh server, so the hit counts in the footer (and so the files) are the same
// on every run.
steps.push([
  "screenshots of the quiz page at desktop and phone widths, light and dark",
  async ({ browser, server }) => {
    const shots = [
      { name: "quiz-desktop", width: 1280, height: 800 },
      { name: "quiz-phone", width: 375, height: 740 },
    ];
    await Deno.mkdir(`${ROOT}docs/screenshots`, { recursive: true });
    for (const scheme of ["light", "dark"] as const) {
      for (const { name, width, height } of shots) {
        const { page, errors } = await openPage(browser, {
          viewport: { width, height },
          colorScheme: scheme,
        });
        await gotoReady(page, `${server.url}/quiz/${QUIZ.id}`);
        // One answer in, one wrong pick showing: the most the page has to draw at once.
        await answerWithKeys(page, 0);
        await page.keyboard.press("Enter");
        await answerWithKeys(page, 1);
        // The footer catches up after each answer: the page view and two answers, each
        // with the footer's own /api/me read, are this session's five visits.
        await page.waitForFunction(() =>
          document.querySelector('[data-testid="visits"]')?.textContent === "5"
        );
        const suffix = scheme === "dark" ? "-dark" : "";
        await page.screenshot({
          path: `${ROOT}docs/screenshots/${name}${suffix}.png`,
          fullPage: true,
          animations: "disabled",
        });
        assert.deepEqual(errors, []);
        await page.context().close();
      }
    }
  },
]);

steps.push([
  "with JavaScript, a whole quiz is taken with the keyboard in one page and scored right",
  async ({ browser, server }) => {
    const { page, errors } = await openPage(browser);
    await gotoReady(page, `${server.url}/quiz/${QUIZ.id}`);
    // A hydration that did not match the server's markup would leave extra or missing nodes.
    assert.equal(await page.locator("form.question-card").count(), 1);
    assert.equal(
      await page.locator("label.choice").count(),
      QUIZ.questions[0].choices.length,
    );
    const navigations: string[] = [];
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) navigations.push(frame.url());
    });
    // Survives only if no page load happens in between.
    await page.evaluate(() => {
      (globalThis as { marker?: number }).marker = 42;
    });

    let score = 0;
    for (let i = 0; i < QUIZ.questions.length; i++) {
      const right = pickFor(i) === QUIZ.questions[i].correct;
      if (right) score++;
      const feedback = await answerWithKeys(page, i);
      assert.match(feedback, right ? /^Correct!/ : /^Not quite\./);
      assert.equal(await text(page, '[data-testid="score"]'), String(score));
      assert.equal(await text(page, '[data-testid="answered"]'), String(i + 1));
      const last = i === QUIZ.questions.length - 1;
      // Focus moves to the button that goes on, since the choices are now disabled.
      assert.equal(
        await focused(page),
        `BUTTON:${last ? "See results" : "Next question"}`,
      );
      assert.equal(
        await page.evaluate(() => (globalThis as { marker?: number }).marker),
        42,
      );
      if (last) break;
      await page.keyboard.press("Enter");
      await page.locator("legend.question-text", {
        hasText: QUIZ.questions[i + 1].text,
      }).waitFor();
      assert.equal(await focused(page), "INPUT:0");
    }
    assert.deepEqual(navigations, []);
    await Promise.all([
      page.waitForURL(`**/quiz/${QUIZ.id}/result`),
      page.keyboard.press("Enter"),
    ]);
    assert.equal(
      await text(page, '[data-testid="result-score"]'),
      String(EXPECTED_SCORE),
    );
    assert.deepEqual(errors, []);
  },
]);

steps.push([
  "without JavaScript, the same quiz works through forms and redirects",
  async ({ browser, server }) => {
    const { page } = await openPage(browser, { javaScriptEnabled: false });
    await page.goto(`${server.url}/quiz/${QUIZ.id}`);
    assert.equal(await page.getAttribute("html", "data-ready"), null);

    let score = 0;
    for (const [i, q] of QUIZ.questions.entries()) {
      assert.equal(await text(page, "legend.question-text"), q.text);
      const pick = pickFor(i);
      const right = pick === q.correct;
      if (right) score++;
      // Clicking the label's text is how a person picks; the radio is inside it.
      await page.click(`label.choice:has(input[value="${pick}"])`);
      await Promise.all([
        page.waitForURL(`**/quiz/${QUIZ.id}?answered=${q.id}`),
        page.click("button:text('Submit answer')"),
      ]);
      assert.match(
        await text(page, '[data-testid="last-answer"]'),
        right ? /^Correct!/ : /^Not quite\./,
      );
      if (i < QUIZ.questions.length - 1) {
        assert.equal(await text(page, '[data-testid="score"]'), String(score));
      }
    }
    assert.equal(await text(page, '[data-testid="page-score"]'), String(score));
    await Promise.all([
      page.waitForURL(`**/quiz/${QUIZ.id}/result`),
      page.click("a:text('See your results')"),
    ]);
    assert.equal(
      await text(page, '[data-testid="result-score"]'),
      String(EXPECTED_SCORE),
    );
  },
]);

steps.push([
  "the session cookie is HttpOnly, SameSite=Lax, a UUID v4 for 30 minutes, and hidden from scripts",
  async ({ browser, server }) => {
    const { page } = await openPage(browser);
    await gotoReady(page, `${server.url}/quiz/${QUIZ.id}`);
    const cookies = await page.context().cookies(server.url);
    const session = cookies.find((c) => c.name === "sessionId");
    assert.ok(session, `no sessionId cookie among ${JSON.stringify(cookies)}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Lax");
    assert.equal(session.path, "/");
    assert.match(session.value, UUID_V4);
    const expected = Date.now() / 1000 + 1800;
    assert.ok(
      Math.abs(session.expires - expected) < 60,
      `expires ${session.expires}, expected about ${expected}`,
    );
    const visible = await page.evaluate(() => document.cookie);
    assert.equal(visible.includes(session.value), false);
  },
]);

steps.push([
  "a reload keeps the progress, and a liked question shows up on /likes",
  async ({ browser, server }) => {
    const { page, errors } = await openPage(browser);
    await gotoReady(page, `${server.url}/quiz/${QUIZ.id}`);
    for (const i of [0, 1]) {
      await answerWithKeys(page, i);
      await page.keyboard.press("Enter");
    }
    const third = QUIZ.questions[2];
    await page.locator("legend.question-text", { hasText: third.text })
      .waitFor();
    const before = [
      await text(page, '[data-testid="score"]'),
      await text(page, '[data-testid="answered"]'),
    ];
    assert.deepEqual(before, [
      String(
        [0, 1].filter((i) => pickFor(i) === QUIZ.questions[i].correct)
          .length,
      ),
      "2",
    ]);

    await page.reload();
    await page.waitForSelector('form[data-ready="true"]');
    assert.equal(await text(page, "legend.question-text"), third.text);
    assert.deepEqual([
      await text(page, '[data-testid="score"]'),
      await text(page, '[data-testid="answered"]'),
    ], before);

    await Promise.all([
      page.waitForURL(`**/quiz/${QUIZ.id}`),
      page.click("button:text('Like this question')"),
    ]);
    await page.waitForSelector('form[data-ready="true"]');
    assert.equal(
      await page.getAttribute(".like-form button", "aria-pressed"),
      "true",
    );
    await page.goto(`${server.url}/likes`);
    const liked = await page.locator('[data-testid="liked"]').allTextContents();
    assert.equal(liked.length, 1);
    assert.ok(liked[0].includes(third.text), liked[0]);
    assert.deepEqual(errors, []);
  },
]);

Deno.test("the quiz in a real browser (Chromium)", (t) =>
  runBrowserSteps(t, steps));
