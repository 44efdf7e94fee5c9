import type { Ctx } from "../../lib/server/context.ts";
import { ADMIN_WINDOW_MS, isAdminSession } from "../../lib/server/admin.ts";
import { setFlash } from "../../lib/server/flash.ts";
import { readCheckedForm } from "../../lib/server/forms.ts";
import { redirect } from "../../lib/server/http.ts";
import { CsrfField } from "../../lib/server/layout.tsx";
import { page } from "../../lib/server/render.tsx";
import { when } from "../_components.tsx";

function TokenForm({ ctx, error }: { ctx: Ctx; error?: string }) {
  return (
    <section class="card auth">
      <h1>Admin</h1>
      {error && <p class="error" role="alert">{error}</p>}
      <form method="post" action="/admin">
        <CsrfField token={ctx.session.record.csrf} />
        <label>
          Admin token
          <input name="token" type="password" autocomplete="off" required />
        </label>
        <button type="submit" class="button">Enter</button>
      </form>
    </section>
  );
}

export const handler = {
  async GET(ctx: Ctx) {
    if (!isAdminSession(ctx.session, ctx.services.now())) {
      return page(ctx, "Admin", <TokenForm ctx={ctx} />);
    }
    const { items: sessions } = await ctx.services.sessions.list({
      limit: 200,
      cursor: undefined,
    });
    return page(
      ctx,
      "Admin",
      <>
        <h1>Admin dashboard</h1>
        <p>
          Site hits: <strong>{ctx.hits}</strong> · live sessions shown:{" "}
          <strong>{sessions.length}</strong> (first 200)
        </p>
        <p>
          <a href="/admin/quizzes">Quiz results</a>: statistics and CSV per quiz
        </p>
        <table class="admin-sessions" data-testid="admin-sessions">
          <thead>
            <tr>
              <th scope="col">Handle</th>
              <th scope="col">User</th>
              <th scope="col">Last seen</th>
              <th scope="col">Expires</th>
              <th scope="col"></th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.handle}>
                <td>
                  <code title={s.handle}>{s.handle.slice(0, 12)}…</code>
                </td>
                <td>{s.user ?? "—"}</td>
                <td>
                  <time dateTime={s.lastSeenAt}>
                    {when(Date.parse(s.lastSeenAt))}
                  </time>
                </td>
                <td>
                  <time dateTime={s.expiresAt}>
                    {when(Date.parse(s.expiresAt))}
                  </time>
                </td>
                <td>
                  <form method="post" action="/admin/revoke" class="inline">
                    <CsrfField token={ctx.session.record.csrf} />
                    <input type="hidden" name="handle" value={s.handle} />
                    <button type="submit" class="link danger">Revoke</button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </>,
    );
  },

  async POST(ctx: Ctx) {
    const form = await readCheckedForm(ctx);
    // The same gate as the admin API: one allowance of token guesses per address.
    const right = await ctx.services.admin!.judge(
      form.token ?? "",
      ctx.clientAddress(),
    );
    if (!right) {
      return page(
        ctx,
        "Admin",
        <TokenForm ctx={ctx} error="Wrong admin token." />,
        { status: 401 },
      );
    }
    // Privilege change: new session id, like a login.
    const adminUntil = ctx.services.now() + ADMIN_WINDOW_MS;
    await ctx.session.rotate((r) => ({
      ...r,
      data: { ...r.data, adminUntil },
    }));
    ctx.services.log(
      `admin: dashboard opened by session ${ctx.session.handle}`,
    );
    return redirect("/admin", 303, [setFlash(ctx, "admin-in")]);
  },
};
