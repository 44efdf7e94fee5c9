/**
 * The layout is a promise: each module imports only from its own layer or below, and no
 * imports go round in a loop. Layers, lowest first: lib/base, lib/sessions, lib/accounts,
 * lib/quiz, lib/server, islands, routes, then main.ts; lib/cli stands beside main.ts and
 * never imports it.
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers.ts";

const LAYERS = [
  "lib/base/",
  "lib/sessions/",
  "lib/accounts/",
  "lib/quiz/",
  "data/",
  "lib/server/",
  "islands/",
  "routes/",
  "main.ts",
  "lib/cli/",
];

function layerOf(path: string): number {
  const i = LAYERS.findIndex((l) => path === l || path.startsWith(l));
  if (i < 0) throw new Error(`${path} is in no layer`);
  return i;
}

async function sources(): Promise<string[]> {
  const out: string[] = ["main.ts"];
  async function walk(dir: string) {
    for await (const e of Deno.readDir(ROOT + dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (/\.tsx?$/.test(e.name)) out.push(path);
    }
  }
  for (const dir of ["lib", "routes", "islands", "data"]) await walk(dir);
  return out;
}

/** The project files `path` imports (relative specifiers only; npm: ones are outside). */
async function importsOf(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(ROOT + path);
  const found: string[] = [];
  for (
    const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)
  ) {
    const url = new URL(m[1], `file:///${path}`);
    found.push(url.pathname.slice(1));
  }
  return found;
}

Deno.test("every module imports only from its own layer or below", async () => {
  const upward: string[] = [];
  for (const path of await sources()) {
    for (const target of await importsOf(path)) {
      const ok = layerOf(target) <= layerOf(path) &&
        !(path.startsWith("lib/cli/") && target === "main.ts");
      if (!ok) upward.push(`${path} -> ${target}`);
    }
  }
  assert.deepEqual(upward, []);
});

Deno.test("no imports go round in a loop", async () => {
  const graph = new Map<string, string[]>();
  for (const path of await sources()) graph.set(path, await importsOf(path));
  const loops: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "open") {
      loops.push([...stack.slice(stack.indexOf(node)), node].join(" -> "));
      return;
    }
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) visit(next);
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) visit(node);
  assert.deepEqual(loops, []);
});
