/**
 * `deno task dev`: builds the island bundle, then serves. Run under `deno run --watch`, so
 * any change to the app's modules (islands included) restarts this script: rebuild, serve.
 */
import { serve } from "../../main.ts";
import { build } from "./build.ts";

await build();
await serve();
