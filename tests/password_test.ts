import assert from "node:assert/strict";
import { pbkdf2Sync } from "node:crypto";
import {
  createDummyHash,
  DEFAULT_PBKDF2_ITERATIONS,
  hashPassword,
  needsRehash,
  normalizeUsername,
  validatePassword,
  validateUsername,
  verifyPassword,
} from "../lib/accounts/password.ts";

// Low on purpose: tests need speed, not strength.
const FAST = 1000;

function decode(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function encode(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

Deno.test("hashPassword() writes pbkdf2-sha256$iterations$salt$hash with a 16-byte salt and a 32-byte hash", async () => {
  const stored = await hashPassword("correct horse", FAST);
  const [scheme, iterations, salt, hash, ...rest] = stored.split("$");
  assert.equal(scheme, "pbkdf2-sha256");
  assert.equal(iterations, "1000");
  assert.equal(decode(salt).length, 16);
  assert.equal(decode(hash).length, 32);
  assert.deepEqual(rest, []);
});

Deno.test("hashPassword() computes PBKDF2-HMAC-SHA-256 at the requested iteration count", async () => {
  const stored = await hashPassword("correct horse", FAST);
  const [, , salt, hash] = stored.split("$");
  // An independent implementation (node:crypto) must agree byte for byte.
  const expected = pbkdf2Sync(
    "correct horse",
    decode(salt),
    FAST,
    32,
    "sha256",
  );
  assert.equal(hash, encode(new Uint8Array(expected)));
});

Deno.test("the default cost stays at 600,000 iterations and hashes at that cost", async () => {
  assert.equal(DEFAULT_PBKDF2_ITERATIONS, 600_000);
  const stored = await hashPassword("correct horse");
  assert.match(stored, /^pbkdf2-sha256\$600000\$/);
  assert.equal(await verifyPassword("correct horse", stored), true);
});

Deno.test("verifyPassword() accepts the right password", async () => {
  const stored = await hashPassword("correct horse", FAST);
  assert.equal(await verifyPassword("correct horse", stored), true);
});

Deno.test("verifyPassword() uses the iteration count stored in the hash", async () => {
  const stored = await hashPassword("correct horse", 1234);
  assert.equal(await verifyPassword("correct horse", stored), true);
  const [scheme, , salt, hash] = stored.split("$");
  const other = [scheme, "1235", salt, hash].join("$");
  assert.equal(await verifyPassword("correct horse", other), false);
});

Deno.test("verifyPassword() rejects a wrong password", async () => {
  const stored = await hashPassword("correct horse", FAST);
  assert.equal(await verifyPassword("correct hors", stored), false);
  assert.equal(await verifyPassword("Correct horse", stored), false);
  assert.equal(await verifyPassword("correct horse ", stored), false);
  assert.equal(await verifyPassword("", stored), false);
});

Deno.test("verifyPassword() returns false for tampered or malformed stored strings without throwing", async () => {
  const stored = await hashPassword("correct horse", FAST);
  const [scheme, iterations, salt, hash] = stored.split("$");
  const flipped = decode(hash);
  flipped[0] ^= 1;
  const otherSalt = decode(salt);
  otherSalt[15] ^= 1;
  const cases: unknown[] = [
    "",
    "pbkdf2-sha256",
    `${scheme}$${iterations}$${salt}`,
    `${stored}$extra`,
    `bcrypt$${iterations}$${salt}$${hash}`,
    `pbkdf2-sha1$${iterations}$${salt}$${hash}`,
    `${scheme}$0$${salt}$${hash}`,
    `${scheme}$-1000$${salt}$${hash}`,
    `${scheme}$01000$${salt}$${hash}`,
    `${scheme}$1e3$${salt}$${hash}`,
    `${scheme}$ 1000$${salt}$${hash}`,
    `${scheme}$99999999$${salt}$${hash}`, // over the cap: refused, not run
    `${scheme}$${iterations}$$${hash}`,
    `${scheme}$${iterations}$${salt}$`,
    `${scheme}$${iterations}$not base64!$${hash}`,
    `${scheme}$${iterations}$${salt}$${encode(decode(hash).slice(0, 31))}`,
    `${scheme}$${iterations}$${salt}$${encode(new Uint8Array(33))}`,
    `${scheme}$${iterations}$${salt}$${hash}AAAA`,
    `${scheme}$${iterations}$${encode(decode(salt).slice(0, 8))}$${hash}`,
    `${scheme}$${iterations}$${salt}$${encode(flipped)}`,
    `${scheme}$${iterations}$${encode(otherSalt)}$${hash}`,
    `${scheme}$${iterations}$${salt}$${hash.replace(/=$/, "")}`,
    null,
    undefined,
    42,
    {},
  ];
  for (const bad of cases) {
    assert.equal(
      await verifyPassword("correct horse", bad as string),
      false,
      `accepted ${JSON.stringify(bad)}`,
    );
  }
});

Deno.test("verifyPassword() returns false for a non-string password", async () => {
  const stored = await hashPassword("correct horse", FAST);
  assert.equal(await verifyPassword(null as unknown as string, stored), false);
  assert.equal(await verifyPassword(123 as unknown as string, stored), false);
});

Deno.test("hashPassword() draws a fresh salt every time", async () => {
  const a = await hashPassword("correct horse", FAST);
  const b = await hashPassword("correct horse", FAST);
  assert.notEqual(a.split("$")[2], b.split("$")[2]);
  assert.notEqual(a.split("$")[3], b.split("$")[3]);
});

Deno.test("hashPassword() refuses an invalid iteration count", async () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity, 10_000_001]) {
    await assert.rejects(hashPassword("correct horse", bad), RangeError);
  }
});

