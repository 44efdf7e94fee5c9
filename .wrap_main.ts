import "/tmp/ab/preload.ts";
import { serve, startUp } from "/work/main/lib/server/serve.ts";
import { routes } from "/work/main/routes/_table.ts";
await serve({ routes }, await startUp());
