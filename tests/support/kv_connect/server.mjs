// A KV Connect endpoint for tests: denokv's own SQLite engine and protobuf handling (the
// native module npm `@deno/kv` ships) behind the protocol of denokv's server (metadata
// exchange on `POST /`, data path under `/v2`, one bearer token), so the app meets the same
// limits, errors and semantics as on a self-hosted denokv. Cleartext HTTP/2 (prior
// knowledge), which is what Deno's client speaks to an `http://` URL: it refuses HTTP/1.1.
//
// Run with node: KV_CONNECT_PATH=<sqlite file> KV_CONNECT_TOKEN=<token> node server.mjs
// Listens on 127.0.0.1 (KV_CONNECT_PORT, default any free port) and prints one line
// `listening <port>`. Exits when its stdin closes, so it never outlives the test that
// started it.
import { createRequire } from "node:module";
import { constants, createServer } from "node:http2";
import { timingSafeEqual } from "node:crypto";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
// The package exports only its client; its native binding's loader sits next to it.
const napi = require(
  join(dirname(require.resolve("@deno/kv")), "_napi_index.cjs"),
);

const path = process.env.KV_CONNECT_PATH;
const token = process.env.KV_CONNECT_TOKEN ?? "";
if (!path || token.length < 12) {
  // denokv refuses to start with a token shorter than 12 characters.
  console.error(
    "kv_connect: set KV_CONNECT_PATH and a KV_CONNECT_TOKEN of 12+ chars",
  );
  process.exit(2);
}
const db = napi.open(path, false, false);
const DATABASE_ID = "00000000-0000-0000-0000-000000000000";
// axum's default body limit, which denokv's server keeps.
const MAX_BODY = 2 * 1024 * 1024;

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// denokv's messages for the limits and conversions its proto layer refuses (all 400).
const CONVERT_ERRORS = {
  KeyTooLong: "A key exceeds the key size limit.",
  ValueTooLong: "A value exceeds the value size limit.",
  ReadRangeTooLarge:
    "The total number of entries requested across read ranges in the read request is too large.",
  AtomicWriteTooLarge: "The total size of the atomic write is too large.",
  TooManyReadRanges: "Too many read ranges requested in one read request.",
  TooManyWatchedKeys: "Too many keys watched in a single watch request.",
  TooManyChecks: "Too many checks included in atomic write.",
  TooManyMutations: "Too many mutations / enqueues included in atomic write.",
  TooManyQueueUndeliveredKeys:
    "Too many dead letter keys for a single queue message.",
  TooManyQueueBackoffIntervals:
    "Too many backoff intervals for a single queue message.",
  QueueBackoffIntervalTooLarge:
    "A backoff interval exceeds the maximum allowed backoff interval.",
  InvalidReadRangeLimit:
    "The read range limit of the snapshot read request is invalid.",
  InvalidVersionstamp: "Invalid versionstamp.",
  InvalidMutationKind: "Invalid mutation kind or arguments.",
  InvalidMutationExpireAt: "Invalid mutation expire at.",
  InvalidMutationEnqueueDeadline: "Invalid mutation enqueue deadline.",
};

// Backend errors denokv answers with a 4xx (the client gives up) rather than a 5xx (the
// client retries forever): type mismatches of sum/min/max, unknown encodings, read-only.
const CLIENT_ERRORS = [
  /^Failed to perform '/,
  /^Some of the parameters are not valid V8 values/,
  /^Min\/max parameters have different types/,
  /^Invalid sum operand/,
  /^Cannot use min\/max parameters/,
  /^Cannot sum /,
  /^The result of a Sum operation would exceed its range limit/,
  /^The value encoding -?\d+ is unknown\./,
  /^Can not write to a read-only database\./,
];

/** The HTTP answer denokv's server gives for an error of the engine. */
function engineError(error) {
  const line = String(error?.message ?? error).split("\n")[0].trim();
  if (line in CONVERT_ERRORS) return new ApiError(400, CONVERT_ERRORS[line]);
  if (line.startsWith("failed to decode Protobuf message")) {
    return new ApiError(400, `Request protobuf is invalid: ${line}.`);
  }
  if (line === "Database is closed.") {
    return new ApiError(
      503,
      "The server is temporarially unavailable, try again later.",
    );
  }
  if (CLIENT_ERRORS.some((re) => re.test(line))) return new ApiError(400, line);
  console.error(`kv_connect: engine error: ${line}`);
  return new ApiError(500, "An internal server error occurred.");
}

