import type { Ctx } from "../lib/server/context.ts";
import { HttpError } from "../lib/base/http_error.ts";

export const handler = {
  GET(ctx: Ctx) {
    // An exact lookup in the in-memory table: no path is ever joined onto the filesystem.
    const asset = ctx.services.assets.files.get(ctx.url.pathname);
    if (!asset) throw new HttpError(404, "Not found");
    const headers = new Headers({
      "content-type": asset.type,
      etag: asset.etag,
      "cache-control": asset.immutable
        ? "public, max-age=31536000, immutable"
        : "public, max-age=300",
    });
    if (ctx.req.headers.get("if-none-match") === asset.etag) {
      return new Response(null, { status: 304, headers });
    }
    return new Response(asset.body, { headers });
  },
};
