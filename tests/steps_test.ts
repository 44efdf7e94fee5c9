/** Each step of the request pipeline (lib/server/steps.ts) on its own. */
import assert from "node:assert/strict";
import { HttpError } from "../lib/base/http_error.ts";
import type { Route, RouteModule } from "../lib/server/context.ts";
import {
  adminBearer,
  compose,
  errors,
  type Exchange,
  finish,
  head,
  noStore,
  route,
  sameOrigin,
  securityHeaders,
} from "../lib/server/steps.ts";
import { testConfig } from "../lib/base/config.ts";

const ok = () => Promise.resolve(new Response("hello", { status: 200 }));

function exchange(
  path = "/",
  init: RequestInit = {},
  routeOf: Partial<Route> | null = {},
): Exchange {
  const module: RouteModule = { handler: { GET: ok, POST: ok } };
  const r: Route | null = routeOf && {
    path,
    module,
    session: "counted",
    errors: "html",
    admin: "none",
    ...routeOf,
  };
  return {
    req: new Request(`http://localhost${path}`, init),
    url: new URL(`http://localhost${path}`),
    https: false,
    origin: "http://localhost",
    address: () => "127.0.0.1",
    match: r && { route: r, params: {} },
  };
}

Deno.test("compose() runs the steps in order around the last one", async () => {
  const order: string[] = [];
  const step =
    (name: string) => async (_x: Exchange, next: () => Promise<Response>) => {
      order.push(`${name} in`);
      const res = await next();
      order.push(`${name} out`);
      return res;
    };
  const run = compose([step("a"), step("b")], () => {
    order.push("last");
    return ok();
  });
  await (await run(exchange())).body?.cancel();
  assert.deepEqual(order, ["a in", "b in", "last", "b out", "a out"]);
});

Deno.test("finish applies its finishers in order, then logs method, path, status and the session's handle, never a cookie", async () => {
  const lines: string[] = [];
  const x = exchange("/quiz/http", { headers: { cookie: "sessionId=secret" } });
  const order: string[] = [];
  const mark = (name: string) => (_x: Exchange, r: Response) => {
    order.push(name);
    return r;
  };
  const res = await finish([mark("a"), mark("b")], (l) => lines.push(l))(
    x,
    () => {
      x.handle = "ab".repeat(32);
      return ok();
    },
  );
  await res.body?.cancel();
  assert.match(lines[0], /^GET \/quiz\/http 200 \d+\.\dms a?b?(ab)+$/);
  assert.doesNotMatch(lines[0], /secret/);
  assert.deepEqual(order, ["a", "b"]);
});

Deno.test("head answers HEAD with the GET's status and headers and no body", async () => {
  const res = head(exchange("/", { method: "HEAD" }), await ok());
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "");
  const get = head(exchange("/"), await ok());
  assert.equal(await get.text(), "hello");
});

Deno.test("securityHeaders adds the CSP and friends, and HSTS only over HTTPS", async () => {
  const plain = securityHeaders(exchange(), await ok());
  await plain.body?.cancel();
  assert.match(
    plain.headers.get("content-security-policy")!,
    /default-src 'self'/,
  );
  assert.equal(plain.headers.get("x-content-type-options"), "nosniff");
  assert.equal(plain.headers.get("strict-transport-security"), null);
  const x = { ...exchange(), https: true };
  const secure = securityHeaders(x, await ok());
  await secure.body?.cancel();
  assert.ok(secure.headers.get("strict-transport-security"));
});

Deno.test("noStore marks responses of routes with a session, and only those", async () => {
  const withSession = noStore(exchange(), await ok());
  await withSession.body?.cancel();
  assert.equal(withSession.headers.get("cache-control"), "no-store");
  assert.equal(withSession.headers.get("vary"), "Cookie");
  const none = noStore(
    exchange("/static/x", {}, { session: "none" }),
    await ok(),
  );
  await none.body?.cancel();
  assert.equal(none.headers.get("cache-control"), null);
});

