/**
 * mcq-edge: builds the app from the environment and serves it. `deno run main.ts` serves
 * (`deno task start` runs it with the permissions the configuration needs); the default
 * export is the same app for `deno serve` (also `deno serve --parallel`).
 */
import { type App } from "./lib/server/app.ts";
import { appFromEnv, serve } from "./lib/server/serve.ts";
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

if (import.meta.main) await serve({ routes });
