/**
 * `deno run -A bench/instances.ts [--instances 2] [--seconds 10] [--clients 32] [--sessions 400] [--answers 0.3]`:
 * several server processes on ONE local KV file (what docs/DEPLOY.md describes for one host).
 *
 * Phase 1 drives a single process, phase 2 the same load spread over all of them, on the same
 * sessions: visits (`GET /api/me`, `GET /`) and answers (each (session, question) sent once,
 * to whichever process), plus races where the same answer goes to every process at once.
 * Afterwards the totals must be exact: the hit counter equals the acknowledged counted
 * requests, each session's visits its acknowledged visits, each session's answered count its
 * acknowledged answers, and of each raced answer exactly one process said 200. Reports
 * throughput, latency, 503s and any "database is locked" the servers logged.
 */
import { parseArgs } from "node:util";
import { KNOWN_TTL_MS } from "../lib/sessions/memory.ts";
import { type Server, startServer } from "../tests/helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    instances: { type: "string", default: "2" },
    seconds: { type: "string", default: "10" },
    clients: { type: "string", default: "32" },
    sessions: { type: "string", default: "400" },
    answers: { type: "string", default: "0.3" },
  },
});
const INSTANCES = Number(values.instances);
const SECONDS = Number(values.seconds);
const CLIENTS = Number(values.clients);
const SESSIONS = Number(values.sessions);
/** Share of requests that are answers (the rest are visits). */
const ANSWERS = Number(values.answers);

const dir = await Deno.makeTempDir({ prefix: "mcq-instances-" });
const env = { KV_PATH: `${dir}/shared.sqlite3`, PBKDF2_ITERATIONS: "1000" };
const servers: Server[] = [];
for (let i = 0; i < INSTANCES; i++) servers.push(await startServer(env));

const JSON_HEADERS = { "content-type": "application/json" };
let counted = 0; // 2xx answers to counted routes (the hit counter must equal this)
const setupBank = await (await fetch(`${servers[0].url}/api/quizzes`)).json();
counted++;
const questions: { quizId: string; id: string }[] = [];
for (const { id } of setupBank) {
  const quiz = await (await fetch(`${servers[0].url}/api/quizzes/${id}`))
    .json();
  counted++;
  for (const q of quiz.questions) questions.push({ quizId: id, id: q.id });
}

interface S {
  cookie: string;
  visits: number;
  answered: Map<string, number>;
}
const sessions: S[] = [];
for (let i = 0; i < SESSIONS; i++) {
  const res = await fetch(`${servers[i % INSTANCES].url}/api/me`);
  await res.body?.cancel();
  counted++;
  sessions.push({
    cookie: res.headers.getSetCookie()[0].split(";")[0],
    visits: 1,
    answered: new Map(),
  });
}
// Every (session, question) pair, in a fixed shuffled order; each is answered once.
const pairs = sessions.flatMap((s) => questions.map((q) => ({ s, q })));
for (let i = pairs.length - 1, seed = 1; i > 0; i--) {
  seed = (seed * 48271) % 2147483647;
  const j = seed % (i + 1);
  [pairs[i], pairs[j]] = [pairs[j], pairs[i]];
}
// Kept aside for the races at the end.
const racePairs = pairs.splice(-30);
let nextPair = 0;

interface Phase {
  label: string;
  requests: number;
  ok: number;
  unavailable: number;
  other: number;
  errors: number;
  latencies: number[];
  seconds: number;
}

async function phase(label: string, targets: Server[]): Promise<Phase> {
  const p: Phase = {
    label,
    requests: 0,
    ok: 0,
    unavailable: 0,
    other: 0,
    errors: 0,
    latencies: [],
    seconds: SECONDS,
  };
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < end) {
      const server = targets[n++ % targets.length];
      const s = sessions[Math.floor(Math.random() * sessions.length)];
      const answer = Math.random() < ANSWERS && nextPair < pairs.length;
      const pair = answer ? pairs[nextPair++] : null;
      const started = performance.now();
      p.requests++;
      try {
        const res = pair
          ? await fetch(`${server.url}/api/quizzes/${pair.q.quizId}/answers`, {
            method: "POST",
            headers: { ...JSON_HEADERS, cookie: pair.s.cookie },
            body: JSON.stringify({ questionId: pair.q.id, choice: 0 }),
          })
          : await fetch(server.url + (Math.random() < 0.5 ? "/api/me" : "/"), {
            headers: { cookie: s.cookie },
          });
        await res.body?.cancel();
        p.latencies.push(performance.now() - started);
        if (res.status === 200) {
          p.ok++;
          counted++;
          const owner = pair ? pair.s : s;
          owner.visits++;
          if (pair) {
            owner.answered.set(
              pair.q.quizId,
              (owner.answered.get(pair.q.quizId) ?? 0) + 1,
            );
          }
        } else if (res.status === 503) p.unavailable++;
        else p.other++;
      } catch {
        p.errors++;
      }
    }
  }));
  return p;
}

