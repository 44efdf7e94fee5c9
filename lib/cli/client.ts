/**
 * `deno task client`: a terminal quiz client for the JSON API. It keeps its cookies in a jar file
 * (default `.cookies.json`), so successive runs continue the same session, like a browser would.
 *
 * Input is read line by line from stdin, so it can be driven by a pipe as well as by a person.
 * Exit codes: 0 ok, 1 server/API/jar errors, 2 usage errors. Errors are one line on stderr.
 */
import {
  type CookieJar,
  fetchWithJar,
  JarError,
  listCookies,
  loadJar,
  networkReason,
  saveJar,
} from "./cookie_jar.ts";
import { validateUsername } from "../accounts/password.ts";

export const DEFAULT_URL = "http://127.0.0.1:8000";
export const DEFAULT_JAR = ".cookies.json";

const USAGE = `usage: deno task client [options] [command]

commands:
  quizzes            list the quizzes (the default)
  take <quizId>      take a quiz: type a choice's number, or q to quit
  restart <quizId>   start a quiz over: its answers are forgotten (asks first)
  me                 this session: who is logged in, visits, hits, scores
  register           create an account and log in (asks username, password twice)
  login              log in (asks username and password)
  logout             end the session (its cookie is cleared)
  forget             "forget me": end the session and delete what was kept for it

options:
  --url URL          the server (default: $MCQ_URL if set, else ${DEFAULT_URL})
  --jar FILE         the cookie jar file (default ${DEFAULT_JAR} in the current directory)
  --show-cookies     print the jar's cookies (after the command, if one is given)
  --json             print the API's JSON answer (quizzes, me)
  -y, --yes          restart without asking
  -h, --help         this help`;

/** An error the user is told about in one line; `code` is the exit code. */
export class CliError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
    this.name = "CliError";
  }
}

export interface Options {
  url: URL;
  /** The options given that pick the server and the session, to repeat in hints (`--url X`). */
  reach: string[];
  jarPath: string;
  showCookies: boolean;
  json: boolean;
  yes: boolean;
  command: string | null;
  args: string[];
}

const COMMANDS: Record<string, number> = {
  quizzes: 0,
  take: 1,
  restart: 1,
  me: 0,
  register: 0,
  login: 0,
  logout: 0,
  forget: 0,
};

/** What the command line says, before it is checked. */
interface Given {
  url: string | null;
  jarPath: string | null;
  switches: Set<"showCookies" | "json" | "yes">;
  rest: string[];
}

const SWITCHES = {
  "--show-cookies": "showCookies",
  "--json": "json",
  "-y": "yes",
  "--yes": "yes",
} as const;

/**
 * Parses the command line; usage errors are `CliError`s with code 2. `null` means `--help`.
 * `envUrl` is `$MCQ_URL`: the server when `--url` is not given.
 */
export function parseArgs(
  argv: string[],
  envUrl: string | undefined = readEnv("MCQ_URL"),
): Options | null {
  const given = scanArgs(argv);
  if (given === null) return null;
  const { url, jarPath, switches, rest } = given;
  const parsed = url !== null
    ? serverUrl(url, "--url")
    : envUrl
    ? serverUrl(envUrl, "MCQ_URL")
    : new URL(DEFAULT_URL);
  if (jarPath === "") throw new CliError("--jar needs a file name", 2);
  const [command = null, ...args] = rest;
  if (command !== null) checkCommand(command, args);
  return {
    url: parsed,
    reach: [
      ...(url !== null ? ["--url", url] : []),
      ...(jarPath !== null ? ["--jar", jarPath] : []),
    ],
    jarPath: jarPath ?? DEFAULT_JAR,
    showCookies: switches.has("showCookies"),
    json: switches.has("json"),
    yes: switches.has("yes"),
    command,
    args,
  };
}

/** Sorts the command line into options and the rest; `null` for `--help`. */
function scanArgs(argv: string[]): Given | null {
  const given: Given = {
    url: null,
    jarPath: null,
    switches: new Set(),
    rest: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined) throw new CliError(`${flag} needs a value`, 2);
      return next;
    };
    if (flag === "-h" || flag === "--help") return null;
    else if (flag === "--url") given.url = value();
    else if (flag === "--jar") given.jarPath = value();
    else if (Object.hasOwn(SWITCHES, flag)) {
      given.switches.add(SWITCHES[flag as keyof typeof SWITCHES]);
    } else if (arg.startsWith("-") && arg !== "-") {
      throw new CliError(`unknown option ${arg} (see --help)`, 2);
    } else given.rest.push(arg);
  }
  return given;
}

