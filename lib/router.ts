import type { RouteModule } from "./context.ts";

/**
 * - `page`, `api`: use the session, and count the hit and visit when they succeed.
 * - `admin-page`: uses the session but is not counted.
 * - `plain`: never touches the session (static files, health, the bearer-token admin API).
 */
export type RouteKind = "page" | "api" | "admin-page" | "plain";

export interface Route {
  path: string;
  module: RouteModule;
  kind: RouteKind;
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

/**
 * An explicit route table: static paths from a Map first, then URLPatterns in order.
 * No filesystem scan at run time, so the same code runs on an edge platform.
 */
export function createRouter(
  routes: Route[],
): (pathname: string) => Match | null {
  const statics = new Map<string, Route>();
  const dynamic: { pattern: URLPattern; route: Route }[] = [];
  for (const route of routes) {
    if (/[:*]/.test(route.path)) {
      dynamic.push({
        pattern: new URLPattern({ pathname: route.path }),
        route,
      });
    } else statics.set(route.path, route);
  }
  return (pathname) => {
    const route = statics.get(pathname);
    if (route) return { route, params: {} };
    for (const { pattern, route } of dynamic) {
      const match = pattern.exec({ pathname });
      if (match) {
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(match.pathname.groups)) {
          if (v !== undefined) params[k] = v;
        }
        return { route, params };
      }
    }
    return null;
  };
}
