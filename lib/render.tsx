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
}

/** Renders a full page for the current visitor. */
export function page(
  ctx: Ctx,
  title: string,
  body: VNode,
  opts: PageOptions = {},
): Response {
  const { session } = ctx;
  const visitor = {
    user: session.record.user,
    csrf: session.record.csrf,
    hits: ctx.hits,
    visits: session.visits,
  };
  const flash = takeFlash(ctx);
  const html = renderToString(
    <Layout
      title={title}
      visitor={visitor}
      flash={opts.flash ?? flash?.message}
      islandsUrl={opts.islands ? ctx.assets.islandsUrl : null}
    >
      {body}
    </Layout>,
  );
  const headers = new Headers(opts.headers);
  headers.set("content-type", HTML);
  if (flash) headers.append("set-cookie", flash.clear);
  return new Response("<!doctype html>" + html, {
    status: opts.status ?? 200,
    headers,
  });
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

/** An error page that needs nothing from the session (it may be what failed). */
export function renderError(status: number, message: string): Response {
  const title = TITLES[status] ?? (status >= 500 ? "Server error" : "Error");
  const html = renderToString(
    <Layout title={title}>
      <section class="card">
        <h1>{title}</h1>
        <p>{message}</p>
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
