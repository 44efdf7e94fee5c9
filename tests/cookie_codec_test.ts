import assert from "node:assert/strict";
import {
  type CookieCodec,
  CookieTooLargeError,
  createCookieCodec,
  DEFAULT_MAX_VALUE_BYTES,
  SEALED_KEPT,
} from "../lib/sessions/cookie_codec.ts";

const PRIMARY = "primary-secret-0123456789abcdefghijklmnop";
const OLD = "old-secret-abcdefghijklmnopqrstuvwxyz0123456789";
const CONTEXT = "__Host-sessionId";
const NOW = 1_700_000_000_000;
const LATER = NOW + 60_000;
const B64URL =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function codec(
  secrets: string[] = [PRIMARY],
  context = CONTEXT,
  maxValueBytes?: number,
): Promise<CookieCodec> {
  return createCookieCodec({ secrets, context, maxValueBytes });
}

function b64urlDecode(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function b64urlEncode(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Seals an arbitrary plaintext exactly as the documented format says, written
 * independently of the module. It pins the format (changing salt, info or AAD
 * would log out every cookie in circulation) and lets tests hand the codec
 * authentic values whose content is wrong.
 */
async function sealRaw(
  secret: string,
  context: string,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<string> {
  const enc = new TextEncoder();
  const ikm = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    "HKDF",
    false,
    [
      "deriveKey",
      "deriveBits",
    ],
  );
  const salt = enc.encode("mcq-edge session cookie salt 2024");
  const key = await crypto.subtle.deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt,
      info: enc.encode("mcq-edge cookie v1"),
    },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt"],
  );
  const kid = b64urlEncode(
    new Uint8Array(
      await crypto.subtle.deriveBits(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt,
          info: enc.encode("mcq-edge cookie kid v1"),
        },
        ikm,
        48,
      ),
    ),
  );
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const additionalData = enc.encode(JSON.stringify(["v1", kid, context]));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData },
      key,
      plaintext,
    ),
  );
  return `v1.${kid}.${b64urlEncode(iv)}.${b64urlEncode(sealed)}`;
}

/** Counts crypto.subtle.decrypt calls made while `fn` runs. */
async function countDecrypts(fn: () => Promise<void>): Promise<number> {
  const subtle = crypto.subtle as unknown as Record<string, unknown>;
  const original = crypto.subtle.decrypt;
  let calls = 0;
  subtle.decrypt = (...args: Parameters<SubtleCrypto["decrypt"]>) => {
    calls++;
    return original.apply(crypto.subtle, args);
  };
  try {
    await fn();
  } finally {
    delete subtle.decrypt; // the prototype's method shows through again
  }
  return calls;
}

Deno.test("a sealed payload opens to the same payload, not stale", async () => {
  const c = await codec();
  const payload = {
    user: "ana",
    visits: 3,
    answers: { q1: [0, 2] },
    note: "ünïcödé ✓",
  };
  const value = await c.seal(payload, LATER);
  assert.deepEqual(await c.open(value, NOW), { payload, stale: false });
});

Deno.test("primitive and null payloads round trip too", async () => {
  const c = await codec();
  for (const payload of [null, 0, "", "text", false, [], [1, "two"]]) {
    const opened = await c.open(await c.seal(payload, LATER), NOW);
    assert.deepEqual(opened, { payload, stale: false });
  }
});

Deno.test("a payload JSON cannot represent is refused at sealing", async () => {
  const c = await codec();
  await assert.rejects(c.seal(undefined, LATER), TypeError);
  await assert.rejects(c.seal(() => 1, LATER), TypeError);
  await assert.rejects(c.seal({}, Number.NaN), TypeError);
  await assert.rejects(c.seal({}, Infinity), TypeError);
});

Deno.test("the value uses only cookie-safe characters in the documented v1 format", async () => {
  const c = await codec();
  const value = await c.seal({ s: '; = , " \\ \n' }, LATER);
  assert.match(
    value,
    /^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/,
  );
  assert.equal(b64urlDecode(value.split(".")[2]).length, 12);
});

Deno.test("a value sealed by an independent implementation of the format opens", async () => {
  // Guards against an accidental change of salt, info strings or AAD, which
  // would silently end every session after a deploy.
  const c = await codec();
  const plaintext = new TextEncoder().encode(
    JSON.stringify({ p: { a: 1 }, e: LATER }),
  );
  const value = await sealRaw(PRIMARY, CONTEXT, plaintext);
  assert.equal(value.split(".")[1], (await c.seal(1, LATER)).split(".")[1]);
  assert.deepEqual(await c.open(value, NOW), {
    payload: { a: 1 },
    stale: false,
  });
});

