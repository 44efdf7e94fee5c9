import type { VNode } from "preact";
import { renderToString } from "preact-render-to-string";
import type { Ctx } from "./context.ts";
import { takeFlash } from "./flash.ts";
import { Layout } from "./layout.tsx";

const HTML = "text/html; charset=utf-8";

export interface PageOptions {
  status?: number;
  /** Emit the island bundle's script tag: only pages with an island pay for it. */
  islands?: boolean;
  flash?: string;
  headers?: HeadersInit;
  /**
   * Everything the body depends on besides the visitor's counts and form token: pages
   * with a key are rendered once per key and reused (see `cachedRender`).
   */
  cacheKey?: string;
}

/** Renders a full page for the current visitor. */
export function page(
  ctx: Ctx,
  title: string,
  body: VNode | ((ctx: Ctx) => VNode),
  opts: PageOptions = {},
): Response {
  const flash = takeFlash(ctx);
  const message = opts.flash ?? flash?.message ?? ctx.notice;
  const render = (c: Ctx) =>
    "<!doctype html>" + renderToString(
      <Layout
        title={title}
        visitor={{
          user: c.session.record.user,
          csrf: c.session.record.csrf,
          hits: c.hits,
          visits: c.session.visits,
        }}
        flash={message}
        islandsUrl={opts.islands ? ctx.services.assets.islandsUrl : null}
      >
        {typeof body === "function" ? body(c) : body}
      </Layout>,
    );
  const html = opts.cacheKey === undefined || message
    ? render(ctx)
    : cachedRender(ctx, title, opts, render);
  const headers = new Headers(opts.headers);
  headers.set("content-type", HTML);
  if (flash) headers.append("set-cookie", flash.clear);
  return new Response(html, { status: opts.status ?? 200, headers });
}

// Stand-ins for what changes on every request; they cannot occur in page content,
// which never holds "@@".
const HITS = "@@mcq-hits@@";
const VISITS = "@@mcq-visits@@";
const CSRF = "@@mcq-csrf@@";
const STAND_INS = /(@@mcq-(?:hits|visits|csrf)@@)/;

/** How many rendered pages the cache keeps before it starts afresh (bounds memory). */
export const RENDER_CACHE_SIZE = 1000;

/**
 * Server rendering costs more than anything else a page view does, and pages repeat: the
 * same progress renders the same HTML but for the visitor's counts and form token. So a
 * page is rendered once per cache key, from a context whose counts and token are
 * stand-ins, split at them, and filled in by joining the parts with the real values.
 */
function cachedRender(
  ctx: Ctx,
  title: string,
  opts: PageOptions,
  render: (c: Ctx) => string,
): string {
  const { session } = ctx;
  const key =
    `${title}\n${session.record.user}\n${opts.islands}\n${opts.cacheKey}`;
  let template = ctx.services.renderCache.get(key);
  if (template === undefined) {
    const standIn: Ctx = Object.create(ctx);
    const standInSession = Object.create(session);
    standInSession.record = { ...session.record, csrf: CSRF };
    standInSession.visits = VISITS;
    standIn.session = standInSession;
    (standIn as { hits: unknown }).hits = HITS;
    // Text and stand-ins alternate: [text, stand-in, text, ..., text].
    template = render(standIn).split(STAND_INS);
    if (ctx.services.renderCache.size >= RENDER_CACHE_SIZE) {
      ctx.services.renderCache.clear();
    }
    ctx.services.renderCache.set(key, template);
  }
  let html = template[0];
  for (let i = 1; i < template.length; i += 2) {
    const standIn = template[i];
    html += (standIn === HITS
      ? ctx.hits
      : standIn === VISITS
      ? session.visits
      : session.record.csrf) + template[i + 1];
  }
  return html;
}

const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Not logged in",
  403: "Forbidden",
  404: "Not found",
  405: "Method not allowed",
  409: "Conflict",
  413: "Too large",
  415: "Unsupported media type",
  429: "Too many requests",
  503: "Unavailable",
};

/**
 * An error page that needs nothing from the session (it may be what failed): the site's
 * header, a heading naming the error and one sentence on what went wrong. `path` is the
 * requested path, which a 404 names.
 */
export function renderError(
  status: number,
  message: string,
  path?: string,
): Response {
  const title = TITLES[status] ?? (status >= 500 ? "Server error" : "Error");
  const html = renderToString(
    <Layout title={title}>
      <section class="card">
        <h1>{title}</h1>
        <p data-testid="error-detail">
          {errorDetail(status, title, message, path)}
        </p>
        <p>
          <a href="/">Back to the quizzes</a>
        </p>
      </section>
    </Layout>,
  );
  return new Response("<!doctype html>" + html, {
    status,
    headers: { "content-type": HTML },
  });
}

/** The sentence under the heading; a message that only repeats the heading is left out. */
function errorDetail(
  status: number,
  title: string,
  message: string,
  path: string | undefined,
): string {
  const specific = message.toLowerCase() === title.toLowerCase()
    ? ""
    : `${message.replace(/\.$/, "")}. `;
  if (status === 404 && path) return `${specific}There is no page at ${path}.`;
  if (specific) return specific.trim();
  return status >= 500
    ? "Something went wrong on our side; try again."
    : "The request could not be handled.";
}
