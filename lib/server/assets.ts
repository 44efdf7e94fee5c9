/** A static file held in memory: no filesystem reads at request time, so it runs on the edge. */
export interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
  /** Versioned file name: cache forever. */
  immutable: boolean;
}

export interface Assets {
  files: Map<string, Asset>;
  /** URL of the island bundle, or null when it was not built. */
  islandsUrl: string | null;
}

const TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  txt: "text/plain; charset=utf-8",
  webmanifest: "application/manifest+json",
};

async function etagOf(body: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  return `"${
    Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0"))
      .join("")
  }"`;
}

async function walk(dir: string, prefix: string, out: Map<string, Asset>) {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      await walk(path, `${prefix}${entry.name}/`, out);
    } else if (entry.isFile) {
      const ext = entry.name.split(".").pop() ?? "";
      const body = await Deno.readFile(path);
      out.set(`/static/${prefix}${entry.name}`, {
        body,
        type: TYPES[ext] ?? "application/octet-stream",
        etag: await etagOf(body),
        immutable: prefix.startsWith("build/") &&
          /-[0-9a-f]{8,}\./.test(entry.name),
      });
    }
  }
}

/** Loads everything under `root` (normally `static/`) once, at start. */
export async function loadAssets(
  root = new URL("../../static", import.meta.url).pathname,
): Promise<Assets> {
  const files = new Map<string, Asset>();
  await walk(root, "", files);
  let islandsUrl: string | null = null;
  const manifest = files.get("/static/build/manifest.json");
  if (manifest) {
    islandsUrl = JSON.parse(new TextDecoder().decode(manifest.body)).islands ??
      null;
  }
  return { files, islandsUrl };
}
