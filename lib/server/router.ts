import type { Route } from "./context.ts";

export type { Route };

export interface Match {
  route: Route;
  params: Record<string, string>;
}

/** A path of literal segments and `:name` segments only, e.g. `/quiz/:quizId/answer`. */
const SIMPLE = /^(\/([A-Za-z0-9._~-]+|:[A-Za-z_][A-Za-z0-9_]*))+$/;

/** Literal segments then a final `/*`, e.g. `/static/*`. */
const PREFIX = /^((\/[A-Za-z0-9._~-]+)+)\/\*$/;

type Matcher = (pathname: string) => Record<string, string> | null;

/**
 * The URLPattern of `path`, or for a simple path an equivalent segment-by-segment matcher:
 * `:name` matches one non-empty segment, as URLPattern's does, without the cost of
 * `URLPattern.exec` on every request (a tenth of a quiz page's JavaScript time in the
 * benchmark profile, and a third of a static file's). A literal prefix then `/*` is a
 * prefix test. tests/router_test.ts checks they agree with URLPattern.
 */
export function matcherFor(path: string): Matcher {
  const prefixed = PREFIX.exec(path);
  if (prefixed) {
    // URLPattern's trailing `*` matches anything, slashes included, as group "0".
    const prefix = `${prefixed[1]}/`;
    return (pathname) =>
      pathname.startsWith(prefix) ? { 0: pathname.slice(prefix.length) } : null;
  }
  if (!SIMPLE.test(path)) {
    const pattern = new URLPattern({ pathname: path });
    return (pathname) => {
      const match = pattern.exec({ pathname });
      if (!match) return null;
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(match.pathname.groups)) {
        if (v !== undefined) params[k] = v;
      }
      return params;
    };
  }
  const segments = path.split("/");
  return (pathname) => {
    const parts = pathname.split("/");
    if (parts.length !== segments.length) return null;
    const params: Record<string, string> = {};
    for (let i = 1; i < segments.length; i++) {
      const want = segments[i];
      if (want.startsWith(":")) {
        if (parts[i] === "") return null;
        params[want.slice(1)] = parts[i];
      } else if (parts[i] !== want) return null;
    }
    return params;
  };
}

/**
 * An explicit route table: static paths from a Map first, then the patterns in order.
 * No filesystem scan at run time, so the same code runs on an edge platform.
 */
export function createRouter(
  routes: Route[],
): (pathname: string) => Match | null {
  const statics = new Map<string, Route>();
  const dynamic: { match: Matcher; route: Route }[] = [];
  for (const route of routes) {
    if (/[:*]/.test(route.path)) {
      dynamic.push({ match: matcherFor(route.path), route });
    } else statics.set(route.path, route);
  }
  return (pathname) => {
    const route = statics.get(pathname);
    if (route) return { route, params: {} };
    for (const { match, route } of dynamic) {
      const params = match(pathname);
      if (params) return { route, params };
    }
    return null;
  };
}
