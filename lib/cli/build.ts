/**
 * Builds the island bundle: `deno bundle` (esbuild inside Deno, offline) of islands/client.ts
 * into static/build/islands-<hash>.js, and a manifest the server reads at start.
 * What an edge deployment runs before deploying.
 *
 * Safe to run several at once (two `deno task start` from one checkout): each process writes
 * to its own temporary file outside static/ (a server starting meanwhile reads every file
 * there) and renames it into place, so readers see the old file or the new one, never a part.
 */
const root = new URL("../../", import.meta.url).pathname;
const outDir = `${root}static/build`;
/** In the project (rename needs the same filesystem) and gitignored. */
const tmpDir = `${root}tmp`;
/** Bundles of earlier builds are removed after this long (a server may be loading them). */
const STALE_MS = 10 * 60_000;

/** Writes `data` to `path` through a temporary file of this process and a rename. */
async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = await Deno.makeTempFile({ dir: tmpDir, prefix: "build-" });
  await Deno.writeTextFile(tmp, data);
  await Deno.rename(tmp, path);
}

/** Removes other bundles older than {@link STALE_MS}: never one a build or a start still uses. */
async function removeStale(keep: string): Promise<void> {
  for await (const entry of Deno.readDir(outDir)) {
    if (!/^islands-[0-9a-f]+\.js$/.test(entry.name) || entry.name === keep) {
      continue;
    }
    const path = `${outDir}/${entry.name}`;
    const info = await Deno.stat(path).catch(() => null);
    if (info?.mtime && Date.now() - info.mtime.getTime() > STALE_MS) {
      await Deno.remove(path).catch(() => {});
    }
  }
}

/** Builds the bundle; exits the process with 1 when `deno bundle` fails. */
export async function build(): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.mkdir(tmpDir, { recursive: true });
  const tmp = await Deno.makeTempFile({
    dir: tmpDir,
    prefix: "islands-",
    suffix: ".js",
  });
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "-o",
      tmp,
      `${root}islands/client.ts`,
    ],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!result.success) {
    await Deno.remove(tmp).catch(() => {});
    console.error("build: deno bundle failed");
    Deno.exit(1);
  }
  const body = await Deno.readFile(tmp);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  const hash = Array.from(
    digest.slice(0, 6),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const name = `islands-${hash}.js`;
  await Deno.rename(tmp, `${outDir}/${name}`);
  await writeAtomic(
    `${outDir}/manifest.json`,
    JSON.stringify({ islands: `/static/build/${name}` }) + "\n",
  );
  await removeStale(name);
  console.log(`build: static/build/${name} (${body.length} bytes)`);
}

if (import.meta.main) await build();
