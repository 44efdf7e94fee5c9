/**
 * mcq-edge: builds the app from the environment and serves it. `deno run main.ts` serves
 * (`deno task start` runs the same server, lib/cli/server.ts, with the permissions the
 * configuration needs); the default export is the same app for `deno serve` (also
 * `deno serve --parallel`).
 */
import { type App } from "./lib/server/app.ts";
import { appFromEnv, serve, startUp } from "./lib/server/serve.ts";
import { routes } from "./routes/_table.ts";

let app: Promise<App> | undefined;

export default {
  fetch(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Response> {
    app ??= appFromEnv({ routes });
    return app.then((serve) => serve(req, info));
  },
};

/**
 * Whether `deno serve` (also `--parallel`, in each worker) serves the default export. Deno
 * sets `import.meta.main` under both `deno run` and `deno serve` and cannot tell which
 * (denoland/deno#29447); `deno serve` reads `Deno.serve` once this module has been evaluated,
 * so that read is watched for, until the next task, and the original property put back.
 */
function servedByDenoServe(): Promise<boolean> {
  const original = Object.getOwnPropertyDescriptor(Deno, "serve")!;
  const serve = Deno.serve;
  let read = false;
  Object.defineProperty(Deno, "serve", {
    configurable: true,
    get: () => (read = true, serve),
  });
  return new Promise((resolve) =>
    setTimeout(() => {
      Object.defineProperty(Deno, "serve", original);
      resolve(read);
    }, 0)
  );
}

if (import.meta.main) {
  const parts = { routes };
  // Settings, questions and store are checked while this module is evaluated, so a bad one
  // stops it with one line (once it has been evaluated, `deno run` prints a hint first).
  const ready = await startUp();
  // Not awaited: `deno serve` only looks at the default export once this module is done.
  servedByDenoServe().then(async (byDeno) => {
    // Under `deno serve`, the app is built now, not at the first request.
    if (byDeno) app ??= appFromEnv(parts, ready);
    else await serve(parts, ready);
  });
}