Deno.test("errors answers an HttpError as a page or as JSON by the route's policy, with its headers", async () => {
  const fail = () =>
    Promise.reject(new HttpError(429, "Slow down", {}, { "Retry-After": "3" }));
  const page = await errors(exchange("/login"), fail);
  assert.equal(page.status, 429);
  assert.match(page.headers.get("content-type")!, /text\/html/);
  assert.match(await page.text(), /Slow down/);
  const api = await errors(
    exchange("/api/login", {}, { errors: "json" }),
    fail,
  );
  assert.equal(api.status, 429);
  assert.equal(api.headers.get("retry-after"), "3");
  assert.deepEqual(await api.json(), { error: "Slow down" });
  // No route: JSON under /api/, a page elsewhere.
  const unknownApi = await errors(exchange("/api/nope", {}, null), fail);
  assert.deepEqual(await unknownApi.json(), { error: "Slow down" });
});

Deno.test("errors turns anything else into a 500 that says nothing of the cause", async () => {
  const original = console.error;
  console.error = () => {};
  try {
    const res = await errors(
      exchange("/api/me", {}, { errors: "json" }),
      () => Promise.reject(new Error("secret detail")),
    );
    assert.equal(res.status, 500);
    assert.doesNotMatch(await res.text(), /secret detail/);
  } finally {
    console.error = original;
  }
});

Deno.test("route: 404 without a route, 404 for admin routes without ADMIN_TOKEN, 405 with Allow", async () => {
  const step = route(testConfig({ adminToken: undefined }));
  assert.throws(
    () => step(exchange("/nope", {}, null), ok),
    (e) => e instanceof HttpError && e.status === 404,
  );
  assert.throws(
    () => step(exchange("/admin", {}, { admin: "session" }), ok),
    (e) => e instanceof HttpError && e.status === 404,
  );
  assert.throws(
    () => step(exchange("/", { method: "DELETE" }), ok),
    (e) =>
      e instanceof HttpError && e.status === 405 &&
      e.headers.Allow === "GET, HEAD, POST",
  );
  const x = exchange("/", { method: "HEAD" });
  await (await step(x, ok)).body?.cancel();
  assert.ok(x.handler, "HEAD runs GET's handler");
  const withToken = route(testConfig({ adminToken: "t".repeat(40) }));
  await (await withToken(exchange("/admin", {}, { admin: "session" }), ok)).body
    ?.cancel();
});

Deno.test("sameOrigin refuses cross-site and foreign-origin unsafe requests, and lets the rest through", async () => {
  const post = (headers: Record<string, string>) =>
    exchange("/", { method: "POST", headers });
  const refused: Record<string, string>[] = [
    { "sec-fetch-site": "cross-site" },
    { origin: "http://evil.example" },
    { origin: "null" },
  ];
  for (const headers of refused) {
    assert.throws(
      () => sameOrigin(post(headers), ok),
      (e) => e instanceof HttpError && e.status === 403,
      JSON.stringify(headers),
    );
  }
  for (
    const x of [
      post({ origin: "http://localhost" }),
      post({}),
      exchange("/", { headers: { origin: "http://evil.example" } }),
    ]
  ) {
    await (await sameOrigin(x, ok)).body?.cancel();
  }
});

Deno.test("adminBearer checks the token on the admin API's routes only, before the handler", async () => {
  const seen: string[] = [];
  const gate = {
    requireBearer(req: Request, address: string) {
      seen.push(`${req.headers.get("authorization")} ${address}`);
      return req.headers.get("authorization") === "Bearer right"
        ? Promise.resolve()
        : Promise.reject(new HttpError(401, "no"));
    },
  };
  const step = adminBearer(gate);
  const api = (auth: string) =>
    exchange("/admin/kv", { headers: { authorization: auth } }, {
      admin: "bearer",
      session: "none",
    });
  await assert.rejects(
    () => step(api("Bearer wrong"), ok),
    (e) => e instanceof HttpError && e.status === 401,
  );
  await (await step(api("Bearer right"), ok)).body?.cancel();
  await (await step(exchange("/"), ok)).body?.cancel();
  assert.deepEqual(seen, ["Bearer wrong 127.0.0.1", "Bearer right 127.0.0.1"]);
  // Without ADMIN_TOKEN there is no gate: the admin API does not exist.
  assert.throws(
    () => adminBearer(null)(api("Bearer right"), ok),
    (e) => e instanceof HttpError && e.status === 404,
  );
});
