/**
 * Builds the island bundle: `deno bundle` (esbuild inside Deno, offline) of islands/client.ts
 * into static/build/islands-<hash>.js, and a manifest the server reads at start.
 * What an edge deployment runs before deploying.
 */
const root = new URL("../../", import.meta.url).pathname;
const outDir = `${root}static/build`;

/** Builds the bundle; exits the process with 1 when `deno bundle` fails. */
export async function build(): Promise<void> {
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(outDir, { recursive: true });
  const tmp = `${outDir}/islands.tmp.js`;
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
  await Deno.writeTextFile(
    `${outDir}/manifest.json`,
    JSON.stringify({ islands: `/static/build/${name}` }) + "\n",
  );
  console.log(`build: static/build/${name} (${body.length} bytes)`);
}

if (import.meta.main) await build();
