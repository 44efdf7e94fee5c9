/**
 * The shapes of what the app stores under its own key families, checked where values come
 * in from outside the app (the admin KV API) and where readers must not trust them (a value
 * written by hand, or by an older version).
 */
import { HttpError } from "../base/http_error.ts";
import {
  HITS_KEY,
  isSessionRecord,
  type SessionData,
} from "../sessions/session.ts";
import {
  cookieRevokedKey,
  userValidAfterKey,
} from "../sessions/cookie_store.ts";
import { sessionKey, userSessionKey, visitsKey } from "../sessions/kv_store.ts";
import type { HistoryEntry, OwnerData, UserRecord } from "../accounts/users.ts";

type Shape = (value: unknown, key: readonly string[]) => boolean;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number =>
  typeof v === "number" && Number.isFinite(v);
const optional = (v: unknown, check: (v: unknown) => boolean) =>
  v === undefined || check(v);
const isU64 = (v: unknown) => v instanceof Deno.KvU64;

function isProgress(v: unknown): boolean {
  return isObject(v) && isObject(v.answers) &&
    Object.values(v.answers).every((n) => Number.isInteger(n));
}

function isQuizzes(v: unknown): boolean {
  return isObject(v) && Object.values(v).every(isProgress);
}

function isLikes(v: unknown): boolean {
  return Array.isArray(v) && v.every((l) => typeof l === "string");
}

/** Whether `v` is quiz progress and likes as the app writes them (each part optional). */
export function isOwnerData(v: unknown): v is OwnerData {
  return isObject(v) && optional(v.quizzes, isQuizzes) &&
    optional(v.likes, isLikes);
}

function isSessionData(v: unknown): v is SessionData {
  if (!isOwnerData(v)) return false;
  const { flash, adminUntil } = v as SessionData;
  return optional(flash, (f) => typeof f === "string") &&
    optional(adminUntil, isNumber);
}

function isHistoryEntry(v: unknown): v is HistoryEntry {
  return isObject(v) && typeof v.quizId === "string" && isNumber(v.score) &&
    isNumber(v.total) && isNumber(v.at);
}

/** Whether `v` is a user record (see `UserRecord` in lib/accounts/users.ts). */
export function isUserRecord(v: unknown): v is UserRecord {
  return isObject(v) && typeof v.username === "string" &&
    typeof v.passwordHash === "string" && isNumber(v.createdAt) &&
    isOwnerData(v.data) && Array.isArray(v.history) &&
    v.history.every(isHistoryEntry);
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

interface Family {
  /** How many parts its keys have. */
  parts: number;
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
  // "users" is userKey's root: lib/accounts/users.ts imports this module, so not imported here.
  ["users", {
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
  if (key.length !== family.parts || !family.valid(value, key)) {
    throw new HttpError(
      400,
      `${shown} must hold ${family.expected}, under a key of ${family.parts} part(s)`,
    );
  }
}

const reported = new Set<string>();

/** Logs `message` once per process (readers meet the same bad value on every request). */
export function reportOnce(log: (line: string) => void, message: string) {
  if (reported.has(message) || reported.size > 100) return;
  reported.add(message);
  log(message);
}

/**
 * `data` with any malformed part (`quizzes`, `likes`) dropped, so a reader shows it as
 * empty instead of throwing; `onBad` is told which part was dropped.
 */
export function cleanOwnerData(
  data: unknown,
  onBad: (part: string) => void,
): OwnerData {
  if (!isObject(data)) {
    onBad("data");
    return {};
  }
  if (isOwnerData(data)) return data;
  const clean: OwnerData = {};
  if (optional(data.quizzes, isQuizzes)) {
    clean.quizzes = data.quizzes as OwnerData["quizzes"];
  } else onBad("quizzes");
  if (optional(data.likes, isLikes)) clean.likes = data.likes as string[];
  else onBad("likes");
  return clean;
}

/**
 * A stored user record with any malformed `data` part or `history` read as empty, or null
 * when it is not a user record at all (no username or password hash); `onBad` is told.
 */
export function cleanUserRecord(
  value: unknown,
  onBad: (part: string) => void,
): UserRecord | null {
  if (value === null || isUserRecord(value)) return value;
  if (
    !isObject(value) || typeof value.username !== "string" ||
    typeof value.passwordHash !== "string"
  ) {
    onBad("record");
    return null;
  }
  const history = Array.isArray(value.history) &&
      value.history.every(isHistoryEntry)
    ? value.history
    : (onBad("history"), []);
  return {
    username: value.username,
    passwordHash: value.passwordHash,
    createdAt: isNumber(value.createdAt) ? value.createdAt : 0,
    data: cleanOwnerData(value.data, onBad),
    history,
  };
}
