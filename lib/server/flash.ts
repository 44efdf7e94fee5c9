import { stringifySetCookie } from "cookie";
import type { Ctx } from "./context.ts";
import { cookieValues } from "../sessions/mod.ts";

/**
 * One-shot messages that survive a redirect: a short-lived cookie holding a message code
 * (never free text, so nothing a visitor sends is echoed), cleared by the page that shows it.
 * No server state is written, so showing a flash on a GET changes nothing.
 */
export const FLASH_MESSAGES = {
  "logged-in": "Welcome back! You are logged in.",
  "registered": "Your account is ready and your progress is saved to it.",
  "logged-out": "You are logged out.",
  "forgotten": "Done: everything kept for this session has been deleted.",
  "sessions-ended": "Your other sessions have been logged out.",
  "session-ended": "That session has been logged out.",
  "admin-in": "Admin access granted for 15 minutes.",
  "revoked": "The session was ended.",
  "password-changed":
    "Your password is changed; your other sessions have been logged out.",
  "account-deleted":
    "Your account and everything kept for it have been deleted.",
  "forget-logged-in":
    "You are logged in: your progress is kept in your account. Log out, or delete the account below.",
} as const;

export type FlashCode = keyof typeof FLASH_MESSAGES;

function flashName(ctx: Ctx): string {
  return ctx.secure ? "__Host-flash" : "flash";
}

function flashHeader(ctx: Ctx, value: string, maxAge: number): string {
  return stringifySetCookie({
    name: flashName(ctx),
    value,
    path: "/",
    httpOnly: true,
    sameSite: "lax",
    secure: ctx.secure,
    maxAge,
  });
}

/** The Set-Cookie header that carries `code` to the next page. */
export function setFlash(ctx: Ctx, code: FlashCode): [string, string] {
  return ["set-cookie", flashHeader(ctx, code, 60)];
}

/** The pending message, if any, and the header that clears it. */
export function takeFlash(ctx: Ctx): { message: string; clear: string } | null {
  const [code] = cookieValues(ctx.req.headers.get("cookie"), flashName(ctx), 1);
  if (!code) return null;
  const message = Object.hasOwn(FLASH_MESSAGES, code)
    ? FLASH_MESSAGES[code as FlashCode]
    : null;
  return message ? { message, clear: flashHeader(ctx, "", 0) } : null;
}
