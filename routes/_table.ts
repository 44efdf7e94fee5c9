import type { Route } from "../lib/server/router.ts";
import * as index from "./index.tsx";
import * as forget from "./forget.ts";
import * as healthz from "./healthz.ts";
import * as staticFiles from "./static.ts";
import * as apiMe from "./api/me.ts";
import * as apiForget from "./api/forget.ts";
import * as quiz from "./quiz.tsx";
import * as quizAnswer from "./quiz_answer.ts";
import * as quizResult from "./quiz_result.tsx";
import * as quizRestart from "./quiz_restart.ts";
import * as likes from "./likes.tsx";
import * as apiQuizzes from "./api/quizzes.ts";
import * as apiQuiz from "./api/quiz.ts";
import * as apiAnswers from "./api/answers.ts";
import * as login from "./login.tsx";
import * as register from "./register.tsx";
import * as logout from "./logout.ts";
import * as account from "./account.tsx";
import * as accountSessions from "./account_sessions.ts";
import * as apiAuth from "./api/auth.ts";
import * as adminDashboard from "./admin/dashboard.tsx";
import * as adminRevoke from "./admin/revoke.ts";
import * as adminKv from "./admin/kv.ts";
import * as adminKvKey from "./admin/kv_key.ts";
import * as adminSessions from "./admin/sessions.ts";
import * as adminSession from "./admin/session.ts";

/** The whole route table, explicit so the same code runs on an edge platform. */
export const routes: Route[] = [
  { path: "/", module: index, kind: "page" },
  { path: "/forget", module: forget, kind: "page" },
  { path: "/healthz", module: healthz, kind: "plain" },
  { path: "/api/me", module: apiMe, kind: "api" },
  { path: "/api/forget", module: apiForget, kind: "api" },
  { path: "/api/logout", module: apiForget, kind: "api" },
  { path: "/likes", module: likes, kind: "page" },
  { path: "/login", module: login, kind: "page" },
  { path: "/register", module: register, kind: "page" },
  { path: "/logout", module: logout, kind: "page" },
  { path: "/account", module: account, kind: "page" },
  { path: "/account/sessions", module: accountSessions, kind: "page" },
  { path: "/api/login", module: apiAuth.login, kind: "api" },
  { path: "/api/register", module: apiAuth.register, kind: "api" },
  { path: "/admin", module: adminDashboard, kind: "admin-page" },
  { path: "/admin/revoke", module: adminRevoke, kind: "admin-page" },
  { path: "/api/quizzes", module: apiQuizzes, kind: "api" },
  { path: "/quiz/:quizId", module: quiz, kind: "page" },
  { path: "/quiz/:quizId/answer", module: quizAnswer, kind: "page" },
  { path: "/quiz/:quizId/result", module: quizResult, kind: "page" },
  { path: "/quiz/:quizId/restart", module: quizRestart, kind: "page" },
  { path: "/api/quizzes/:quizId", module: apiQuiz, kind: "api" },
  { path: "/api/quizzes/:quizId/answers", module: apiAnswers, kind: "api" },
  { path: "/admin/kv", module: adminKv, kind: "plain" },
  { path: "/admin/kv/*", module: adminKvKey, kind: "plain" },
  { path: "/admin/sessions", module: adminSessions, kind: "plain" },
  { path: "/admin/sessions/:handle", module: adminSession, kind: "plain" },
  { path: "/static/*", module: staticFiles, kind: "plain" },
];
