/** Request bodies: size limits while streaming, content types, JSON, forms, UTF-8. */
import assert from "node:assert/strict";
import { readBytes, readForm, readJson } from "../lib/server/body.ts";
import { HttpError } from "../lib/base/http_error.ts";

const URL_ = "http://localhost/x";
const enc = new TextEncoder();

function post(
  body: BodyInit | null,
  headers: Record<string, string> = {},
): Request {
  return new Request(URL_, { method: "POST", body, headers });
}

/** A body of `total` bytes in `chunk`-byte pieces, counting how many pieces were pulled. */
function counted(total: number, chunk = 100) {
  const state = { pulled: 0 };
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      const n = Math.min(chunk, total - sent);
      controller.enqueue(new Uint8Array(n).fill(0x61));
      sent += n;
      state.pulled++;
    },
  });
  return { stream, state };
}

async function rejectsWith(promise: Promise<unknown>, status: number) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof HttpError, String(error));
    assert.equal(error.status, status, error.message);
    return true;
  });
}

Deno.test("readBytes() returns a body up to the limit exactly", async () => {
  assert.deepEqual(
    await readBytes(post(new Uint8Array(1024).fill(1)), 1024),
    new Uint8Array(1024).fill(1),
  );
  const { stream } = counted(1024, 7);
  assert.equal((await readBytes(post(stream), 1024)).length, 1024);
  assert.equal((await readBytes(new Request(URL_), 10)).length, 0);
});

Deno.test("readBytes() refuses a declared Content-Length over the limit before reading", async () => {
  const { stream, state } = counted(5000);
  await rejectsWith(
    readBytes(post(stream, { "content-length": "5000" }), 1024),
    413,
  );
  assert.ok(state.pulled <= 1, `pulled ${state.pulled} chunks`);
});

Deno.test("readBytes() refuses an undeclared body once it passes the limit, without reading the rest", async () => {
  const { stream, state } = counted(1_000_000);
  await rejectsWith(readBytes(post(stream), 1024), 413);
  assert.ok(state.pulled < 20, `pulled ${state.pulled} chunks`);
});

Deno.test("readBytes() still stops at the limit when the body is longer than its Content-Length claims", async () => {
  const { stream } = counted(5000);
  await rejectsWith(
    readBytes(post(stream, { "content-length": "10" }), 1024),
    413,
  );
});

Deno.test("readBytes() answers 400 when the body stream breaks part-way (bad chunked framing)", async () => {
  const broken = () => {
    let pulls = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(enc.encode('{"a":'));
        else controller.error(new Error("invalid HTTP/1 request: Invalid"));
      },
    });
  };
  await rejectsWith(readBytes(post(broken()), 1024), 400);
  await rejectsWith(
    readJson(post(broken(), { "content-type": "application/json" }), 1024),
    400,
  );
});

Deno.test("readBytes() answers 400 to a Content-Length that is not a number", async () => {
  for (const length of ["abc", "-1", "1e3", "0x10", ""]) {
    const req = post("x", { "content-length": length });
    if (req.headers.get("content-length") !== length) continue;
    await rejectsWith(readBytes(req, 1024), 400);
  }
});

Deno.test("readJson() accepts only application/json (415 otherwise)", async () => {
  for (
    const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonx",
      "application/json-patch+json",
    ]
  ) {
    await rejectsWith(
      readJson(post("{}", { "content-type": type }), 1024),
      415,
    );
  }
  await rejectsWith(readJson(post(enc.encode("{}")), 1024), 415);
  await rejectsWith(readJson(post(enc.encode("{}")), 1024, true), 415);
  for (
    const type of [
      "application/json",
      "application/json; charset=utf-8",
      "Application/JSON",
    ]
  ) {
    assert.deepEqual(
      await readJson(post('{"a":1}', { "content-type": type }), 1024),
      { a: 1 },
    );
  }
});

Deno.test("readJson() answers 400 to malformed JSON, non-objects and invalid UTF-8", async () => {
  const json = { "content-type": "application/json" };
  for (
    const body of [
      "{",
      "",
      "[]",
      "1",
      '"x"',
      "null",
      "{'a':1}",
      '{"a":1}x',
      new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
      new Uint8Array([0x7b, 0x7d, 0xe2, 0x82]),
      new Uint8Array([0xed, 0xa0, 0x80]), // an encoded surrogate
    ]
  ) {
    await rejectsWith(readJson(post(body, json), 1024), 400);
  }
});

Deno.test("readJson() allows an empty body only when asked, with or without a type", async () => {
  assert.deepEqual(await readJson(post(null), 1024, true), {});
  assert.deepEqual(
    await readJson(post(enc.encode("")), 1024, true),
    {},
  );
  assert.deepEqual(
    await readJson(
      post("  ", { "content-type": "application/json" }),
      1024,
      true,
    ),
    {},
  );
  await rejectsWith(readJson(post(null), 1024), 415);
});

Deno.test("readJson() does not let __proto__ pollute anything", async () => {
  const body = await readJson(
    post('{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}', {
      "content-type": "application/json",
    }),
    1024,
  );
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(body), Object.prototype);
  assert.ok(Object.hasOwn(body, "__proto__"));
});

Deno.test("readJson() keeps the size limit", async () => {
  await rejectsWith(
    readJson(
      post(`{"a":"${"x".repeat(2000)}"}`, {
        "content-type": "application/json",
      }),
      1024,
    ),
    413,
  );
});

const FORM = { "content-type": "application/x-www-form-urlencoded" };

Deno.test("readForm() decodes fields into a null-prototype record", async () => {
  const fields = await readForm(
    post(
      "a=1&b=hello+world&c=%C3%A9t%C3%A9&d&e=&__proto__=x&constructor=y&f=%2B%26%3D",
      FORM,
    ),
    1024,
  );
  assert.equal(Object.getPrototypeOf(fields), null);
  assert.deepEqual({ ...fields }, {
    a: "1",
    b: "hello world",
    c: "été",
    d: "",
    e: "",
    ["__proto__"]: "x",
    constructor: "y",
    f: "+&=",
  });
  const raw = await readForm(post(enc.encode("name=Zoë"), FORM), 1024);
  assert.equal(raw.name, "Zoë");
  const charset = await readForm(
    post("a=1", {
      "content-type": "application/x-www-form-urlencoded; charset=UTF-8",
    }),
    1024,
  );
  assert.equal(charset.a, "1");
});

Deno.test("readForm() answers 400 to repeated fields, bad escapes and invalid UTF-8", async () => {
  for (
    const body of [
      "a=1&a=2",
      "a=1&a",
      "a=%zz",
      "a=%",
      "a=%e",
      "a=%ff",
      "a=%C3",
      "%ff=1",
      new Uint8Array([0x61, 0x3d, 0xff]),
    ]
  ) {
    await rejectsWith(readForm(post(body, FORM), 1024), 400);
  }
});

Deno.test("readForm() accepts only urlencoded forms (415 otherwise) and keeps the size limit", async () => {
  for (
    const headers of [
      { "content-type": "application/json" },
      { "content-type": "multipart/form-data; boundary=x" },
      { "content-type": "text/plain" },
    ]
  ) {
    await rejectsWith(readForm(post("a=1", headers), 1024), 415);
  }
  await rejectsWith(readForm(post(enc.encode("a=1")), 1024), 415);
  await rejectsWith(
    readForm(post(`a=${"x".repeat(2000)}`, FORM), 1024),
    413,
  );
});
