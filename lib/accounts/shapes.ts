/**
 * What a stored user record and a visitor's progress must look like, and readers that
 * drop what is malformed instead of throwing (a value written by hand, or by an older
 * version).
 */
import { isNumber, isObject, optional } from "../base/shapes.ts";
import type { HistoryEntry, OwnerData, UserRecord } from "./records.ts";

/**
 * An answer as kept: `[choiceId, 1 or 0]` (lib/quiz/scoring.ts), an object of an
 * earlier form, or a position as stored before ids.
 */
function isAnswer(a: unknown): boolean {
  return Number.isInteger(a) ||
    (Array.isArray(a) && (a.length === 2 || a.length === 3) &&
      typeof a[0] === "string" && (a[1] === 0 || a[1] === 1)) ||
    (isObject(a) && typeof a.choice === "string" &&
      typeof a.text === "string" && typeof a.correct === "boolean");
}

function isProgress(v: unknown): boolean {
  return isObject(v) && isObject(v.answers) &&
    Object.values(v.answers).every(isAnswer);
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

export function isHistoryEntry(v: unknown): v is HistoryEntry {
  return isObject(v) && typeof v.quizId === "string" && isNumber(v.score) &&
    isNumber(v.total) && isNumber(v.at);
}

/** Whether `v` is a user record (see `UserRecord` in lib/accounts/records.ts). */
export function isUserRecord(v: unknown): v is UserRecord {
  return isObject(v) && typeof v.username === "string" &&
    typeof v.passwordHash === "string" && isNumber(v.createdAt) &&
    isOwnerData(v.data) && Array.isArray(v.history) &&
    v.history.every(isHistoryEntry);
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
