"""Peer for `deno task bench`: a session server of the kind a course on cookies teaches.

    PORT=8003 python3 bench/peers/python/server.py

http.server's ThreadingHTTPServer (a thread per connection), sessions in a dict keyed by a
uuid4 cookie, a visit count per session and a global hit count. No locking, as in the
course material: `+= 1` on shared state from several threads is a read-modify-write that
can lose updates (bench.ts measures how many). Changes from the textbook version, all
in its favour for the benchmark: HTTP/1.1 keep-alive (with Content-Length) so wrk does not
reconnect for every request, with TCP_NODELAY (else each response waits ~40 ms on a
delayed ACK); no per-request log line on stderr; a listen backlog of 128 instead of 5, so
wrk's 50 simultaneous connects are not dropped and retried.
"""

import os
import uuid
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SESSIONS = {}  # session id -> {"visits": n}
HITS = 0
COOKIE = "sessionId"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
    # and the client's delayed ACK hold every keep-alive response back by about 40 ms.
    disable_nagle_algorithm = True

    def do_GET(self):
        global HITS
        if self.path != "/":
            self.send_error(404)
            return
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        sid = cookie[COOKIE].value if COOKIE in cookie else None
        new = sid not in SESSIONS
        if new:
            sid = str(uuid.uuid4())
            SESSIONS[sid] = {"visits": 0}
        session = SESSIONS[sid]
        session["visits"] += 1
        HITS += 1
        body = (
            "<!doctype html><html><head><title>Visits</title></head><body>"
            "<h1>Hello</h1><p>You have visited "
            f'<span id="visits">{session["visits"]}</span> times; the site has had '
            f'<span id="hits">{HITS}</span> hits.</p></body></html>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if new:
            self.send_header(
                "Set-Cookie", f"{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax"
            )
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8003"))
    host = os.environ.get("HOST", "127.0.0.1")
    server = Server((host, port), Handler)
    print(f"python peer listening on {port}", flush=True)
    server.serve_forever()
