/**
 * docs/DEPLOY.md's Linux steps, run as written for a non-root service user: a throwaway
 * system user, a copy of this checkout in a temporary directory it owns, the documented
 * install lines, then the documented start line, until `/healthz` answers. Needs root (to add
 * the user), so it is skipped otherwise; it removes the user and the directory, and stops
 * the server, whatever happens.
 */
import assert from "node:assert/strict";
import { freePort, ROOT } from "./helpers.ts";

const DOC = `${ROOT}docs/DEPLOY.md`;

/** The ```sh block after the `<!-- deploy-test: <name> ... -->` marker, as lines. */
function block(doc: string, name: string): string[] {
  const at = doc.indexOf(`<!-- deploy-test: ${name}`);
  assert.ok(at >= 0, `DEPLOY.md has no "${name}" block`);
  const match = doc.slice(at).match(/```sh\n([\s\S]*?)```/);
  assert.ok(match, `DEPLOY.md's "${name}" marker has no sh block`);
  return match[1].trim().split("\n");
}

/**
 * This machine's TLS and proxy settings (a CA bundle, a proxy), which may be what reaches npm
 * here; a server would not need them, so the documented lines do not carry them. Deno also
 * trusts the system's CA store, as root's configuration may make it do.
 */
function hostNetwork(): string {
  const names = [
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "DENO_CERT",
    "DENO_TLS_CA_STORE",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
  ];
  const vars = names.flatMap((name) => {
    const value = Deno.env.get(name);
    return value ? [`${name}='${value}'`] : [];
  });
  if (!Deno.env.get("DENO_TLS_CA_STORE")) {
    vars.push("DENO_TLS_CA_STORE=mozilla,system");
  }
  return vars.join(" ");
}

/** The documented line, for `user` with its home at `home`, as root runs it here. */
function adapt(line: string, user: string, home: string): string {
  return line
    .replaceAll("/srv/mcq-edge", home)
    .replaceAll(
      "sudo -u mcq-edge env ",
      // sudo's reset environment, without sudo (not installed everywhere).
      `setpriv --reuid=${user} --regid=${user} --init-groups --reset-env env ${hostNetwork()} `,
    )
    .replaceAll(
      "sudo -u mcq-edge ",
      `setpriv --reuid=${user} --regid=${user} --init-groups --reset-env `,
    )
    .replace(/^sudo /, "")
    .replace(/\bmcq-edge$/, user);
}

async function sh(script: string, cwd = "/"): Promise<void> {
  const out = await new Deno.Command("sh", {
    args: ["-ec", script],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${script}\n${text}`);
}

/** This checkout's files (tracked, and new ones not ignored), as the user's own copy at `to`. */
async function copyCheckout(user: string, to: string): Promise<void> {
  await sh(
    `mkdir -p '${to}' && chown ${user}: '${to}' && cd '${ROOT}' && ` +
      `git ls-files -coz --exclude-standard | ` +
      `tar --null -T - -cf - | setpriv --reuid=${user} --regid=${user} ` +
      `--init-groups tar -C '${to}' -xf -`,
  );
}

async function healthz(url: string, child: Deno.ChildProcess): Promise<void> {
  let ended = false;
  child.status.finally(() => ended = true);
  const deadline = Date.now() + 120_000;
  while (!ended && Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok && (await res.json()).ok === true) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the documented start never answered /healthz");
}

Deno.test({
  name:
    "DEPLOY.md's install and start lines, run as written for a non-root service user, serve /healthz",
  ignore: Deno.uid() !== 0,
  async fn() {
    const doc = await Deno.readTextFile(DOC);
    const user = `mcqtest${crypto.randomUUID().slice(0, 6)}`;
    const tmp = await Deno.makeTempDir({ prefix: "mcq-deploy-" });
    await Deno.chmod(tmp, 0o755); // the user must reach its home inside
    const home = `${tmp}/srv`;
    const install = block(doc, "install").map((l) => adapt(l, user, home));
    const port = freePort();
    const start = block(doc, "start").map((l) =>
      adapt(l, user, home).replace("PORT=8000", `PORT=${port}`)
    );
    let server: Deno.ChildProcess | undefined;
    let output: Promise<string> | undefined;
    try {
      const [addUser, ...rest] = install;
      assert.match(addUser, /^useradd /);
      await sh(addUser);
      // The clone, replaced by a copy of this checkout (uncommitted changes included).
      const clone = rest.findIndex((l) => l.includes("git clone"));
      assert.ok(clone >= 0, "the install block clones the repository");
      await copyCheckout(user, `${home}/app`);
      await sh(rest.filter((_, i) => i !== clone).join("\n"));

      const [cd, run] = start;
      server = new Deno.Command("sh", {
        args: ["-ec", `${cd}\nexec ${run}`],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      output = Promise.all([
        new Response(server.stdout).text(),
        new Response(server.stderr).text(),
      ]).then(([out, err]) => out + err);
      await healthz(`http://127.0.0.1:${port}`, server);
      // The KV file is the service user's, where the doc says.
      const kv = await Deno.stat(`${home}/app/data/kv`);
      assert.equal(kv.uid, Number(await idOf(user)));
    } finally {
      if (server) {
        try {
          server.kill("SIGTERM");
        } catch { /* ended */ }
        const guard = setTimeout(() => server!.kill("SIGKILL"), 15_000);
        const status = await server.status;
        clearTimeout(guard);
        const text = await output!;
        if (Deno.env.get("DEPLOY_TEST_VERBOSE")) console.log(text);
        assert.equal(status.code, 0, text);
        assert.doesNotMatch(text, /Permission denied|NotCapable|error/i, text);
      }
      await new Deno.Command("userdel", { args: [user] }).output();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

async function idOf(user: string): Promise<string> {
  const out = await new Deno.Command("id", { args: ["-u", user] }).output();
  return new TextDecoder().decode(out.stdout).trim();
}
