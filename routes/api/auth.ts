import { readJson } from "../../lib/server/body.ts";
import { type Ctx, owner } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { credentialsFrom } from "../../lib/accounts/users.ts";

/** POST /api/login and POST /api/register: `{"username","password"}` → `{"user":{"username"}}`. */
function authRoute(mode: "login" | "register") {
  return {
    async POST(ctx: Ctx) {
      const credentials = credentialsFrom(
        await readJson(ctx.req, ctx.services.config.maxBodyBytes),
      );
      const username = await ctx.services.accounts[mode](
        owner(ctx),
        credentials,
        ctx.clientAddress(),
      );
      return json({ user: { username } });
    },
  };
}

export const login = { handler: authRoute("login") };
export const register = { handler: authRoute("register") };
