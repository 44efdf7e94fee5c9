import type { SessionData } from "../sessions/mod.ts";

/** Quiz progress and likes: kept in the session for a visitor, in the user record once logged in. */
export type OwnerData = Pick<SessionData, "quizzes" | "likes">;

export interface HistoryEntry {
  quizId: string;
  score: number;
  total: number;
  /** Epoch ms when the last question was answered. */
  at: number;
}

export interface UserRecord {
  /** Lowercase: usernames are unique without regard to case. */
  username: string;
  passwordHash: string;
  createdAt: number;
  data: OwnerData;
  /** Completed attempts, newest last, kept beyond any session. */
  history: HistoryEntry[];
}

/** A user record as read, with the versionstamp its commit checks (null: absent). */
export interface UserEntry {
  value: UserRecord | null;
  versionstamp: string | null;
}

export const userKey = (username: string) => ["users", username] as const;
export const MAX_HISTORY = 100;
export const MAX_LIKES = 200;