function tokenMatches(header) {
  const [scheme, given, ...rest] = String(header ?? "").split(" ");
  if (given === undefined || rest.length) {
    throw new ApiError(401, "Malformed authorization header.");
  }
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (
    scheme.toLowerCase() !== "bearer" || a.length !== b.length ||
    !timingSafeEqual(a, b)
  ) {
    throw new ApiError(401, "Invalid access token.");
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new ApiError(413, "Request body too large."));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

async function metadata(req) {
  let body;
  try {
    body = JSON.parse((await readBody(req)).toString("utf8"));
  } catch {
    throw new ApiError(
      400,
      "The server requires at least protocol version 2. Use Deno 1.38.0 or newer.",
    );
  }
  const versions = Array.isArray(body?.supportedVersions)
    ? body.supportedVersions
    : [];
  const version = versions.includes(3) ? 3 : versions.includes(2) ? 2 : 0;
  if (!version) {
    throw new ApiError(
      400,
      "The server could not negotiate a protocol version. The server requires protocol version 2 or 3.",
    );
  }
  tokenMatches(req.headers.authorization);
  return {
    version,
    databaseId: DATABASE_ID,
    endpoints: [{ url: "/v2", consistency: "strong" }],
    token,
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
  };
}

function checkDataPath(req) {
  const version = req.headers["x-denokv-version"];
  if (version !== "2" && version !== "3") {
    throw new ApiError(400, "Expected protocol version 2.");
  }
  tokenMatches(req.headers.authorization);
  if (req.headers["x-denokv-database-id"] !== DATABASE_ID) {
    throw new ApiError(400, "Invalid database id.");
  }
}

/** Streams watch outputs, each prefixed with its length, and a ping every 5 s. */
async function watch(res, body) {
  let id;
  try {
    id = await napi.startWatch(db, body, false);
  } catch (error) {
    throw engineError(error);
  }
  res.writeHead(200, { "content-type": "application/octet-stream" });
  const frame = (bytes) => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32LE(bytes.length);
    res.write(Buffer.concat([prefix, bytes]));
  };
  const ping = setInterval(() => frame(Buffer.alloc(0)), 5000);
  let open = true;
  res.on("close", () => {
    open = false;
    clearInterval(ping);
    napi.endWatch(db, id, false);
  });
  while (open) {
    let next;
    try {
      next = await napi.dequeueNextWatchMessage(db, id, false);
    } catch {
      next = undefined;
    }
    if (next === undefined || !open) break;
    frame(next);
  }
  res.end();
}

const DATA_PATH = {
  "/v2/snapshot_read": (bytes) => napi.snapshotRead(db, bytes, false),
  "/v2/atomic_write": (bytes) => napi.atomicWrite(db, bytes, false),
};

async function route(req, res) {
  if (req.method === "POST" && req.url === "/") {
    const meta = await metadata(req);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(meta));
    return;
  }
  const call = DATA_PATH[req.url];
  if (req.method !== "POST" || (!call && req.url !== "/v2/watch")) {
    throw new ApiError(404, "Resource not found.");
  }
  checkDataPath(req);
  const body = await readBody(req);
  if (!call) return await watch(res, body);
  let out;
  try {
    out = await call(body);
  } catch (error) {
    throw engineError(error);
  }
  res.writeHead(200, { "content-type": "application/x-protobuf" });
  res.end(out);
}

const server = createServer((req, res) => {
  route(req, res).catch((error) => {
    const status = error instanceof ApiError ? error.status : 500;
    if (!(error instanceof ApiError)) {
      console.error(`kv_connect: ${error?.stack ?? error}`);
    }
    if (res.headersSent) {
      return void res.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    }
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
    res.end(
      error instanceof ApiError
        ? error.message
        : "An internal server error occurred.",
    );
  });
});
// Open sessions, closed on shutdown so the process can end at once.
const sessions = new Set();
server.on("session", (session) => {
  sessions.add(session);
  session.on("close", () => sessions.delete(session));
});
// The client keeps one connection for all its calls: never time it out.
server.setTimeout(0);

function shutdown() {
  server.close();
  for (const session of sessions) session.destroy();
  napi.close(db, false);
  process.exit(0);
}
process.stdin.on("end", shutdown);
process.stdin.on("close", shutdown);
process.stdin.resume();
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

server.listen(Number(process.env.KV_CONNECT_PORT ?? 0), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