Deno.test("changing any single character of the value to any other base64url character gives null", async () => {
  const c = await codec();
  // Both remainders of ciphertext length mod 3 leave spare bits in the last
  // character; a lenient decoder would accept a changed last character there.
  const remainders = new Set<number>();
  for (let n = 0; remainders.size < 3; n++) {
    const payload = "x".repeat(n);
    const value = await c.seal(payload, LATER);
    const ctLength = b64urlDecode(value.split(".")[3]).length;
    if (remainders.has(ctLength % 3)) continue;
    remainders.add(ctLength % 3);
    assert.deepEqual(await c.open(value, NOW), { payload, stale: false });
    for (let i = 0; i < value.length; i++) {
      for (const ch of B64URL) {
        if (ch === value[i]) continue;
        const tampered = value.slice(0, i) + ch + value.slice(i + 1);
        assert.equal(
          await c.open(tampered, NOW),
          null,
          `position ${i} changed from ${value[i]} to ${ch} still opened`,
        );
      }
    }
  }
});

Deno.test("every truncation of the value, and anything appended, gives null", async () => {
  const c = await codec();
  const value = await c.seal({ user: "ana" }, LATER);
  for (let n = 0; n < value.length; n++) {
    assert.equal(
      await c.open(value.slice(0, n), NOW),
      null,
      `prefix of length ${n} opened`,
    );
    assert.equal(
      await c.open(value.slice(n + 1), NOW),
      null,
      `suffix from ${n + 1} opened`,
    );
  }
  for (const extra of ["A", "=", "==", ".", ".AAAA", " ", "\n"]) {
    assert.equal(
      await c.open(value + extra, NOW),
      null,
      `value + ${JSON.stringify(extra)}`,
    );
  }
});

Deno.test("re-ordering the four parts in any way gives null", async () => {
  const c = await codec();
  const value = await c.seal({ user: "ana" }, LATER);
  const parts = value.split(".");
  const permutations = (xs: number[]): number[][] =>
    xs.length <= 1
      ? [xs]
      : xs.flatMap((x, i) =>
        permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((
          p,
        ) => [x, ...p])
      );
  let tried = 0;
  for (const order of permutations([0, 1, 2, 3])) {
    const reordered = order.map((i) => parts[i]).join(".");
    if (reordered === value) continue;
    tried++;
    assert.equal(await c.open(reordered, NOW), null, `order ${order} opened`);
  }
  assert.equal(tried, 23);
});

Deno.test("the iv and ciphertext of two valid values cannot be mixed", async () => {
  const c = await codec();
  const a = (await c.seal({ user: "ana" }, LATER)).split(".");
  const b = (await c.seal({ user: "bob" }, LATER)).split(".");
  assert.equal(await c.open([a[0], a[1], b[2], a[3]].join("."), NOW), null);
  assert.equal(await c.open([a[0], a[1], a[2], b[3]].join("."), NOW), null);
});

Deno.test("a value sealed for one cookie name does not open under another", async () => {
  const a = await codec([PRIMARY], "sessionId");
  const b = await codec([PRIMARY], "__Host-sessionId");
  const value = await a.seal({ user: "ana" }, LATER);
  assert.equal(await b.open(value, NOW), null);
  assert.notEqual(await a.open(value, NOW), null);
});

Deno.test("context is bound unambiguously, even when it contains dots or quotes", async () => {
  const a = await codec([PRIMARY], 'a.b"');
  const b = await codec([PRIMARY], "a.b");
  assert.equal(await b.open(await a.seal(1, LATER), NOW), null);
});

Deno.test("a value opens until just before its expiry and never from its expiry on", async () => {
  const c = await codec();
  const value = await c.seal({ user: "ana" }, LATER);
  assert.deepEqual(await c.open(value, LATER - 1), {
    payload: { user: "ana" },
    stale: false,
  });
  assert.deepEqual(await c.open(value, NOW), {
    payload: { user: "ana" },
    stale: false,
  });
  assert.equal(await c.open(value, LATER), null);
  assert.equal(await c.open(value, LATER + 1), null);
  assert.equal(await c.open(value, LATER + 365 * 86_400_000), null);
});

Deno.test("a NaN clock never lets a value open, so a bug cannot disable expiry", async () => {
  const c = await codec();
  const value = await c.seal(1, LATER);
  assert.equal(await c.open(value, Number.NaN), null);
  assert.equal(await c.open(value, "0" as unknown as number), null);
});

