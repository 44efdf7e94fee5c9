import type { ComponentChildren } from "preact";

export interface LayoutProps {
  title: string;
  /** Omitted on error pages, which know nothing about the visitor. */
  visitor?: { user: string | null; csrf: string; hits: number; visits: number };
  flash?: string;
  islandsUrl?: string | null;
  children: ComponentChildren;
}

/** A hidden field with the session's anti-CSRF token; every form that POSTs carries one. */
export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}

/** The page frame shared by every page. */
export function Layout(
  { title, visitor, flash, islandsUrl, children }: LayoutProps,
) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${title} · mcq-edge`}</title>
        <link rel="stylesheet" href="/static/style.css" />
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
        {islandsUrl && <script type="module" src={islandsUrl} defer />}
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to content</a>
        <header class="site-header">
          <a class="brand" href="/">
            <span class="brand-mark" aria-hidden="true">?</span> mcq-edge
          </a>
          <nav aria-label="Main">
            <a href="/">Quizzes</a>
            <a href="/likes">Likes</a>
            {visitor?.user
              ? (
                <>
                  <a href="/account">Account ({visitor.user})</a>
                  <form method="post" action="/logout" class="inline">
                    <CsrfField token={visitor.csrf} />
                    <button type="submit" class="link">Log out</button>
                  </form>
                </>
              )
              : visitor
              ? (
                <>
                  <a href="/login">Log in</a>
                  <a href="/register">Register</a>
                </>
              )
              // An error page does not know who is visiting: /account leads to the login if need be.
              : <a href="/account">Account</a>}
          </nav>
        </header>
        <main id="main" tabindex={-1}>
          {flash && <p class="flash" role="status">{flash}</p>}
          {children}
        </main>
        {visitor && (
          <footer class="site-footer">
            <p>
              Site hits: <strong data-testid="hits">{visitor.hits}</strong>{" "}
              · Your visits:{" "}
              <strong data-testid="visits">{visitor.visits}</strong>
            </p>
            {visitor.user
              ? <a href="/account#delete">Delete my account</a>
              : (
                <form method="post" action="/forget" class="inline">
                  <CsrfField token={visitor.csrf} />
                  <button type="submit" class="link danger">Forget me</button>
                </form>
              )}
          </footer>
        )}
      </body>
    </html>
  );
}
