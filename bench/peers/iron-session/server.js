// Peer for `deno task bench`: a node:http server with iron-session, the usual choice for a
// session kept entirely in the cookie (the counterpart of mcq-edge's SESSION_MODE=cookie).
//
//   cd bench/peers/iron-session && npm ci && PORT=8006 node server.js
//
// The session (its visit count) is sealed into the `sessionId` cookie (iron: AES-256-CBC
// + HMAC-SHA-256) and re-issued by every response; nothing of it is stored on the server.
// The site's hits are a number in this process's memory (lost on restart, one process
// only): there is no store to count them in, unlike mcq-edge's cookie mode, which keeps
// them in KV. Concurrent requests with one cookie each start from the same visit count,
// so all but one of their visits are lost, by design of a cookie session.
"use strict";
const { createServer } = require("node:http");
const { getIronSession } = require("iron-session");

const options = {
  cookieName: "sessionId",
  password: process.env.SESSION_SECRET ||
    "bench-peer-secret-not-for-production-0123456789",
  cookieOptions: { httpOnly: true, sameSite: "lax", secure: false, path: "/" },
};
let hits = 0;

const server = createServer(async (req, res) => {
  if (req.method !== "GET" || req.url !== "/") {
    res.writeHead(404).end();
    return;
  }
  try {
    const session = await getIronSession(req, res, options);
    session.visits = (session.visits || 0) + 1;
    hits++;
    await session.save();
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(
      `<!doctype html><html><head><title>Visits</title></head><body>` +
        `<h1>Hello</h1><p>You have visited <span id="visits">${session.visits}</span> ` +
        `times; the site has had <span id="hits">${hits}</span> hits.</p></body></html>`,
    );
  } catch (error) {
    console.error(error);
    res.writeHead(500).end();
  }
});

const port = Number(process.env.PORT || 8006);
server.listen(port, process.env.HOST || "127.0.0.1", () => {
  console.log(`iron-session peer listening on ${port}`);
});