Deno.test("after rotation an old value opens as stale and a new value opens as not stale", async () => {
  const before = await codec([OLD]);
  const after = await codec([PRIMARY, OLD]);
  const oldValue = await before.seal({ user: "ana" }, LATER);
  assert.deepEqual(await after.open(oldValue, NOW), {
    payload: { user: "ana" },
    stale: true,
  });
  const newValue = await after.seal({ user: "ana" }, LATER);
  assert.equal(
    newValue.split(".")[1],
    (await (await codec([PRIMARY])).seal(1, LATER)).split(".")[1],
  );
  assert.deepEqual(await after.open(newValue, NOW), {
    payload: { user: "ana" },
    stale: false,
  });
  // The new primary's values also open on instances not yet redeployed, as
  // long as they already list the new secret second.
  const lagging = await codec([OLD, PRIMARY]);
  assert.deepEqual(await lagging.open(newValue, NOW), {
    payload: { user: "ana" },
    stale: true,
  });
});

Deno.test("a value sealed under a removed secret no longer opens", async () => {
  const rotating = await codec([PRIMARY, OLD]);
  const oldValue = await (await codec([OLD])).seal({ user: "ana" }, LATER);
  assert.notEqual(await rotating.open(oldValue, NOW), null);
  const retired = await codec([PRIMARY]);
  assert.equal(await retired.open(oldValue, NOW), null);
});

Deno.test("a value sealed under an unknown secret gives null without trying any key", async () => {
  const c = await codec([PRIMARY]);
  const foreign = await (await codec(["x".repeat(40)])).seal(1, LATER);
  const calls = await countDecrypts(async () => {
    assert.equal(await c.open(foreign, NOW), null);
  });
  assert.equal(calls, 0);
});

Deno.test("a value with a known kid but sealed under another key gives null", async () => {
  const c = await codec([PRIMARY]);
  const foreign = (await (await codec(["y".repeat(40)])).seal(1, LATER)).split(
    ".",
  );
  const ours = (await c.seal(1, LATER)).split(".");
  assert.equal(
    await c.open([ours[0], ours[1], foreign[2], foreign[3]].join("."), NOW),
    null,
  );
});

Deno.test("the key id is stable, differs per secret, and does not reveal the secret", async () => {
  const kidOf = async (secret: string) =>
    (await (await codec([secret])).seal(1, LATER)).split(".")[1];
  const kid = await kidOf(PRIMARY);
  assert.equal(
    await kidOf(PRIMARY),
    kid,
    "every instance must agree on the kid",
  );
  assert.notEqual(await kidOf(OLD), kid);
  assert.match(kid, /^[A-Za-z0-9_-]{8}$/);
  const secretB64 = b64urlEncode(new TextEncoder().encode(PRIMARY));
  for (let i = 0; i + 4 <= kid.length; i++) {
    const piece = kid.slice(i, i + 4);
    assert.ok(
      !PRIMARY.includes(piece),
      `kid piece ${piece} appears in the secret`,
    );
    assert.ok(
      !secretB64.includes(piece),
      `kid piece ${piece} appears in the secret's base64`,
    );
  }
  // A secret that shares a long prefix with another still gets an unrelated kid.
  assert.notEqual(await kidOf(PRIMARY + "!"), kid);
});

Deno.test("the sealed value never contains the secret or the payload in clear", async () => {
  const c = await codec();
  const value = await c.seal({ password: "hunter2-very-visible" }, LATER);
  for (
    const leak of [
      PRIMARY,
      b64urlEncode(new TextEncoder().encode(PRIMARY)),
      "hunter2",
    ]
  ) {
    assert.ok(!value.includes(leak));
  }
  assert.ok(
    !value.includes(b64urlEncode(new TextEncoder().encode('{"p":{"password"'))),
  );
});

Deno.test("sealing the same payload twice gives different values (random iv)", async () => {
  const c = await codec();
  const values = new Set<string>();
  const ivs = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const value = await c.seal({ user: "ana" }, LATER);
    values.add(value);
    ivs.add(value.split(".")[2]);
  }
  assert.equal(values.size, 50);
  assert.equal(ivs.size, 50);
});

Deno.test("sealing a payload over the size limit throws CookieTooLargeError with a clear message", async () => {
  const c = await codec();
  await assert.rejects(
    c.seal({ big: "x".repeat(DEFAULT_MAX_VALUE_BYTES) }, LATER),
    (e: unknown) => {
      assert.ok(e instanceof CookieTooLargeError);
      assert.ok(e instanceof Error);
      assert.equal(e.name, "CookieTooLargeError");
      assert.equal(e.limit, DEFAULT_MAX_VALUE_BYTES);
      assert.ok(e.size > DEFAULT_MAX_VALUE_BYTES);
      assert.match(
        e.message,
        new RegExp(`${e.size} bytes.*${DEFAULT_MAX_VALUE_BYTES}-byte limit`),
      );
      assert.match(e.message, /4096/);
      return true;
    },
  );
});

