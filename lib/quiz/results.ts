/**
 * Reading the instructor statistics kept by lib/quiz/stats.ts: a quiz's counters (one
 * listing of O(questions × choices) keys), the discrimination index (one pass over the
 * participants' rows: O(participants)), and the CSV of the rows, streamed a page at a time.
 *
 * @module
 */
import type { Quiz } from "./bank.ts";
import type { ResultRow } from "./stats.ts";

/** One choice's tally. */
export interface ChoiceStats {
  id: string;
  text: string;
  count: number;
  correct: boolean;
}

export interface QuestionStats {
  id: string;
  text: string;
  answered: number;
  correct: number;
  /** correct / answered; null before any answer. */
  facility: number | null;
  /** Point-biserial correlation of the question with the participants' scores. */
  discrimination: number | null;
  choices: ChoiceStats[];
}

export interface QuizStats {
  quiz: { id: string; title: string };
  participants: number;
  /** Mean score of the participants, in questions; null without participants. */
  meanScore: number | null;
  questions: QuestionStats[];
}

export interface QuizOverview {
  id: string;
  title: string;
  questionCount: number;
  participants: number;
  meanScore: number | null;
}

const HALF = 2n ** 63n;

/** A counter as a number; a value past 2^63 is a count gone below zero (read as 0). */
function count(value: unknown): number {
  if (!(value instanceof Deno.KvU64)) return 0;
  return value.value >= HALF ? 0 : Number(value.value);
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Running sums of one question's point-biserial correlation. */
interface Sums {
  n: number;
  right: number;
  sum: number;
  sumSquares: number;
  sumRight: number;
}

/** The point-biserial coefficient from its sums; null when it is undefined (no spread). */
export function pointBiserial(s: Sums): number | null {
  if (s.n < 2 || s.right === 0 || s.right === s.n) return null;
  const mean = s.sum / s.n;
  const variance = s.sumSquares / s.n - mean * mean;
  if (variance <= 1e-12) return null;
  const p = s.right / s.n;
  const meanRight = s.sumRight / s.right;
  const meanWrong = (s.sum - s.sumRight) / (s.n - s.right);
  return round(
    (meanRight - meanWrong) / Math.sqrt(variance) *
      Math.sqrt(p * (1 - p)),
  );
}

/** The statistics of the quizzes, read from one store. */
export class QuizResults {
  constructor(private readonly kv: Deno.Kv) {}

  /** Every quiz with its participants and mean score: one listing, O(quizzes). */
  async overview(bank: Quiz[]): Promise<QuizOverview[]> {
    const totals = new Map<string, { participants: number; points: number }>();
    for await (const e of this.kv.list({ prefix: ["quiz_stats"] })) {
      const [, quizId, what] = e.key as string[];
      const t = totals.get(quizId) ?? { participants: 0, points: 0 };
      if (what === "participants") t.participants = count(e.value);
      if (what === "points") t.points = count(e.value);
      totals.set(quizId, t);
    }
    return bank.map((quiz) => {
      const t = totals.get(quiz.id) ?? { participants: 0, points: 0 };
      return {
        id: quiz.id,
        title: quiz.title,
        questionCount: quiz.questions.length,
        participants: t.participants,
        meanScore: t.participants ? round(t.points / t.participants) : null,
      };
    });
  }

  /** `quiz`'s counters and, from a pass over its rows, each question's discrimination. */
  async stats(quiz: Quiz): Promise<QuizStats> {
    const counters = new Map<string, number>();
    for await (const e of this.kv.list({ prefix: ["stats", quiz.id] })) {
      counters.set(JSON.stringify(e.key.slice(2)), count(e.value));
    }
    const at = (...key: string[]) => counters.get(JSON.stringify(key)) ?? 0;
    const [overview] = await this.overview([quiz]);
    const discrimination = await this.discrimination(quiz);
    const questions = quiz.questions.map((q, i) => {
      const answered = at(q.id, "answered");
      const correct = at(q.id, "correct");
      return {
        id: q.id,
        text: q.text,
        answered,
        correct,
        facility: answered ? round(correct / answered) : null,
        discrimination: discrimination[i],
        choices: q.choices.map((text, c) => ({
          id: q.choiceIds[c],
          text,
          count: at(q.id, "choice", q.choiceIds[c]),
          correct: c === q.correct,
        })),
      };
    });
    const { participants, meanScore } = overview;
    return {
      quiz: { id: quiz.id, title: quiz.title },
      participants,
      meanScore,
      questions,
    };
  }

  /** Each question's point-biserial index over the participants' rows (one pass). */
  async discrimination(quiz: Quiz): Promise<(number | null)[]> {
    const sums: Sums[] = quiz.questions.map(() => ({
      n: 0,
      right: 0,
      sum: 0,
      sumSquares: 0,
      sumRight: 0,
    }));
    for await (const row of this.rows(quiz)) {
      const right = new Set(row.correct);
      quiz.questions.forEach((q, i) => {
        if (!Object.hasOwn(row.answers, q.id)) return;
        const s = sums[i];
        s.n++;
        s.sum += row.score;
        s.sumSquares += row.score * row.score;
        if (right.has(q.id)) {
          s.right++;
          s.sumRight += row.score;
        }
      });
    }
    return sums.map(pointBiserial);
  }

  /** The participants' rows, read a page at a time (never all in memory). */
  async *rows(quiz: Quiz): AsyncGenerator<ResultRow> {
    const list = this.kv.list<ResultRow>({ prefix: ["results", quiz.id] }, {
      batchSize: 500,
    });
    for await (const e of list) yield e.value;
  }

  /** The rows as RFC 4180 CSV (CRLF, quotes doubled), streamed as they are read. */
  csv(quiz: Quiz): ReadableStream<Uint8Array> {
    const rows = this.rows(quiz);
    const utf8 = new TextEncoder();
    let header = true;
    return new ReadableStream({
      async pull(controller) {
        if (header) {
          header = false;
          controller.enqueue(utf8.encode(csvHeader(quiz)));
          return;
        }
        const lines: string[] = [];
        for (let i = 0; i < 200; i++) {
          const next = await rows.next();
          if (next.done) break;
          lines.push(csvLine(quiz, next.value));
        }
        if (lines.length) controller.enqueue(utf8.encode(lines.join("")));
        else controller.close();
      },
      async cancel() {
        await rows.return(undefined);
      },
    });
  }
}

/** One CSV field: quoted when it holds a comma, a quote, CR or LF; quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function csvHeader(quiz: Quiz): string {
  const fields = ["participant", "score", "answered", "total"];
  return [...fields, ...quiz.questions.map((q) => q.id)].map(csvField).join(
    ",",
  ) + "\r\n";
}

function csvLine(quiz: Quiz, row: ResultRow): string {
  const answers = quiz.questions.map((q) =>
    Object.hasOwn(row.answers, q.id) ? row.answers[q.id] : ""
  );
  return [
    row.participant,
    String(row.score),
    String(row.answered),
    String(quiz.questions.length),
    ...answers,
  ].map(csvField).join(",") + "\r\n";
}
