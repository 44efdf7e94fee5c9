/**
 * mcq-edge: builds the app from the environment and serves it. `deno run main.ts` serves
 * (`deno task start` runs it with the permissions the configuration needs); the default
 * export is the same app for `deno serve` (also `deno serve --parallel`).
 */
import { quizFiles } from "./data/quizzes/index.ts";
import { type App } from "./lib/server/app.ts";
import { appFromEnv, serve } from "./lib/server/serve.ts";
import { routes } from "./routes/_table.ts";

let app: Promise<App> | undefined;

export default {
  fetch(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Response> {
    app ??= appFromEnv({ routes, quizFiles });
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

// Not awaited: `deno serve` only looks at the default export once this module has finished.
if (import.meta.main) {
  servedByDenoServe().then(async (byDeno) => {
    // Under `deno serve`, build the app now: a bad setting stops it at start, not at a request.
    if (byDeno) app ??= appFromEnv({ routes, quizFiles });
    else await serve({ routes, quizFiles });
  });
}
