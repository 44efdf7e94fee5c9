import type { Route } from "../lib/server/context.ts";
import * as index from "./index.tsx";
import * as forget from "./forget.ts";
import * as healthz from "./healthz.ts";
import * as staticFiles from "./static.ts";
import * as apiMe from "./api/me.ts";
import * as apiForget from "./api/forget.ts";
import * as quiz from "./quiz.tsx";
import * as quizAnswer from "./quiz_answer.ts";
import * as quizResult from "./quiz_result.tsx";
import * as quizRestart from "./quiz_restart.tsx";
import * as likes from "./likes.tsx";
import * as apiQuizzes from "./api/quizzes.ts";
import * as apiQuiz from "./api/quiz.ts";
import * as apiAnswers from "./api/answers.ts";
import * as login from "./login.tsx";
import * as register from "./register.tsx";
import * as logout from "./logout.ts";
import * as account from "./account.tsx";
import * as accountSessions from "./account_sessions.ts";
import * as accountPassword from "./account_password.ts";
import * as accountDelete from "./account_delete.ts";
import * as apiAccount from "./api/account.ts";
import * as apiAuth from "./api/auth.ts";
import * as adminDashboard from "./admin/dashboard.tsx";
import * as adminRevoke from "./admin/revoke.ts";
import * as adminKv from "./admin/kv.ts";
import * as adminKvKey from "./admin/kv_key.ts";
import * as adminSessions from "./admin/sessions.ts";
import * as adminSession from "./admin/session.ts";
import * as adminQuizzes from "./admin/quizzes.tsx";
import * as adminQuizStats from "./admin/quiz_stats.tsx";
import * as adminQuizStatsJson from "./admin/quiz_stats_json.ts";
import * as adminQuizResultsCsv from "./admin/quiz_results_csv.ts";

// Each route's policy: its session (counted, uncounted, none), how its errors are answered
// (a page or JSON), and which admin guard applies.
const PAGE = { session: "counted", errors: "html", admin: "none" } as const;
const API = { session: "counted", errors: "json", admin: "none" } as const;
const PLAIN = { session: "none", errors: "json", admin: "none" } as const;
const STATIC = { session: "none", errors: "html", admin: "none" } as const;
const ADMIN_PAGE = {
  session: "uncounted",
  errors: "html",
  admin: "session",
} as const;
const ADMIN_API = { session: "none", errors: "json", admin: "bearer" } as const;
// Exports a browser with the admin session downloads, and a script fetches with the token.
const ADMIN_EXPORT = {
  session: "uncounted",
  errors: "json",
  admin: "either",
} as const;

/** The whole route table, explicit so the same code runs on an edge platform. */
export const routes: Route[] = [
  { path: "/", module: index, ...PAGE },
  { path: "/forget", module: forget, ...PAGE },
  { path: "/healthz", module: healthz, ...PLAIN },
  { path: "/api/me", module: apiMe, ...API },
  { path: "/api/forget", module: apiForget, ...API },
  { path: "/api/logout", module: apiForget, ...API },
  { path: "/likes", module: likes, ...PAGE },
  { path: "/login", module: login, ...PAGE },
  { path: "/register", module: register, ...PAGE },
  { path: "/logout", module: logout, ...PAGE },
  { path: "/account", module: account, ...PAGE },
  { path: "/account/sessions", module: accountSessions, ...PAGE },
  { path: "/account/password", module: accountPassword, ...PAGE },
  { path: "/account/delete", module: accountDelete, ...PAGE },
  { path: "/api/account/password", module: apiAccount.password, ...API },
  { path: "/api/account/delete", module: apiAccount.remove, ...API },
  { path: "/api/login", module: apiAuth.login, ...API },
  { path: "/api/register", module: apiAuth.register, ...API },
  { path: "/admin", module: adminDashboard, ...ADMIN_PAGE },
  { path: "/admin/revoke", module: adminRevoke, ...ADMIN_PAGE },
  { path: "/admin/quizzes", module: adminQuizzes, ...ADMIN_PAGE },
  { path: "/api/quizzes", module: apiQuizzes, ...API },
  { path: "/quiz/:quizId", module: quiz, ...PAGE },
  { path: "/quiz/:quizId/answer", module: quizAnswer, ...PAGE },
  { path: "/quiz/:quizId/result", module: quizResult, ...PAGE },
  { path: "/quiz/:quizId/restart", module: quizRestart, ...PAGE },
  { path: "/api/quizzes/:quizId", module: apiQuiz, ...API },
  { path: "/api/quizzes/:quizId/answers", module: apiAnswers, ...API },
  { path: "/admin/quizzes/:quizId", module: adminQuizStats, ...ADMIN_PAGE },
  {
    path: "/admin/quizzes/:quizId/stats.json",
    module: adminQuizStatsJson,
    ...ADMIN_EXPORT,
  },
  {
    path: "/admin/quizzes/:quizId/results.csv",
    module: adminQuizResultsCsv,
    ...ADMIN_EXPORT,
  },
  { path: "/admin/kv", module: adminKv, ...ADMIN_API },
  { path: "/admin/kv/*", module: adminKvKey, ...ADMIN_API },
  { path: "/admin/sessions", module: adminSessions, ...ADMIN_API },
  { path: "/admin/sessions/:handle", module: adminSession, ...ADMIN_API },
  { path: "/static/*", module: staticFiles, ...STATIC },
];
