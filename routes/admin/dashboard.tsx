import type { Ctx } from "../../lib/server/context.ts";
import { timingSafeEqualString } from "../../lib/base/crypto.ts";
import { setFlash } from "../../lib/server/flash.ts";
import { readCheckedForm } from "../../lib/server/forms.ts";
import { redirect } from "../../lib/server/http.ts";
import { HttpError } from "../../lib/base/http_error.ts";
import { CsrfField } from "../../lib/server/layout.tsx";
import { page } from "../../lib/server/render.tsx";
import { describeSession } from "../../lib/sessions/list.ts";
import { createThrottle } from "../../lib/accounts/throttle.ts";

export const ADMIN_WINDOW_MS = 15 * 60_000;

/** 404 when ADMIN_TOKEN is unset: the dashboard does not exist. */
export function adminEnabled(ctx: Ctx): string {
  if (!ctx.config.adminToken) throw new HttpError(404, "Not found");
  return ctx.config.adminToken;
}

export function isAdminSession(ctx: Ctx): boolean {
  return (ctx.session.record.data.adminUntil ?? 0) > ctx.now();
}

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
    adminEnabled(ctx);
    if (!isAdminSession(ctx)) {
      return page(ctx, "Admin", <TokenForm ctx={ctx} />);
    }
    const now = ctx.now();
    const sessions = [];
    for await (
      const e of ctx.kv.list({ prefix: ["sessions"] }, { limit: 200 })
    ) {
      const s = describeSession(e, ctx.config, now);
      if (s) sessions.push(s);
    }
    return page(
      ctx,
      "Admin",
      <>
        <h1>Admin dashboard</h1>
        <p>
          Site hits: <strong>{ctx.hits}</strong> · live sessions shown:{" "}
          <strong>{sessions.length}</strong> (first 200)
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
                <td>{s.lastSeenAt}</td>
                <td>{s.expiresAt}</td>
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
    const token = adminEnabled(ctx);
    const form = await readCheckedForm(ctx);
    const address = ctx.clientAddress();
    // The same bucket as the admin API: one allowance of token guesses per address.
    const throttle = createThrottle(ctx.kv, { now: ctx.now, bucket: "admin" });
    const slot = await throttle.reserve(address, address);
    if (!timingSafeEqualString(form.token ?? "", token)) {
      return page(
        ctx,
        "Admin",
        <TokenForm ctx={ctx} error="Wrong admin token." />,
        { status: 401 },
      );
    }
    await throttle.succeeded(slot);
    // Privilege change: new session id, like a login.
    const adminUntil = ctx.now() + ADMIN_WINDOW_MS;
    await ctx.session.rotate((r) => ({
      ...r,
      data: { ...r.data, adminUntil },
    }));
    ctx.log(`admin: dashboard opened by session ${ctx.session.handle}`);
    return redirect("/admin", 303, [setFlash(ctx, "admin-in")]);
  },
};
