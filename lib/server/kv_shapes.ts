/**
 * The shapes of what the app stores under its own key families, checked where values come
 * in from outside the app (the admin KV API).
 */
import { HttpError } from "../base/http_error.ts";
import { isNumber, isObject, optional } from "../base/shapes.ts";
import { isOwnerData, isUserRecord } from "../accounts/shapes.ts";
import { userKey } from "../accounts/records.ts";
import {
  cookieRevokedKey,
  HITS_KEY,
  isJanitorLease,
  isSessionRecord,
  JANITOR_LEASE_KEY,
  type SessionData,
  sessionKey,
  userSessionKey,
  userValidAfterKey,
  visitsKey,
} from "../sessions/mod.ts";
import { questionStatsKey, quizStatsKey, resultKey } from "../quiz/stats.ts";

type Shape = (value: unknown, key: readonly string[]) => boolean;

const isU64 = (v: unknown) => v instanceof Deno.KvU64;

function isSessionData(v: unknown): v is SessionData {
  if (!isOwnerData(v)) return false;
  const { flash, adminUntil } = v as SessionData;
  return optional(flash, (f) => typeof f === "string") &&
    optional(adminUntil, isNumber);
}

const isUserSessionEntry: Shape = (v) =>
  isObject(v) && isNumber(v.createdAt) && isNumber(v.lastSeenAt) &&
  optional(v.userAgent, (a) => typeof a === "string");

const isThrottleEntry: Shape = (v, key) => {
  if (!isObject(v) || !["login", "admin", "register"].includes(key[1])) {
    return false;
  }
  if (key[2] === "account") {
    return isNumber(v.failures) && isNumber(v.lastFailureAt);
  }
  return key[2] === "address" && isNumber(v.count) && isNumber(v.windowStart);
};

/** A quiz statistics row (lib/quiz/stats.ts `ResultRow`). */
const isResultRow: Shape = (v) =>
  isObject(v) && typeof v.participant === "string" && isObject(v.answers) &&
  Object.values(v.answers).every((a) => typeof a === "string") &&
  Array.isArray(v.correct) &&
  v.correct.every((c) => typeof c === "string") && isNumber(v.score) &&
  isNumber(v.answered);

/** `stats/<quiz>/<question>/answered|correct`, or `…/choice/<choice id>`: a counter. */
const isQuestionCounter: Shape = (v, key) =>
  isU64(v) &&
  (key.length === 4
    ? key[3] === "answered" || key[3] === "correct"
    : key[3] === "choice");

interface Family {
  /** How many parts its keys have (either of two, for some). */
  parts: number | [number, number];
  /** What the value must be, for the error message. */
  expected: string;
  valid: Shape;
}

const U64 = 'a KV u64 counter, written {"$u64": "<digits>"}';

// By first key part, taken from the key builders so the two cannot drift apart.
const FAMILIES = new Map<string, Family>([
  [HITS_KEY[0], { parts: 1, expected: U64, valid: isU64 }],
  [visitsKey("")[0], { parts: 2, expected: U64, valid: isU64 }],
  [sessionKey("")[0], {
    parts: 2,
    expected:
      "a session record {createdAt, lastSeenAt, user, csrf, data: {quizzes?, likes?, flash?, adminUntil?}}",
    valid: (v) => isSessionRecord(v) && isSessionData(v.data),
  }],
  [userKey("")[0], {
    parts: 2,
    expected:
      "a user record {username (the key's name), passwordHash, createdAt, data: {quizzes?, likes?}, history: []}",
    valid: (v, key) => isUserRecord(v) && v.username === key[1],
  }],
  [userSessionKey("", "")[0], {
    parts: 3,
    expected: "a session list entry {createdAt, lastSeenAt, userAgent?}",
    valid: isUserSessionEntry,
  }],
  [cookieRevokedKey("")[0], {
    parts: 2,
    expected: "a time in epoch ms (a number)",
    valid: isNumber,
  }],
  [userValidAfterKey("")[0], {
    parts: 2,
    expected: "a time in epoch ms (a number)",
    valid: isNumber,
  }],
  [JANITOR_LEASE_KEY[0], {
    parts: 1,
    expected:
      "a janitor lease {owner (1 to 256 characters), expiresAt (epoch ms)}",
    valid: isJanitorLease,
  }],
  // choiceStatsKey shares the family: the same first part, one part more.
  [questionStatsKey("", "", "answered")[0], {
    parts: [4, 5],
    expected:
      `stats/<quiz>/<question>/<answered|correct> or …/choice/<choice id>: ${U64}`,
    valid: isQuestionCounter,
  }],
  [quizStatsKey("", "participants")[0], {
    parts: 3,
    expected: `quiz_stats/<quiz>/<participants|points>: ${U64}`,
    valid: (v, key) =>
      isU64(v) && (key[2] === "participants" || key[2] === "points"),
  }],
  [resultKey("", "")[0], {
    parts: 3,
    expected:
      "a result row {participant, answers: {<question id>: <choice text>}, correct: [<question id>], score, answered}",
    valid: isResultRow,
  }],
  ["throttle", {
    parts: 4,
    expected:
      "throttle/<login|admin|register>/account/<name> {failures, lastFailureAt} or …/address/<ip> {count, windowStart}",
    valid: isThrottleEntry,
  }],
]);

/**
 * Refuses (400, naming the key and the shape expected) a value written through the admin
 * API under one of the app's own key families that the app could not read back: a string
 * under `hits` would fail every counted request's commit. Other keys are free-form.
 */
export function checkStoredShape(
  key: readonly string[],
  value: unknown,
  shown: string,
): void {
  const family = FAMILIES.get(key[0]);
  if (!family) return;
  const parts = [family.parts].flat();
  if (!parts.includes(key.length) || !family.valid(value, key)) {
    throw new HttpError(
      400,
      `${shown} must hold ${family.expected}, under a key of ${
        parts.join(" or ")
      } part(s)`,
    );
  }
}