Deno.test("verifyPassword() compares hashes with the constant-time helper", async () => {
  const source = await Deno.readTextFile(
    new URL("../lib/accounts/password.ts", import.meta.url),
  );
  assert.match(
    source,
    /import \{ timingSafeEqual \} from "\.\.\/base\/crypto\.ts"/,
  );
  assert.match(source, /return timingSafeEqual\(actual, parsed\.hash\)/);
});

Deno.test("passwords are NFKC-normalized, so composed and decomposed forms match", async () => {
  const stored = await hashPassword("caf\u00e9-latte", FAST);
  assert.equal(await verifyPassword("cafe\u0301-latte", stored), true);
});

Deno.test("needsRehash() asks for a new hash when the stored one is weaker or malformed", async () => {
  const stored = await hashPassword("correct horse", FAST);
  assert.equal(needsRehash(stored, FAST), false);
  assert.equal(needsRehash(stored, FAST - 1), false);
  assert.equal(needsRehash(stored, FAST + 1), true);
  assert.equal(needsRehash(stored, DEFAULT_PBKDF2_ITERATIONS), true);
  assert.equal(needsRehash("", FAST), true);
  assert.equal(needsRehash("md5$abc", FAST), true);
});

Deno.test("createDummyHash() returns a valid hash at the same cost that no password matches", async () => {
  const dummy = await createDummyHash(FAST);
  assert.match(dummy, /^pbkdf2-sha256\$1000\$[A-Za-z0-9+/]{22}==\$/);
  assert.equal(needsRehash(dummy, FAST), false);
  assert.equal(await verifyPassword("", dummy), false);
  assert.equal(await verifyPassword("password", dummy), false);
  assert.notEqual(await createDummyHash(FAST), dummy);
});

Deno.test("validatePassword() enforces 8 characters to 1024 UTF-8 bytes", () => {
  assert.match(validatePassword("a".repeat(7)) ?? "", /at least 8/);
  assert.equal(validatePassword("a".repeat(8)), null);
  assert.equal(validatePassword("a".repeat(64)), null);
  assert.equal(validatePassword("a".repeat(1024)), null);
  assert.match(validatePassword("a".repeat(1025)) ?? "", /at most 1024 bytes/);
  assert.match(validatePassword("a".repeat(100_000)) ?? "", /at most/);
  assert.match(validatePassword("") ?? "", /at least 8/);
});

Deno.test("validatePassword() counts characters as code points and the cap as UTF-8 bytes", () => {
  // 7 emoji: 14 UTF-16 units, 28 bytes, but 7 characters.
  assert.match(validatePassword("😀".repeat(7)) ?? "", /at least 8/);
  assert.equal(validatePassword("😀".repeat(8)), null);
  assert.equal(validatePassword("é".repeat(8)), null);
  // 256 four-byte characters = 1024 bytes; one more two-byte character tips it over.
  assert.equal(validatePassword("😀".repeat(256)), null);
  assert.match(validatePassword("😀".repeat(256) + "é") ?? "", /1024 bytes/);
  // 512 "é" = 1024 bytes although only 512 characters.
  assert.equal(validatePassword("é".repeat(512)), null);
  assert.match(validatePassword("é".repeat(513)) ?? "", /1024 bytes/);
  assert.equal(validatePassword("pass word with spaces"), null);
});

Deno.test("validatePassword() rejects non-strings and lone surrogates", () => {
  for (const bad of [undefined, null, 12345678, ["abcdefgh"], {}, true]) {
    assert.equal(validatePassword(bad), "Password must be a string");
  }
  assert.match(validatePassword("abcdefgh\ud800") ?? "", /invalid/);
});

Deno.test("normalizeUsername() lowercases valid names and refuses everything else", () => {
  assert.equal(normalizeUsername("Alice"), "alice");
  assert.equal(normalizeUsername("bob_the.builder-2"), "bob_the.builder-2");
  assert.equal(normalizeUsername("abc"), "abc");
  assert.equal(normalizeUsername("a".repeat(32)), "a".repeat(32));
  for (
    const bad of [
      "ab",
      "a".repeat(33),
      " alice",
      "alice ",
      "al ice",
      "alice\n",
      "al\u0000ice",
      "ålice",
      "аlice", // Cyrillic a
      "alice@example.com",
      "al/ice",
      "al$ice",
      "",
      null,
      undefined,
      123,
      ["alice"],
    ]
  ) {
    assert.equal(normalizeUsername(bad), null, `accepted ${String(bad)}`);
  }
});

Deno.test("normalizeUsername() maps case variants to the same account", () => {
  assert.equal(normalizeUsername("ALICE"), normalizeUsername("alice"));
});

Deno.test("validateUsername() explains what is wrong", () => {
  assert.equal(validateUsername("alice"), null);
  assert.equal(validateUsername("Alice.B_2-x"), null);
  assert.equal(validateUsername(42), "Username must be a string");
  assert.match(validateUsername("ab") ?? "", /3 to 32/);
  assert.match(validateUsername("a".repeat(33)) ?? "", /3 to 32/);
  assert.match(validateUsername("ali ce") ?? "", /only letters/);
  assert.match(validateUsername(" alice") ?? "", /only letters/);
  assert.match(validateUsername("ålice") ?? "", /only letters/);
});

Deno.test("validateUsername() and normalizeUsername() agree", () => {
  for (const name of ["alice", "ab", " alice", "a".repeat(33), "x.y-z_1"]) {
    assert.equal(
      validateUsername(name) === null,
      normalizeUsername(name) !== null,
    );
  }
});
