/** The admin API's `Authorization` header: the Bearer scheme in any case (RFC 9110). */
import assert from "node:assert/strict";
import { ADMIN_TOKEN, testApp } from "./helpers.ts";

Deno.test("the admin API accepts the Bearer scheme in any case, and still only with the right token", async () => {
  await using t = await testApp({ adminToken: ADMIN_TOKEN });
  const statusOf = async (authorization: string) => {
    const res = await t.request("/admin/kv", { headers: { authorization } });
    await res.body?.cancel();
    return res.status;
  };
  for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) {
    assert.equal(await statusOf(`${scheme} ${ADMIN_TOKEN}`), 200, scheme);
  }
  for (
    const wrong of [
      `bearer ${ADMIN_TOKEN}x`,
      `bearer${ADMIN_TOKEN}`,
      `Basic ${ADMIN_TOKEN}`,
      `xbearer ${ADMIN_TOKEN}`,
    ]
  ) {
    assert.equal(await statusOf(wrong), 401, wrong);
  }
});
