/**
 * A browser in miniature for real server processes: one cookie jar and form token, sent to
 * whichever server URL each call names, so one visitor can move between instances.
 */
import assert from "node:assert/strict";
import { csrfFrom, keepSetCookies } from "../helpers.ts";

export interface Me {
  user: { username: string } | null;
  visits: number;
  hits: number;
  scores: Record<string, { score: number; answered: number; total: number }>;
}

export class RemoteVisitor {
  readonly jar = new Map<string, string>();
  csrf = "";

  /** The session id this visitor holds, or undefined. */
  get id(): string | undefined {
    return this.jar.get("sessionId");
  }

  async fetch(
    base: string,
    path: string,
    init: RequestInit = {},
  ): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.jar.size) {
      headers.set(
        "cookie",
        [...this.jar].map(([k, v]) => `${k}=${v}`).join("; "),
      );
    }
    const res = await fetch(base + path, {
      ...init,
      headers,
      redirect: "manual",
    });
    keepSetCookies(this.jar, res);
    return res;
  }

  /** GETs a page that must answer 200 and keeps its form token. */
  async page(base: string, path: string): Promise<string> {
    const res = await this.fetch(base, path);
    const html = await res.text();
    assert.equal(res.status, 200, `GET ${path}: ${html.slice(0, 300)}`);
    this.csrf = csrfFrom(html);
    return html;
  }

  /** POSTs a form with the last page's token; the response body is drained. */
  async form(
    base: string,
    path: string,
    fields: Record<string, string>,
  ): Promise<Response> {
    const res = await this.fetch(base, path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ ...fields, _csrf: this.csrf }).toString(),
    });
    await res.body?.cancel();
    return res;
  }

  /** POSTs JSON; returns the status and the parsed body (null if not JSON). */
  async post(
    base: string,
    path: string,
    body: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> | null }> {
    const res = await this.fetch(base, path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: res.status, json };
  }

  async me(base: string): Promise<Me> {
    const res = await this.fetch(base, "/api/me");
    assert.equal(res.status, 200);
    return await res.json();
  }

  /** The logged-in username as `base` sees it, or null. */
  async user(base: string): Promise<string | null> {
    return (await this.me(base)).user?.username ?? null;
  }
}
