/**
 * `deno task dev`: builds the island bundle, then serves. lib/cli/start.ts runs this under
 * `deno run --watch` with the permissions it derives from the config (plus writing
 * static/build), so any change to the app's modules (islands included) restarts it: rebuild,
 * serve.
 */
import { routes } from "../../routes/_table.ts";
import { serve } from "../server/serve.ts";
import { build } from "./build.ts";

await build();
await serve({ routes });
