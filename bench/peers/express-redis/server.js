// Peer for `deno task bench`: Express 5 + express-session with connect-redis, the setup a
// tutorial deploys once one process and its MemoryStore are not enough.
//
//   cd bench/peers/express-redis && npm ci && REDIS_URL=redis://127.0.0.1:6379 node server.js
//
// Sessions live in Redis (`sess:<id>`, a JSON string with a TTL; connect-redis' defaults);
// the site's hits are a Redis INCR (`hits`), so none is lost. Visits stay in the session
// object, which express-session saves whole when the response ends: concurrent requests
// of one session each write their own copy and the last one wins (bench.ts counts how
// many visits that loses). How durable Redis is depends on its appendfsync setting, which
// the bench chooses.
"use strict";
const { RedisStore } = require("connect-redis");
const express = require("express");
const session = require("express-session");
const { createClient } = require("redis");

const redis = createClient({ url: process.env.REDIS_URL });
redis.on("error", (error) => console.error("redis:", error.message));

const app = express();
app.use(session({
  store: new RedisStore({ client: redis }),
  name: "sessionId",
  secret: process.env.SESSION_SECRET || "bench-peer-secret-not-for-production",
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, sameSite: "lax" },
}));

app.get("/", async (req, res) => {
  req.session.visits = (req.session.visits || 0) + 1;
  const hits = await redis.incr("hits");
  res.type("html").send(
    `<!doctype html><html><head><title>Visits</title></head><body>` +
      `<h1>Hello</h1><p>You have visited <span id="visits">${req.session.visits}</span> ` +
      `times; the site has had <span id="hits">${hits}</span> hits.</p></body></html>`,
  );
});

const port = Number(process.env.PORT || 8004);
redis.connect().then(() => {
  app.listen(port, process.env.HOST || "127.0.0.1", () => {
    console.log(`express-redis peer listening on ${port}`);
  });
}, (error) => {
  console.error("redis:", error.message);
  process.exit(1);
});
