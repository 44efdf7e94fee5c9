import { requireUser } from "../lib/server/auth_guard.ts";
import type { Ctx } from "../lib/server/context.ts";
import { CsrfField } from "../lib/server/layout.tsx";
import type { HistoryEntry, OwnerData } from "../lib/accounts/records.ts";
import type { Quiz } from "../lib/quiz/bank.ts";
import { findLiked } from "../lib/quiz/progress.ts";
import { page } from "../lib/server/render.tsx";
import { scoreOf } from "../lib/quiz/scoring.ts";
import type { UserSessionView } from "../lib/sessions/mod.ts";
import { when } from "./_components.tsx";

export const handler = {
  async GET(ctx: Ctx) {
    const user = await requireUser(ctx);
    const sessions = await ctx.services.sessions.ofUser(
      user.username,
      ctx.session,
    );
    const csrf = ctx.session.record.csrf;
    const bank = ctx.services.bank;
    return page(
      ctx,
      "Your account",
      <>
        <h1>Your account: {user.username}</h1>
        <section class="card">
          <Progress bank={bank} progress={user.data.quizzes ?? {}} />
          <History bank={bank} history={user.history} />
        </section>
        <Likes bank={bank} likes={user.data.likes ?? []} />
        <Sessions sessions={sessions} csrf={csrf} />
        <PasswordForm csrf={csrf} />
        <DeleteForm csrf={csrf} />
      </>,
    );
  },
};

function Progress(
  { bank, progress }: {
    bank: Quiz[];
    progress: NonNullable<OwnerData["quizzes"]>;
  },
) {
  return (
    <>
      <h2>Quiz progress</h2>
      <ul>
        {bank.map((quiz) => {
          const s = scoreOf(quiz, progress[quiz.id]);
          return (
            <li key={quiz.id}>
              <a href={`/quiz/${quiz.id}`}>{quiz.title}</a>:{" "}
              {s.answered}/{s.total} answered, score {s.score}
            </li>
          );
        })}
      </ul>
    </>
  );
}

function History(
  { bank, history }: { bank: Quiz[]; history: HistoryEntry[] },
) {
  return (
    <>
      <h2>Finished attempts</h2>
      {history.length === 0
        ? <p>None yet: finish a quiz and it is kept here.</p>
        : (
          <table data-testid="history">
            <thead>
              <tr>
                <th scope="col">Quiz</th>
                <th scope="col">Score</th>
                <th scope="col">Finished</th>
              </tr>
            </thead>
            <tbody>
              {[...history].reverse().map((h, i) => (
                <tr key={i}>
                  <td>
                    {bank.find((q) => q.id === h.quizId)?.title ?? h.quizId}
                  </td>
                  <td>{h.score}/{h.total}</td>
                  <td>{when(h.at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </>
  );
}

function Likes({ bank, likes }: { bank: Quiz[]; likes: string[] }) {
  return (
    <section class="card">
      <h2>Liked questions</h2>
      {likes.length === 0 ? <p>None yet.</p> : (
        <ul>
          {likes.flatMap((item) => {
            try {
              const { quiz, question } = findLiked(bank, item);
              return [
                <li key={item}>
                  {question.text}{" "}
                  <a href={`/quiz/${quiz.id}`}>({quiz.title})</a>
                </li>,
              ];
            } catch {
              // A like of a question no longer in the bank: not shown.
              return [];
            }
          })}
        </ul>
      )}
    </section>
  );
}

function Sessions(
  { sessions, csrf }: { sessions: UserSessionView[] | null; csrf: string },
) {
  return (
    <section class="card">
      <h2>Your active sessions</h2>
      {sessions === null
        ? (
          <p>
            This server keeps sessions in cookies, so it cannot list them; you
            can still log out everywhere.
          </p>
        )
        : (
          <ul class="sessions" data-testid="sessions">
            {sessions.map((s) => (
              <SessionItem key={s.handle} session={s} csrf={csrf} />
            ))}
          </ul>
        )}
      <form method="post" action="/account/sessions" class="inline">
        <CsrfField token={csrf} />
        <input type="hidden" name="end" value="others" />
        <button type="submit" class="button">
          Log out everywhere else
        </button>
      </form>
    </section>
  );
}

function SessionItem(
  { session: s, csrf }: { session: UserSessionView; csrf: string },
) {
  return (
    <li>
      {s.current ? <strong>This session</strong> : <span>Another session</span>}
      {" "}
      · started {when(s.createdAt)} · last seen {when(s.lastSeenAt)} ·{" "}
      {s.userAgent ?? "unknown browser"}
      {!s.current && (
        <form method="post" action="/account/sessions" class="inline">
          <CsrfField token={csrf} />
          <input type="hidden" name="end" value={s.handle} />
          <button type="submit" class="link">
            End this session
          </button>
        </form>
      )}
    </li>
  );
}

function PasswordForm({ csrf }: { csrf: string }) {
  return (
    <section class="card" id="password">
      <h2>Change your password</h2>
      <p>Your other sessions are logged out; this one stays.</p>
      <form method="post" action="/account/password">
        <CsrfField token={csrf} />
        <label>
          Current password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
          />
        </label>
        <label>
          New password
          <input
            name="newPassword"
            type="password"
            autocomplete="new-password"
            minLength={8}
            required
          />
        </label>
        <label>
          New password again
          <input
            name="confirm"
            type="password"
            autocomplete="new-password"
            minLength={8}
            required
          />
        </label>
        <button type="submit" class="button">Change password</button>
      </form>
    </section>
  );
}

function DeleteForm({ csrf }: { csrf: string }) {
  return (
    <section class="card danger-zone" id="delete">
      <h2>Delete your account</h2>
      <p>
        Deletes your account, your progress, your likes and your history, and
        logs out every session. Your username becomes free again. This cannot be
        undone.
      </p>
      <form method="post" action="/account/delete">
        <CsrfField token={csrf} />
        <label>
          Your password, to confirm
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
          />
        </label>
        <button type="submit" class="button danger">Delete my account</button>
      </form>
    </section>
  );
}
