import { readJson } from "../../lib/server/body.ts";
import type { Ctx } from "../../lib/server/context.ts";
import { json } from "../../lib/server/http.ts";
import { HttpError } from "../../lib/base/http_error.ts";
import {
  changePassword,
  deleteAccount,
} from "../../lib/server/account_actions.ts";

function loggedIn(ctx: Ctx) {
  if (!ctx.session.record.user) throw new HttpError(401, "Log in first");
}

/** POST /api/account/password `{"password","newPassword"}`. */
export const password = {
  handler: {
    async POST(ctx: Ctx) {
      loggedIn(ctx);
      const body = await readJson(ctx.req, ctx.services.config.maxBodyBytes);
      await changePassword(ctx, body.password, body.newPassword);
      return json({ ok: true });
    },
  },
};

/** POST /api/account/delete `{"password"}`. */
export const remove = {
  handler: {
    async POST(ctx: Ctx) {
      loggedIn(ctx);
      const body = await readJson(ctx.req, ctx.services.config.maxBodyBytes);
      await deleteAccount(ctx, body.password);
      return json({ ok: true });
    },
  },
};
