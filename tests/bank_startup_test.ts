/** A broken question file stops the real server at start with one line naming it. */
import assert from "node:assert/strict";
import { ROOT } from "./helpers.ts";

Deno.test("the server refuses to start on a broken question file, with one line naming file, quiz and question", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const entry of [
        "main.ts",
        "deno.json",
        "deno.lock",
        "lib",
        "routes",
        "islands",
        "static",
        "data",
      ]
    ) {
      await new Deno.Command("cp", { args: ["-r", `${ROOT}${entry}`, dir] })
        .output();
    }
    await Deno.symlink(`${ROOT}node_modules`, `${dir}/node_modules`);
    const file = `${dir}/data/quizzes/http.ts`;
    const text = await Deno.readTextFile(file);
    // The first question's correct choice, pushed out of range.
    await Deno.writeTextFile(
      file,
      text.replace(/correct: \d+,/, "correct: 9,"),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts"],
      cwd: dir,
      env: { PORT: "0", KV_PATH: ":memory:" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 1);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(
      stderr,
      /^mcq-edge: data\/quizzes\/http\.ts: quiz "http", question "[a-z0-9-]+": .*out of range/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