const phases = [
  await phase("1 process", [servers[0]]),
  await phase(`${INSTANCES} processes, same KV file`, servers),
];

// Races: the same answer sent to every process at once; exactly one may score it.
let racesOk = 0;
const races = racePairs.length;
for (const { s, q } of racePairs) {
  const results = await Promise.all(servers.map(async (server) => {
    const res = await fetch(`${server.url}/api/quizzes/${q.quizId}/answers`, {
      method: "POST",
      headers: { ...JSON_HEADERS, cookie: s.cookie },
      body: JSON.stringify({ questionId: q.id, choice: 0 }),
    });
    await res.body?.cancel();
    return res.status;
  }));
  const wins = results.filter((x) => x === 200).length;
  if (wins === 1 && results.every((x) => x === 200 || x === 409)) racesOk++;
  counted += wins;
  s.visits += wins;
  s.answered.set(q.quizId, (s.answered.get(q.quizId) ?? 0) + wins);
}

// The totals, read through process 0 (its own /api/me is counted: subtract it). A process
// shows the counts it remembers for up to KNOWN_TTL_MS (other processes' counts may be
// missing from them meanwhile; the stored counters are exact), so wait that out first.
await new Promise((resolve) => setTimeout(resolve, KNOWN_TTL_MS + 100));
const problems: string[] = [];
const me = await (await fetch(`${servers[0].url}/api/me`)).json();
if (me.hits - 1 !== counted) {
  problems.push(`hits ${me.hits - 1}, acknowledged ${counted}`);
}
for (const s of sessions) {
  const body = await (await fetch(`${servers[1 % INSTANCES].url}/api/me`, {
    headers: { cookie: s.cookie },
  })).json();
  if (body.visits - 1 !== s.visits) {
    problems.push(`visits ${body.visits - 1}, acknowledged ${s.visits}`);
  }
  for (const [quizId, n] of s.answered) {
    if ((body.scores[quizId]?.answered ?? 0) !== n) {
      problems.push(
        `${quizId}: answered ${
          body.scores[quizId]?.answered
        }, acknowledged ${n}`,
      );
    }
  }
}
if (racesOk !== races) {
  problems.push(`${races - racesOk} races not won exactly once`);
}

const logs = [];
for (const server of servers) {
  const status = await server.stop("SIGTERM");
  logs.push(server.output());
  if (status.code !== 0) problems.push(`a process exited ${status.code}`);
}
const locked = logs.join("").split("\n").filter((l) => /locked|busy/i.test(l));
const giveUps = logs.join("").split("\n").filter((l) => /giving up/.test(l));
await Deno.remove(dir, { recursive: true });

const q = (xs: number[], f: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(f * s.length))] : 0;
};
console.log(
  `Instances: ${INSTANCES} processes on one KV file, ${CLIENTS} clients, ${SESSIONS} shared sessions, ${SECONDS} s per phase, ${
    ANSWERS * 100
  }% answers (${nextPair} sent of ${pairs.length}); ${Deno.build.os}/${Deno.build.arch}, deno ${Deno.version.deno}\n`,
);
console.log(
  "| phase | requests | req/s | p50 ms | p99 ms | 503 | other non-2xx | errors |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const p of phases) {
  console.log(
    `| ${p.label} | ${p.requests} | ${Math.round(p.requests / p.seconds)} | ${
      q(p.latencies, 0.5).toFixed(1)
    } | ${
      q(p.latencies, 0.99).toFixed(1)
    } | ${p.unavailable} | ${p.other} | ${p.errors} |`,
  );
}
console.log(
  `\n- exact totals: ${
    problems.length === 0 ? "yes" : "NO"
  } (hits = ${counted} acknowledged; every session's visits and answers as acknowledged)`,
);
console.log(
  `- same answer raced on all processes: ${racesOk}/${races} scored exactly once`,
);
console.log(
  `- "database is locked"/busy lines logged: ${locked.length}; store calls given up (503): ${giveUps.length}`,
);
for (const p of problems.slice(0, 20)) console.log(`  - ${p}`);
for (const l of locked.slice(0, 5)) {
  console.log(`  - logged: ${l.slice(0, 160)}`);
}
Deno.exit(problems.length === 0 ? 0 : 1);
