/**
 * How long parsing a large GIFT file takes: `n` generated questions (titles, feedback, general
 * feedback, escapes, a true/false every fifth), parsed several times; the best run counts.
 * Usage: deno run bench/quiz_parse.ts [N]  (default 1000)
 */
import type { Quiz } from "../lib/quiz/bank.ts";
import { parseGift } from "../lib/quiz/gift.ts";

/** A GIFT file of `n` distinct questions. */
export function generatedGift(n: number): string {
  const blocks: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 5 === 4) {
      blocks.push(
        `// true/false ${i}\n::tf-${i}:: Statement number ${i} holds. {T #No. #Yes.}`,
      );
      continue;
    }
    blocks.push(
      `::q-${i}:: Which value is right for question ${i}, where a \\= b\\: c? {\n` +
        `  ~wrong ${i} one #not this\n  =right ${i} #yes\n  ~wrong ${i} two\n` +
        `  ~wrong ${i} three #nor this\n  ####Because right ${i} is right.\n}`,
    );
  }
  return blocks.join("\n\n");
}

/** Parses a generated file of `n` questions once. */
export function parseGenerated(n: number, source = generatedGift(n)): Quiz {
  return parseGift(source, "bench/generated.gift");
}

/** The best of `runs` parses of `n` generated questions, in milliseconds. */
export function benchQuizParse(n = 1000, runs = 5): number {
  const source = generatedGift(n);
  let best = Infinity;
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    const quiz = parseGenerated(n, source);
    best = Math.min(best, performance.now() - start);
    if (quiz.questions.length !== n) throw new Error("lost questions");
  }
  return best;
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? "1000");
  console.log(
    `parsed ${n} GIFT questions in ${
      benchQuizParse(n).toFixed(1)
    } ms (best of 5)`,
  );
}
