import { HttpError } from "../base/http_error.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * One read of the body stream. The server rejects it on broken framing (a malformed or
 * oversized chunk header, a body cut short): that is the client's fault, so a 400, not a 500.
 */
async function readChunk(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  try {
    return await reader.read();
  } catch {
    throw new HttpError(400, "Malformed or incomplete request body");
  }
}

/**
 * Bodies already read, by request: a request whose commit finds its reads changed runs
 * again (lib/server/app.ts), and its body can be read only once.
 */
const bodies = new WeakMap<Request, Promise<Uint8Array>>();

/**
 * Reads the whole body, refusing (413) past `limit` bytes while streaming, with or without
 * Content-Length. Reading it again (a request that runs again) gives the same bytes.
 */
export function readBytes(req: Request, limit: number): Promise<Uint8Array> {
  let body = bodies.get(req);
  if (body === undefined) {
    body = readOnce(req, limit);
    bodies.set(req, body);
  }
  return body;
}

async function readOnce(req: Request, limit: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (
    declared !== null && (!/^\d+$/.test(declared) || Number(declared) > limit)
  ) {
    throw new HttpError(
      /^\d+$/.test(declared) ? 413 : 400,
      `Request body is limited to ${limit} bytes`,
    );
  }
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  try {
    for (;;) {
      const { done, value } = await readChunk(reader);
      if (done) break;
      size += value.length;
      if (size > limit) {
        throw new HttpError(413, `Request body is limited to ${limit} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

function decode(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new HttpError(400, "Request body is not valid UTF-8");
  }
}

function mediaType(req: Request): string {
  return (req.headers.get("content-type") ?? "").split(";")[0].trim()
    .toLowerCase();
}

/**
 * Reads a JSON object body. 415 unless `Content-Type: application/json`; 400 for invalid
 * UTF-8, malformed JSON or a non-object. An empty body is `{}` when `allowEmpty`.
 */
export async function readJson(
  req: Request,
  limit: number,
  allowEmpty = false,
): Promise<Record<string, unknown>> {
  const type = mediaType(req);
  // An empty body needs no type (`curl -X POST` sends none); anything else must say JSON.
  if (type !== "application/json" && !(allowEmpty && type === "")) {
    throw new HttpError(415, "Send the body as Content-Type: application/json");
  }
  const text = decode(await readBytes(req, limit));
  if (text.trim() === "" && allowEmpty) return {};
  if (type !== "application/json") {
    throw new HttpError(415, "Send the body as Content-Type: application/json");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, "Request body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "Request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

function percentDecode(text: string): string {
  const plus = text.replaceAll("+", " ");
  if (!plus.includes("%")) return plus;
  const bytes: number[] = [];
  for (let i = 0; i < plus.length; i++) {
    const c = plus.charCodeAt(i);
    if (c === 0x25) {
      const hex = plus.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new HttpError(400, "Malformed form field encoding");
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      const char = String.fromCodePoint(plus.codePointAt(i)!);
      bytes.push(...new TextEncoder().encode(char));
      i += char.length - 1;
    }
  }
  return decode(new Uint8Array(bytes));
}

/**
 * Reads an `application/x-www-form-urlencoded` body into a null-prototype record.
 * 415 for another type, 400 for invalid UTF-8 (also inside %-escapes) or a repeated field.
 */
export async function readForm(
  req: Request,
  limit: number,
): Promise<Record<string, string>> {
  if (mediaType(req) !== "application/x-www-form-urlencoded") {
    throw new HttpError(
      415,
      "Send the form as application/x-www-form-urlencoded",
    );
  }
  const text = decode(await readBytes(req, limit));
  const fields: Record<string, string> = Object.create(null);
  for (const pair of text.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = percentDecode(eq < 0 ? pair : pair.slice(0, eq));
    const value = percentDecode(eq < 0 ? "" : pair.slice(eq + 1));
    if (name in fields) {
      throw new HttpError(400, `Form field "${name.slice(0, 40)}" is repeated`);
    }
    fields[name] = value;
  }
  return fields;
}
