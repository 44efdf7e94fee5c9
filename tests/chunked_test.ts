/**
 * Broken chunked framing against a real server process, written byte by byte on a raw socket:
 * the body stream errors inside the handler, and that must be a 400, never a 500.
 */
import assert from "node:assert/strict";
import { startServer } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Sends `head` + `body` on a fresh connection, half-closes it and returns all that came back. */
async function rawRequest(port: number, head: string, body: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode(head + "\r\n" + body));
    await conn.closeWrite();
    let out = "";
    const buf = new Uint8Array(16384);
    for (let n; (n = await conn.read(buf)) !== null;) {
      out += dec.decode(buf.subarray(0, n));
    }
    return out;
  } finally {
    conn.close();
  }
}

const bodies: [string, string][] = [
  [
    "a 5,000-byte chunk extension",
    `5;${"x".repeat(5000)}\r\n{"a":\r\n0\r\n\r\n`,
  ],
  // (A malformed chunk size, "zz", makes the server drop the connection before the app
  // runs: nothing the app can answer.)
  ["a body cut short inside a chunk", `40\r\n{"username":`],
  ["a missing last chunk", `2\r\n{}\r\n`],
];

const targets = [
  { path: "/api/register", type: "application/json" },
  { path: "/login", type: "application/x-www-form-urlencoded" },
];

Deno.test("a request body with broken chunked framing gets a 400, not a 500", async () => {
  const server = await startServer({
    KV_PATH: ":memory:",
    PBKDF2_ITERATIONS: "1000",
  });
  try {
    const port = Number(new URL(server.url).port);
    for (const { path, type } of targets) {
      for (const [label, body] of bodies) {
        const head = [
          `POST ${path} HTTP/1.1`,
          "Host: 127.0.0.1",
          `Content-Type: ${type}`,
          "Transfer-Encoding: chunked",
          "Connection: close",
          "",
        ].join("\r\n");
        const answer = await rawRequest(port, head, body);
        const status = answer.match(/^HTTP\/1\.1 (\d{3})/)?.[1];
        assert.equal(
          status,
          "400",
          `${path}, ${label}: ${answer.slice(0, 200)}`,
        );
        assert.match(answer, /request body/i, `${path}, ${label}`);
      }
    }
    assert.doesNotMatch(server.output(), / 5\d\d /);
  } finally {
    await server.stop();
  }
});
