/**
 * Sessions and counters through the servers themselves (first visits, `GET /api/me` or a
 * peer's page), and the answer stream's lists of (session, question) pairs, each sent
 * once, with the check that every acknowledged answer was scored once.
 */
import { type Running } from "./servers.ts";
import type { WrkResult } from "./load.ts";

export const COOKIE_NAME = "sessionId";

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once, in order of i. */
export async function pool<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

/** The value of the session cookie a response sets, "" when it clears it, null if none. */
export function sessionCookieOf(res: Response): string | null {
  const cookie = res.headers.getSetCookie().find((c) =>
    c.startsWith(`${COOKIE_NAME}=`)
  );
  return cookie === undefined
    ? null
    : cookie.slice(COOKIE_NAME.length + 1).split(";")[0];
}

/** Opens `count` sessions with a server (first visits) and returns their ids. */
export async function openSessions(
  url: string,
  count: number,
  concurrency = 8,
): Promise<string[]> {
  return await pool(count, concurrency, async () => {
    const res = await fetch(`${url}/`);
    await res.body?.cancel();
    if (res.status !== 200) {
      throw new Error(`opening a session: GET / answered ${res.status}`);
    }
    const id = sessionCookieOf(res);
    if (!id) throw new Error("opening a session: no session cookie set");
    return id;
  });
}

export interface Me {
  hits: number;
  visits: number;
  /** The session cookie the response set (cookie mode re-issues it), if any. */
  cookie: string | null;
  scores?: Record<string, { answered: number }>;
}

/**
 * A session's visits and the site's hits, as the server shows them: `GET /api/me` for the
 * app, the peer's page (`id="visits"`, `id="hits"`) for a peer. Either way the numbers
 * count the reading request itself, which is then stored as counted.
 */
export async function me(server: Running, id: string): Promise<Me> {
  const page = server.spec.kind === "peer";
  const res = await fetch(`${server.url}${page ? "/" : "/api/me"}`, {
    headers: { cookie: `${COOKIE_NAME}=${id}` },
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`${server.name}: reading counters answered ${res.status}`);
  }
  const cookie = sessionCookieOf(res);
  if (!page) return { ...(await res.json()), cookie };
  const html = await res.text();
  const number = (name: string) => {
    const m = html.match(new RegExp(`id="${name}">(\\d+)<`));
    if (!m) throw new Error(`${server.name}: no ${name} on its page`);
    return Number(m[1]);
  };
  return { hits: number("hits"), visits: number("visits"), cookie };
}

/**
 * Reads the counters through `me`, which answers the stored value plus one (itself) and
 * then counts itself. `before` reads every session in order and ends with the hits counter
 * as stored; `after` starts with the hits counter as stored before it.
 */
export async function readCounters(
  server: Running,
  ids: string[],
  when: "before" | "after",
) {
  const visits: number[] = [];
  let hits = 0;
  for (let i = 0; i < ids.length; i++) {
    const m = await me(server, ids[i]);
    visits.push(when === "before" ? m.visits : m.visits - 1);
    if (when === "before") hits = m.hits;
    else if (i === 0) hits = m.hits - 1;
  }
  return { hits, visits };
}

export interface QuizInfo {
  id: string;
  questions: { id: string; choices: string[] }[];
}

export async function quizzesOf(url: string): Promise<QuizInfo[]> {
  const list = await (await fetch(`${url}/api/quizzes`)).json() as {
    id: string;
  }[];
  return await Promise.all(
    list.map(async ({ id }) =>
      await (await fetch(`${url}/api/quizzes/${id}`)).json() as QuizInfo
    ),
  );
}

export interface AnswerLine {
  session: number;
  quiz: string;
}

export interface AnswerPlan {
  file: string;
  ids: string[];
  /** Each line's session and quiz, in file order. */
  lines: AnswerLine[];
}

/**
 * Opens enough fresh sessions for `count` answers and writes the list wrk sends: question
 * by question, each session in turn (so one session's answers are far apart and never
 * in flight together), choices at random.
 */
export async function answerPlan(
  server: Running,
  quizzes: QuizInfo[],
  count: number,
  file: string,
): Promise<AnswerPlan> {
  const questions = quizzes.flatMap((quiz) =>
    quiz.questions.map((q) => ({ quiz: quiz.id, q }))
  );
  const ids = await openSessions(
    server.url,
    Math.max(1, Math.ceil(count / questions.length)),
    16,
  );
  const text: string[] = [];
  const lines: AnswerLine[] = [];
  for (const { quiz, q } of questions) {
    for (let s = 0; s < ids.length && lines.length < count; s++) {
      const choice = Math.floor(Math.random() * q.choices.length);
      text.push(
        `${ids[s]}\t/api/quizzes/${quiz}/answers\t${
          JSON.stringify({ questionId: q.id, choice })
        }`,
      );
      lines.push({ session: s, quiz });
    }
  }
  await Deno.writeTextFile(file, text.join("\n") + "\n");
  return { file, ids, lines };
}

export interface AnswersCheck {
  sessions: number;
  /** Lines in the list, and how many wrk sent. */
  planned: number;
  sent: number;
  ok2xx: number;
  conflict: number;
  other: number;
  /** Threads that sent their whole share before the end. */
  exhausted: number;
  /** Sum of the sessions' answered counts (GET /api/me). */
  stored: number;
  /** Sum of the visits these sessions gained (first visit and the reading excluded). */
  visits: number;
  /** (session, quiz) with more answered than were sent to it: a double score. */
  overflow: number;
  slack: number;
  ok: boolean;
}

export async function checkAnswers(
  server: Running,
  plan: AnswerPlan,
  result: WrkResult,
  threads: number,
  slack: number,
): Promise<AnswersCheck> {
  // Thread t sent the first sent[t] of the lines whose index is t modulo the threads.
  const sentTo = new Map<string, number>();
  const taken = new Array(threads).fill(0);
  let sent = 0;
  plan.lines.forEach((line, i) => {
    const t = i % threads;
    if (taken[t] < (result.sent[t] ?? 0)) {
      taken[t]++;
      sent++;
      const key = `${line.session}/${line.quiz}`;
      sentTo.set(key, (sentTo.get(key) ?? 0) + 1);
    }
  });
  const mes = await pool(plan.ids.length, 16, (s) => me(server, plan.ids[s]));
  let stored = 0;
  let visits = 0;
  let overflow = 0;
  mes.forEach((m, s) => {
    // Stored visits: 1 (the first visit) + one per counted answer; the reading adds 1.
    visits += m.visits - 2;
    for (const [quiz, score] of Object.entries(m.scores ?? {})) {
      stored += score.answered;
      if (score.answered > (sentTo.get(`${s}/${quiz}`) ?? 0)) overflow++;
    }
  });
  const extra = stored - result.ok2xx;
  return {
    sessions: plan.ids.length,
    planned: plan.lines.length,
    sent,
    ok2xx: result.ok2xx,
    conflict: result.conflict,
    other: result.other,
    exhausted: result.exhausted,
    stored,
    visits,
    overflow,
    slack,
    ok: result.conflict === 0 && result.other === 0 && overflow === 0 &&
      extra >= 0 && extra <= slack && stored <= sent && visits === stored,
  };
}