Deno.test("the size limit is exact: a value of exactly maxValueBytes is allowed, one byte more is not", async () => {
  const big = await codec();
  const payload = { s: "y".repeat(500) };
  const length = (await big.seal(payload, LATER)).length;
  const exact = await codec([PRIMARY], CONTEXT, length);
  const value = await exact.seal(payload, LATER);
  assert.equal(value.length, length);
  assert.deepEqual(await exact.open(value, NOW), { payload, stale: false });
  const tight = await codec([PRIMARY], CONTEXT, length - 1);
  await assert.rejects(tight.seal(payload, LATER), CookieTooLargeError);
});

Deno.test("the largest value the default limit allows still fits a browser cookie with its name", async () => {
  const c = await codec();
  let n = 2_500; // well below the limit, to keep the search short
  let value = "";
  for (;;) {
    try {
      value = await c.seal("z".repeat(n), LATER);
      n++;
    } catch (e) {
      assert.ok(e instanceof CookieTooLargeError);
      break;
    }
  }
  assert.ok(value.length <= DEFAULT_MAX_VALUE_BYTES);
  assert.ok(
    value.length > DEFAULT_MAX_VALUE_BYTES - 4,
    "the limit should be usable almost fully",
  );
  assert.ok(`${CONTEXT}=${value}`.length <= 4096);
  assert.notEqual(await c.open(value, NOW), null);
});

Deno.test("a limit that would push name plus value past 4096 bytes is refused at creation", async () => {
  await assert.rejects(codec([PRIMARY], CONTEXT, 4096), RangeError);
  await assert.rejects(codec([PRIMARY], CONTEXT, 0), RangeError);
  await assert.rejects(codec([PRIMARY], CONTEXT, 1.5), RangeError);
  await codec([PRIMARY], CONTEXT, 4096 - CONTEXT.length - 1);
});

Deno.test("an input over twice the limit gives null before any decryption", async () => {
  const c = await codec([PRIMARY], CONTEXT, 1000);
  const valid = await c.seal(1, LATER);
  const padded = valid.slice(0, -2) + "A".repeat(2001 - valid.length) +
    valid.slice(-2);
  assert.equal(padded.length, 2001);
  const calls = await countDecrypts(async () => {
    assert.equal(await c.open(padded, NOW), null);
    assert.equal(await c.open("v1." + "A".repeat(10_000_000), NOW), null);
  });
  assert.equal(calls, 0);
});

Deno.test("a value sealed under a larger limit still opens after the limit is lowered", async () => {
  const roomy = await codec([PRIMARY], CONTEXT, 3000);
  const payload = "p".repeat(2000);
  const value = await roomy.seal(payload, LATER);
  const lowered = await codec([PRIMARY], CONTEXT, 2000);
  assert.deepEqual(await lowered.open(value, NOW), { payload, stale: false });
});

Deno.test("a secret shorter than 32 bytes is refused, and the error does not show it", async () => {
  const short = "s".repeat(31);
  await assert.rejects(codec([short]), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, /31 bytes/);
    assert.match(e.message, /32/);
    assert.ok(!e.message.includes(short));
    return true;
  });
  await assert.rejects(codec([PRIMARY, short]), /entry 2/);
  // Bytes, not characters: 16 two-byte characters are 32 bytes.
  await codec(["é".repeat(16)]);
  await assert.rejects(codec(["é".repeat(15)]), /30 bytes/);
});

Deno.test("no secrets, or an empty context, are refused at creation", async () => {
  await assert.rejects(codec([]), /at least one SESSION_SECRET/);
  await assert.rejects(codec([PRIMARY], ""), /context/);
  await assert.rejects(
    createCookieCodec({ secrets: [42 as unknown as string], context: CONTEXT }),
    TypeError,
  );
});

