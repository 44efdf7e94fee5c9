/** The login and registration form and their handlers (routes/login.tsx, routes/register.tsx). */
import { type Ctx, owner } from "../lib/server/context.ts";
import { setFlash } from "../lib/server/flash.ts";
import { readCheckedForm } from "../lib/server/forms.ts";
import { redirect } from "../lib/server/http.ts";
import { HttpError } from "../lib/base/http_error.ts";
import { CsrfField } from "../lib/server/layout.tsx";
import { safeNext } from "../lib/server/safe_next.ts";
import { page } from "../lib/server/render.tsx";
import { credentialsFrom } from "../lib/accounts/users.ts";

export interface AuthFormProps {
  ctx: Ctx;
  mode: "login" | "register";
  next: string;
  username?: string;
  error?: string;
}

/** The login and registration form; on an error it is shown again with the username kept. */
export function AuthForm({ ctx, mode, next, username, error }: AuthFormProps) {
  const login = mode === "login";
  const action = `/${mode}${
    next === "/" ? "" : `?next=${encodeURIComponent(next)}`
  }`;
  return (
    <section class="card auth">
      <h1>{login ? "Log in" : "Create an account"}</h1>
      {error && (
        <p class="error" role="alert" data-testid="form-error">{error}</p>
      )}
      <form method="post" action={action}>
        <CsrfField token={ctx.session.record.csrf} />
        <label>
          Username
          <input
            name="username"
            autocomplete="username"
            required
            minLength={3}
            maxLength={32}
            pattern="[A-Za-z0-9_.\-]+"
            value={username ?? ""}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete={login ? "current-password" : "new-password"}
            required
            minLength={8}
          />
        </label>
        {!login && (
          <p class="hint">
            3–32 letters, digits, _ - or . ; a password of at least 8
            characters.
          </p>
        )}
        <button type="submit" class="button">
          {login ? "Log in" : "Register"}
        </button>
      </form>
      <p>
        {login
          ? (
            <>
              New here? <a href="/register">Create an account</a>
            </>
          )
          : (
            <>
              Have an account? <a href="/login">Log in</a>
            </>
          )}
      </p>
    </section>
  );
}

/** GET shows the form; POST logs in (or registers) and 303s to a same-site `next`. */
export function authHandler(mode: "login" | "register") {
  const title = mode === "login" ? "Log in" : "Register";
  return {
    GET(ctx: Ctx) {
      const next = safeNext(ctx.url.searchParams.get("next"));
      return page(ctx, title, <AuthForm ctx={ctx} mode={mode} next={next} />);
    },
    async POST(ctx: Ctx) {
      const next = safeNext(ctx.url.searchParams.get("next"));
      const form = await readCheckedForm(ctx);
      const username = typeof form.username === "string"
        ? form.username.slice(0, 64)
        : "";
      try {
        const credentials = credentialsFrom(form);
        await ctx.services.accounts[mode](
          owner(ctx),
          credentials,
          ctx.clientAddress(),
        );
      } catch (error) {
        if (!(error instanceof HttpError) || error.status >= 500) throw error;
        const body = (
          <AuthForm
            ctx={ctx}
            mode={mode}
            next={next}
            username={username}
            error={error.message}
          />
        );
        return page(ctx, title, body, {
          status: error.status,
          headers: error.headers,
        });
      }
      return redirect(next, 303, [
        setFlash(ctx, mode === "login" ? "logged-in" : "registered"),
      ]);
    },
  };
}
