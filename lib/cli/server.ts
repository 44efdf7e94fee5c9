/**
 * What `deno task start` runs: main.ts's server, without its default export. So `deno run`
 * has no `export default { fetch }` to print its "did you mean deno serve" hint about, and
 * a port in use is the one line `mcq-edge: PORT=...` and exit code 1.
 *
 * @module
 */
import { serve } from "../server/serve.ts";
import { routes } from "../../routes/_table.ts";

await serve({ routes });