function checkCommand(command: string, args: string[]) {
  if (!Object.hasOwn(COMMANDS, command)) {
    throw new CliError(`unknown command ${command} (see --help)`, 2);
  }
  if (args.length !== COMMANDS[command]) {
    throw new CliError(
      COMMANDS[command] === 1
        ? `${command} needs exactly one quiz id (see the quizzes command)`
        : `${command} takes no arguments`,
      2,
    );
  }
}

/** `text` as a server URL; `from` says where it came from (`--url`, `MCQ_URL`) in errors. */
function serverUrl(text: string, from: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new CliError(`${from} ${text} is not a valid URL`, 2);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new CliError(`${from} ${text} must be an http:// or https:// URL`, 2);
  }
  return parsed;
}

/** An environment variable, or undefined when it is unset or not allowed (`--allow-env`). */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** A command line for the user to type (`deno task client --url X take`), shell-quoted. */
export function commandLine(words: string[]): string {
  return ["deno task client", ...words.map(shellWord)].join(" ");
}

function shellWord(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** Reads stdin line by line (a pipe or a terminal), and passwords without echo on a terminal. */
export class LineReader {
  #buffer: number[] = [];
  #eof = false;
  #decoder = new TextDecoder();
  #encoder = new TextEncoder();

  constructor(readonly stdin = Deno.stdin, readonly stdout = Deno.stdout) {}

  get interactive(): boolean {
    return this.stdin.isTerminal();
  }

  write(text: string): void {
    writeAll(this.stdout, this.#encoder.encode(text));
  }

  /** Prints `prompt`, answers the next line (without its line ending), or null at end of input. */
  async question(prompt: string): Promise<string | null> {
    this.write(prompt);
    const line = await this.#readLine();
    // A piped answer is not echoed by a terminal: echo it so the transcript reads naturally.
    if (!this.interactive) this.write(line === null ? "\n" : `${line}\n`);
    return line;
  }

  /** Like `question`, but a terminal does not show what is typed. */
  async secret(prompt: string): Promise<string | null> {
    if (!this.interactive) {
      this.write(prompt);
      const line = await this.#readLine();
      this.write("\n");
      return line;
    }
    this.write(prompt);
    this.stdin.setRaw(true);
    const bytes: number[] = [];
    try {
      for (;;) {
        const byte = await this.#readByte();
        if (byte === null || byte === 0x04) {
          if (bytes.length === 0) return null;
          break;
        }
        if (byte === 0x03) { // Ctrl-C
          this.stdin.setRaw(false);
          this.write("\n");
          Deno.exit(130);
        }
        if (byte === 0x0d || byte === 0x0a) break;
        if (byte === 0x7f || byte === 0x08) bytes.pop();
        else bytes.push(byte);
      }
    } finally {
      this.stdin.setRaw(false);
      this.write("\n");
    }
    return this.#decoder.decode(new Uint8Array(bytes));
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(4096);
    const n = await this.stdin.read(chunk);
    if (n === null) {
      this.#eof = true;
      return false;
    }
    for (let i = 0; i < n; i++) this.#buffer.push(chunk[i]);
    return true;
  }

  async #readByte(): Promise<number | null> {
    if (this.#buffer.length === 0 && !(await this.#fill())) return null;
    return this.#buffer.shift() ?? null;
  }

  async #readLine(): Promise<string | null> {
    for (;;) {
      const newline = this.#buffer.indexOf(0x0a);
      if (newline !== -1) {
        const bytes = this.#buffer.splice(0, newline + 1);
        return this.#decoder.decode(new Uint8Array(bytes)).replace(
          /\r?\n$/,
          "",
        );
      }
      if (!(await this.#fill())) {
        if (this.#buffer.length === 0) return null;
        const bytes = this.#buffer.splice(0);
        return this.#decoder.decode(new Uint8Array(bytes));
      }
    }
  }
}

function writeAll(out: { writeSync(p: Uint8Array): number }, data: Uint8Array) {
  let offset = 0;
  while (offset < data.length) offset += out.writeSync(data.subarray(offset));
}

/** What a request answered: status and parsed JSON (`null` for an empty body). */
export interface ApiAnswer {
  status: number;
  data: unknown;
}

/** Talks to the JSON API through the jar, saving the jar after every answer. */
export class Api {
  #saved: string;

  constructor(
    readonly base: URL,
    readonly jar: CookieJar,
    readonly jarPath: string,
  ) {
    this.#saved = JSON.stringify(jar.serializeSync());
  }

  /** Saves the jar when it changed (a run that got no cookie leaves no jar file behind). */
  async persist(): Promise<void> {
    const json = JSON.stringify(this.jar.serializeSync());
    if (json === this.#saved) return;
    await saveJar(this.jar, this.jarPath);
    this.#saved = json;
  }

  url(path: string): URL {
    return new URL(this.base.href.replace(/\/+$/, "") + path);
  }

  /** `fetch` through the jar; a network failure is a `CliError`. The jar is saved after. */
  async send(
    method: string,
    path: string,
    init: RequestInit = {},
  ): Promise<Response> {
    try {
      return await fetchWithJar(this.jar, this.url(path), { ...init, method });
    } catch (err) {
      const why = networkReason(err);
      throw new CliError(
        `cannot reach ${this.base.origin}: ${why}${
          /refused/.test(why) ? " (is the server running?)" : ""
        }`,
      );
    } finally {
      await this.persist();
    }
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<ApiAnswer> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await this.send(method, path, {
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw new CliError(
        `${method} ${path}: the answer was cut off (${networkReason(err)})`,
      );
    }
    if (text.trim() === "") return { status: response.status, data: null };
    try {
      return { status: response.status, data: JSON.parse(text) };
    } catch {
      const type = response.headers.get("content-type") ?? "no content type";
      throw new CliError(
        `${method} ${path}: the server answered ${response.status} ${response.statusText} with something that is not JSON (${type})`,
      );
    }
  }

  /** Like `request`, but any status other than 2xx is a `CliError` quoting the API's error. */
  async ok(method: string, path: string, body?: unknown): Promise<unknown> {
    const answer = await this.request(method, path, body);
    if (answer.status < 200 || answer.status > 299) {
      throw new CliError(failure(method, path, answer));
    }
    return answer.data;
  }
}

/** One line describing a failed answer, e.g. `POST /api/login failed (401): wrong password`. */
export function failure(method: string, path: string, answer: ApiAnswer) {
  const error = isRecord(answer.data) && typeof answer.data.error === "string"
    ? `: ${answer.data.error}`
    : "";
  return `${method} ${path} failed (${answer.status})${error}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function unexpected(what: string): CliError {
  return new CliError(`unexpected answer from the server for ${what}`);
}

interface QuizSummary {
  id: string;
  title: string;
  questionCount: number;
}

interface Question {
  id: string;
  text: string;
  choices: string[];
}

interface Score {
  score: number;
  answered: number;
  total: number;
}

interface Me {
  user: { username: string } | null;
  visits: number;
  hits: number;
  scores: Record<string, Score>;
}

function asMe(data: unknown): Me {
  if (!isRecord(data) || typeof data.visits !== "number") {
    throw unexpected("GET /api/me");
  }
  return {
    user: isRecord(data.user) && typeof data.user.username === "string"
      ? { username: data.user.username }
      : null,
    visits: data.visits,
    hits: typeof data.hits === "number" ? data.hits : NaN,
    scores: isRecord(data.scores) ? data.scores as Record<string, Score> : {},
  };
}

function scoreLine(s: Partial<Score>): string {
  return `score ${s.score ?? "?"}, answered ${s.answered ?? "?"} of ${
    s.total ?? "?"
  }`;
}

async function listQuizzes(
  api: Api,
  io: LineReader,
  json: boolean,
  reach: string[],
) {
  const data = await api.ok("GET", "/api/quizzes");
  if (!Array.isArray(data)) throw unexpected("GET /api/quizzes");
  if (json) return io.write(JSON.stringify(data, null, 2) + "\n");
  const quizzes = data.filter(isRecord) as unknown as QuizSummary[];
  if (quizzes.length === 0) return io.write("No quizzes.\n");
  const width = Math.max(2, ...quizzes.map((q) => String(q.id).length));
  io.write(`${"ID".padEnd(width)}  QUESTIONS  TITLE\n`);
  for (const q of quizzes) {
    io.write(
      `${String(q.id).padEnd(width)}  ${
        String(q.questionCount).padStart(9)
      }  ${q.title}\n`,
    );
  }
  io.write(`\nTake one with: ${commandLine([...reach, "take"])} <ID>\n`);
}

async function showMe(api: Api, io: LineReader, json: boolean) {
  const data = await api.ok("GET", "/api/me");
  if (json) return io.write(JSON.stringify(data, null, 2) + "\n");
  const me = asMe(data);
  io.write(`user:   ${me.user ? me.user.username : "anonymous"}\n`);
  io.write(`visits: ${me.visits} (this session)\n`);
  io.write(`hits:   ${me.hits} (the whole site)\n`);
  const scores = Object.entries(me.scores);
  if (scores.length === 0) io.write("scores: none yet\n");
  else {
    io.write("scores:\n");
    for (const [quizId, s] of scores) {
      io.write(`  ${quizId}: ${scoreLine(s)}\n`);
    }
  }
}

/** The quiz `quizId` from the API; one that does not exist is a `CliError` that says so. */
async function findQuiz(
  api: Api,
  quizId: string,
): Promise<Record<string, unknown> & { questions: unknown[] }> {
  const path = `/api/quizzes/${encodeURIComponent(quizId)}`;
  const answer = await api.request("GET", path);
  if (answer.status === 404) {
    throw new CliError(
      `there is no quiz "${quizId}" (see the quizzes command)`,
    );
  }
  if (answer.status < 200 || answer.status > 299) {
    throw new CliError(failure("GET", path, answer));
  }
  const quiz = answer.data;
  if (!isRecord(quiz) || !Array.isArray(quiz.questions)) {
    throw unexpected(`GET ${path}`);
  }
  return quiz as Record<string, unknown> & { questions: unknown[] };
}

async function takeQuiz(
  api: Api,
  io: LineReader,
  quizId: string,
  reach: string[],
) {
  const path = `/api/quizzes/${encodeURIComponent(quizId)}`;
  const quiz = await findQuiz(api, quizId);
  const questions = quiz.questions as Question[];
  const total = questions.length;
  const me = asMe(await api.ok("GET", "/api/me"));
  const progress = me.scores[quizId];
  let answered = progress?.answered ?? 0;
  io.write(`${quiz.title ?? quizId}: ${total} questions\n`);
  if (!announceProgress(io, quizId, total, progress, reach)) return;
  // Questions are answered in order (the pages and this client do so), so the first `answered`
  // are done: start after them, and come back to them last in case some were answered out of
  // order (the server's 409 then says so and we move on).
  const order = [...questions.keys()];
  const todo = [...order.slice(answered), ...order.slice(0, answered)];
  let last: Partial<Score> = progress ?? { score: 0, answered: 0, total };
  for (const index of todo) {
    if (answered >= total) break;
    const question = questions[index];
    showQuestion(io, question, index, total);
    const choice = await askChoice(io, question, last);
    if (choice === null) return;
    const sent = await sendAnswer(api, io, `${path}/answers`, question, choice);
    last = sent.score;
    answered = typeof last.answered === "number"
      ? last.answered
      : answered + (sent.counted ? 1 : 0);
  }
  io.write(`\nFinished: ${scoreLine(last)}.\n`);
}

/** Says where the visitor stands in the quiz; false when nothing is left to answer. */
function announceProgress(
  io: LineReader,
  quizId: string,
  total: number,
  progress: Score | undefined,
  reach: string[],
): boolean {
  if (!progress) return true;
  const answered = progress.answered ?? 0;
  if (total > 0 && answered >= total) {
    io.write(
      `You have answered every question of this quiz already: ${
        scoreLine(progress)
      }.\nStart it over with: ${commandLine([...reach, "restart", quizId])}\n`,
    );
    return false;
  }
  if (answered > 0) {
    io.write(`Continuing where you left off: ${scoreLine(progress)}.\n`);
  }
  return true;
}

function showQuestion(
  io: LineReader,
  question: Question,
  index: number,
  total: number,
) {
  io.write(`\nQuestion ${index + 1} of ${total}: ${question.text}\n`);
  question.choices.forEach((choice, i) => io.write(`  ${i + 1}) ${choice}\n`));
}

/** Asks until a choice is typed: its index, or null when the user quits or input ends. */
async function askChoice(
  io: LineReader,
  question: Question,
  last: Partial<Score>,
): Promise<number | null> {
  for (;;) {
    const line = await io.question(
      `Your answer (1-${question.choices.length}, q to quit): `,
    );
    if (line === null) {
      io.write(
        `End of input: stopping here (${
          scoreLine(last)
        }; your progress is kept).\n`,
      );
      return null;
    }
    const text = line.trim().toLowerCase();
    if (text === "q" || text === "quit") {
      io.write(`Stopped: ${scoreLine(last)}; your progress is kept.\n`);
      return null;
    }
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (n >= 1 && n <= question.choices.length) return n - 1;
    io.write(
      `Please type a number from 1 to ${question.choices.length}, or q to quit.\n`,
    );
  }
}

/**
 * Posts one answer and says how it went. `counted` is false when the server already had an
 * answer to that question (409).
 */
async function sendAnswer(
  api: Api,
  io: LineReader,
  answerPath: string,
  question: Question,
  choice: number,
): Promise<{ score: Partial<Score>; counted: boolean }> {
  const result = await api.request("POST", answerPath, {
    questionId: question.id,
    choice,
  });
  if (result.status === 409) {
    const data = isRecord(result.data) ? result.data as Partial<Score> : {};
    io.write(`Already answered: moving on (${scoreLine(data)}).\n`);
    return { score: data, counted: false };
  }
  if (result.status < 200 || result.status > 299) {
    throw new CliError(failure("POST", answerPath, result));
  }
  if (!isRecord(result.data) || typeof result.data.correct !== "boolean") {
    throw unexpected(`POST ${answerPath}`);
  }
  const data = result.data as
    & Partial<Score>
    & Record<string, unknown>
    & { correct: boolean };
  if (data.correct) io.write("Correct!\n");
  else {
    const right = typeof data.correctChoice === "number"
      ? ` The answer is ${data.correctChoice + 1}) ${
        question.choices[data.correctChoice] ?? ""
      }.`
      : "";
    io.write(`Incorrect.${right}\n`);
  }
  if (typeof data.feedback === "string" && data.feedback) {
    io.write(`${data.feedback}\n`);
  }
  if (typeof data.explanation === "string" && data.explanation) {
    io.write(`${data.explanation}\n`);
  }
  io.write(`${scoreLine(data)}\n`);
  return { score: data, counted: true };
}

/**
 * Asks for a username until one is given. A new one (`register`) must follow the server's rule,
 * checked here so that what is wrong is said before a password is typed for nothing.
 */
async function askUsername(io: LineReader, isNew: boolean): Promise<string> {
  for (;;) {
    const line = await io.question("Username: ");
    if (line === null) throw new CliError("no username given", 2);
    const username = line.trim();
    const problem = !username
      ? "no username given"
      : isNew
      ? validateUsername(username)
      : null;
    if (problem === null) return username;
    // Piped input: the next line is the password, which must not be taken for a username.
    if (!io.interactive) throw new CliError(problem, 2);
    if (username) io.write(`${problem}.\n`);
  }
}

/** How many times `register` asks for a password and its confirmation before giving up. */
const PASSWORD_TRIES = 3;

/** Asks for a new password twice (not echoed); a mismatch is said and asked again. */
async function askNewPassword(io: LineReader): Promise<string> {
  for (let attempt = 1; attempt <= PASSWORD_TRIES; attempt++) {
    const password = await io.secret("Password: ");
    if (password === null) throw new CliError("no password given", 2);
    const again = await io.secret("Password again: ");
    if (again === null) throw new CliError("the password was not confirmed", 2);
    if (again === password) return password;
    io.write(
      attempt < PASSWORD_TRIES
        ? "The passwords do not match; try again.\n"
        : "The passwords do not match.\n",
    );
  }
  throw new CliError(
    `the passwords did not match ${PASSWORD_TRIES} times: nothing was registered`,
    2,
  );
}

async function account(api: Api, io: LineReader, action: "login" | "register") {
  const username = await askUsername(io, action === "register");
  const password = action === "register"
    ? await askNewPassword(io)
    : await io.secret("Password: ");
  if (password === null) throw new CliError("no password given", 2);
  const path = `/api/${action}`;
  const answer = await api.request("POST", path, { username, password });
  if (answer.status === 404 && action === "register") {
    throw new CliError(
      `this server has no registration (${path} answered 404)`,
    );
  }
  if (answer.status < 200 || answer.status > 299) {
    const error = isRecord(answer.data) && typeof answer.data.error === "string"
      ? `: ${answer.data.error}`
      : "";
    throw new CliError(
      `${
        action === "login" ? "login" : "registration"
      } failed (${answer.status})${error}`,
    );
  }
  const data = answer.data;
  const name = isRecord(data) && isRecord(data.user) &&
      typeof data.user.username === "string"
    ? data.user.username
    : username;
  io.write(
    action === "login"
      ? `Logged in as ${name}.\n`
      : `Registered and logged in as ${name}.\n`,
  );
}

/**
 * Starts a quiz over, once the user said yes (or gave --yes). The server does this only as a form
 * of the quiz page (POST /quiz/:id/restart with the session's `_csrf` token), so do as a browser:
 * read the token from the page, then post the form.
 */
async function restartQuiz(
  api: Api,
  io: LineReader,
  quizId: string,
  yes: boolean,
) {
  const quiz = await findQuiz(api, quizId);
  const title = typeof quiz.title === "string" ? quiz.title : quizId;
  if (!yes) {
    const answer = await io.question(
      `Start ${title} over? Your answers will be forgotten [y/N] `,
    );
    if (!/^y(es)?$/i.test(answer?.trim() ?? "")) {
      io.write("Nothing changed (answer y, or pass --yes, to start over).\n");
      return;
    }
  }
  const page = `/quiz/${encodeURIComponent(quizId)}`;
  const token = csrfToken(await pageText(api, page), page);
  const path = `${page}/restart`;
  const response = await api.send("POST", path, {
    headers: {
      accept: "text/html",
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ _csrf: token }).toString(),
  });
  await response.body?.cancel();
  if (!response.ok) {
    throw new CliError(`POST ${path} failed (${response.status})`);
  }
  io.write(`Started ${title} over: your answers are forgotten.\n`);
}

/** The HTML of a page of the site; anything but a 2xx is a `CliError`. */
async function pageText(api: Api, path: string): Promise<string> {
  const response = await api.send("GET", path, {
    headers: { accept: "text/html" },
  });
  const text = await response.text().catch((err) => {
    throw new CliError(
      `GET ${path}: the answer was cut off (${networkReason(err)})`,
    );
  });
  if (!response.ok) {
    throw new CliError(`GET ${path} failed (${response.status})`);
  }
  return text;
}

/** The form token of a page (each form of a session carries the same one). */
export function csrfToken(html: string, path: string): string {
  for (const tag of html.match(/<input\b[^>]*>/gi) ?? []) {
    if (!/\bname=["']?_csrf["'\s>/]/i.test(tag)) continue;
    const value = tag.match(/\bvalue=(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i);
    if (value) return decodeEntities(value[1] ?? value[2] ?? value[3]);
  }
  throw new CliError(`GET ${path}: the page has no form token (_csrf)`);
}

/** Undoes the escaping an HTML attribute value gets (`&amp;`, `&quot;`, `&lt;`, `&gt;`, `&#39;`). */
function decodeEntities(text: string): string {
  const named: Record<string, string> = {
    amp: "&",
    quot: '"',
    lt: "<",
    gt: ">",
    "#39": "'",
  };
  return text.replace(/&(amp|quot|lt|gt|#39);/g, (_, name) => named[name]);
}

async function endSession(
  api: Api,
  io: LineReader,
  action: "logout" | "forget",
) {
  await api.ok("POST", `/api/${action}`);
  io.write(
    action === "logout"
      ? "Logged out: the session is over and its cookie cleared.\n"
      : "Forgotten: the session and everything kept for it are deleted.\n",
  );
}

/** Masks a cookie value: only its last 4 characters show (none when it is that short). */
export function maskValue(value: string): string {
  if (value.length <= 8) return "*".repeat(value.length);
  return "*".repeat(Math.min(value.length - 4, 8)) + value.slice(-4);
}

async function showCookies(jar: CookieJar, jarPath: string, io: LineReader) {
  const cookies = await listCookies(jar);
  io.write(
    `Cookie jar ${jarPath}: ${cookies.length} cookie${
      cookies.length === 1 ? "" : "s"
    }\n`,
  );
  if (cookies.length === 0) return;
  const rows = [[
    "NAME",
    "VALUE",
    "DOMAIN",
    "PATH",
    "EXPIRES",
    "HTTPONLY",
    "SECURE",
    "SAMESITE",
  ]];
  const now = Date.now();
  for (const c of cookies) {
    const expiry = c.expiryTime();
    rows.push([
      c.key,
      maskValue(c.value),
      `${c.domain ?? "?"}${c.hostOnly ? " (host-only)" : ""}`,
      c.path ?? "/",
      expiry === undefined
        ? "session"
        : expiry === Infinity
        ? "never"
        : `${new Date(expiry).toISOString()} (in ${
          duration((expiry - now) / 1000)
        })`,
      c.httpOnly ? "yes" : "no",
      c.secure ? "yes" : "no",
      c.sameSite && c.sameSite !== "unspecified"
        ? c.sameSite[0].toUpperCase() + c.sameSite.slice(1)
        : "-",
    ]);
  }
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((r) => r[i].length))
  );
  for (const row of rows) {
    io.write(
      row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd() + "\n",
    );
  }
}

/** A number of seconds as "1d 2h", "29m 58s", ... */
export function duration(seconds: number): string {
  let s = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.slice(0, 2).join(" ");
}

/** Runs the client; answers the exit code. Every failure is reported as one line on stderr. */
export async function main(
  argv: string[],
  io = new LineReader(),
): Promise<number> {
  try {
    const options = parseArgs(argv);
    if (options === null) {
      io.write(USAGE + "\n");
      return 0;
    }
    const jarPath = fromInvocationDir(options.jarPath);
    const jar = await loadJar(jarPath);
    const api = new Api(options.url, jar, jarPath);
    const command = options.command ?? (options.showCookies ? null : "quizzes");
    switch (command) {
      case null:
        break;
      case "quizzes":
        await listQuizzes(api, io, options.json, options.reach);
        break;
      case "me":
        await showMe(api, io, options.json);
        break;
      case "take":
        await takeQuiz(api, io, options.args[0], options.reach);
        break;
      case "restart":
        await restartQuiz(api, io, options.args[0], options.yes);
        break;
      case "login":
      case "register":
        await account(api, io, command);
        break;
      case "logout":
      case "forget":
        await endSession(api, io, command);
        break;
    }
    if (options.showCookies) {
      if (command !== null) io.write("\n");
      await showCookies(jar, jarPath, io);
    }
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      printError(err.message);
      return err.code;
    }
    if (err instanceof JarError) {
      printError(err.message);
      return 1;
    }
    printError(err instanceof Error ? err.message : String(err));
    return 1;
  }
}

/**
 * `deno task` runs in the project's directory; a relative jar path (the default included) is meant
 * from where the user typed the command, which deno task passes as INIT_CWD.
 */
function fromInvocationDir(path: string): string {
  if (path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path)) return path;
  // Without it (or without --allow-env), the current directory it is.
  const dir = readEnv("INIT_CWD");
  return dir ? `${dir.replace(/[\\/]+$/, "")}/${path}` : path;
}

function printError(message: string) {
  // One line, but the whole message: cutting at the first newline left sentences half said.
  const line = message.trim().replace(/\s*\r?\n\s*/g, " ");
  try {
    writeAll(Deno.stderr, new TextEncoder().encode(`error: ${line}\n`));
  } catch {
    // stderr is gone: nothing more can be said.
  }
}

if (import.meta.main) {
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = event.reason;
    printError(reason instanceof Error ? reason.message : String(reason));
    Deno.exit(1);
  });
  Deno.exit(await main(Deno.args));
}
