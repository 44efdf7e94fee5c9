// Peer for `deno task bench`: the usual Express 5 + express-session server, counting each
// session's visits and the site's hits, as a tutorial would write it.
//
//   cd bench/peers/express && npm install && PORT=8002 node server.js
//
// Sessions live in express-session's default MemoryStore (one process, lost on restart).
// express-session loads the session when a request arrives and saves the whole object
// when the response ends, so concurrent requests of one session each save their own copy:
// the last one wins and the other increments are lost (bench.ts measures how many).
"use strict";
const express = require("express");
const session = require("express-session");

const app = express();
let hits = 0;

app.use(session({
  name: "sessionId",
  secret: process.env.SESSION_SECRET || "bench-peer-secret-not-for-production",
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, sameSite: "lax" },
}));

app.get("/", (req, res) => {
  req.session.visits = (req.session.visits || 0) + 1;
  hits++;
  res.type("html").send(
    `<!doctype html><html><head><title>Visits</title></head><body>` +
      `<h1>Hello</h1><p>You have visited <span id="visits">${req.session.visits}</span> ` +
      `times; the site has had <span id="hits">${hits}</span> hits.</p></body></html>`,
  );
});

const port = Number(process.env.PORT || 8002);
app.listen(port, process.env.HOST || "127.0.0.1", () => {
  console.log(`express peer listening on ${port}`);
});