Deno.test("garbage, empty, huge and non-string inputs give null without throwing", async () => {
  const c = await codec();
  const inputs: unknown[] = [
    "",
    ".",
    "...",
    "....",
    "v1",
    "v1...",
    "v1.AAAAAAAA..",
    "v1.AAAAAAAA.AAAAAAAAAAAAAAAA.",
    "v2.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAA",
    "deleted",
    "%7B%22p%22%3A1%7D",
    '{"p":1,"e":99999999999999}',
    "v1.__proto__.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAA",
    "v1.constructor.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAA",
    "\u0000\uffff\ud800",
    "x".repeat(3_000),
    "A".repeat(20_000_000),
    undefined,
    null,
    42,
    {},
    ["v1"],
  ];
  for (let i = 0; i < 200; i++) {
    const bytes = crypto.getRandomValues(new Uint8Array(1 + (i * 7) % 300));
    inputs.push(String.fromCharCode(...bytes));
    inputs.push(b64urlEncode(bytes));
  }
  for (const input of inputs) {
    assert.equal(await c.open(input as string, NOW), null);
  }
});

Deno.test("a value keeping the real kid but made of random bytes gives null", async () => {
  const c = await codec();
  const kid = (await c.seal(1, LATER)).split(".")[1];
  for (let n = 0; n < 64; n++) {
    const iv = b64urlEncode(crypto.getRandomValues(new Uint8Array(12)));
    const ct = b64urlEncode(crypto.getRandomValues(new Uint8Array(n)));
    assert.equal(await c.open(`v1.${kid}.${iv}.${ct}`, NOW), null);
  }
});

Deno.test("an authentic value whose plaintext is not the expected JSON gives null", async () => {
  const c = await codec();
  const enc = new TextEncoder();
  const plaintexts: Uint8Array<ArrayBuffer>[] = [
    enc.encode("not json"),
    enc.encode(""),
    enc.encode('{"p":1'),
    enc.encode("null"),
    enc.encode("[1,2]"),
    enc.encode('"text"'),
    enc.encode(`{"e":${LATER}}`), // no payload
    enc.encode('{"p":1}'), // no expiry: must not mean "never expires"
    enc.encode('{"p":1,"e":"99999999999999"}'),
    enc.encode('{"p":1,"e":null}'),
    enc.encode('{"p":1,"e":1e999}'),
    new Uint8Array([
      0x7b,
      0x22,
      0x70,
      0x22,
      0x3a,
      0x22,
      0xff,
      0xfe,
      0x22,
      0x7d,
    ]), // invalid UTF-8
  ];
  for (const plaintext of plaintexts) {
    const value = await sealRaw(PRIMARY, CONTEXT, plaintext);
    assert.equal(
      await c.open(value, NOW),
      null,
      new TextDecoder().decode(plaintext),
    );
  }
  // The same path with a well-formed plaintext does open, so the nulls above
  // come from the content checks and not from a broken helper.
  const good = await sealRaw(
    PRIMARY,
    CONTEXT,
    enc.encode(`{"p":"ok","e":${LATER}}`),
  );
  assert.deepEqual(await c.open(good, NOW), { payload: "ok", stale: false });
});

Deno.test("a value this codec sealed opens without decryption; another instance decrypts it", async () => {
  const c = await codec();
  const value = await c.seal({ user: "ana", visits: 2 }, LATER);
  let opened = null as Awaited<ReturnType<CookieCodec["open"]>>;
  assert.equal(
    await countDecrypts(async () => void (opened = await c.open(value, NOW))),
    0,
  );
  assert.deepEqual(opened, {
    payload: { user: "ana", visits: 2 },
    stale: false,
  });
  // Each open gives a payload of its own: changing one changes no later one.
  (opened!.payload as { visits: number }).visits = 99;
  assert.deepEqual((await c.open(value, NOW))?.payload, {
    user: "ana",
    visits: 2,
  });
  const other = await codec();
  assert.equal(
    await countDecrypts(async () => {
      assert.deepEqual((await other.open(value, NOW))?.payload, {
        user: "ana",
        visits: 2,
      });
    }),
    1,
  );
  // What is remembered still expires, and belongs to its cookie name only.
  assert.equal(await c.open(value, LATER), null);
  assert.equal(await (await codec([PRIMARY], "other")).open(value, NOW), null);
});

Deno.test("sealed values are remembered up to a bound; older ones open by decryption", async () => {
  const c = await codec();
  const first = await c.seal({ n: 0 }, LATER);
  for (let i = 1; i <= SEALED_KEPT; i++) await c.seal({ n: i }, LATER);
  const last = await c.seal({ n: "last" }, LATER);
  assert.equal(
    await countDecrypts(async () => {
      assert.deepEqual((await c.open(first, NOW))?.payload, { n: 0 });
    }),
    1,
    "the oldest was forgotten",
  );
  assert.equal(
    await countDecrypts(async () => {
      assert.deepEqual((await c.open(last, NOW))?.payload, { n: "last" });
    }),
    0,
  );
});
