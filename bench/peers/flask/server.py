"""Peer for `deno task bench`: Flask with Flask-Session on Redis, served by gunicorn, the
way a Flask app goes to production (Debian's python3-flask, python3-flask-session,
python3-redis and gunicorn).

    REDIS_URL=redis://127.0.0.1:6379 PORT=8007 \
        gunicorn -c bench/peers/flask/gunicorn.conf.py --chdir bench/peers/flask server:app

Sessions live in Redis (`session:<id>`, the pickled session dict with a TTL: Flask-Session's
defaults); the `sessionId` cookie holds the id. The site's hits are a Redis INCR (`hits`),
shared by every worker, so none is lost. Visits stay in the session, which Flask-Session
writes whole at the end of each request: concurrent requests of one session each write
their own copy and the last one wins (bench.ts counts how many visits that loses).
"""

import os

import redis
from flask import Flask, session
from flask_session import Session

app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("SESSION_SECRET", "bench-peer-secret-not-for-production"),
    SESSION_TYPE="redis",
    SESSION_REDIS=redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")),
    SESSION_COOKIE_NAME="sessionId",
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
)
Session(app)
hits_store = app.config["SESSION_REDIS"]


@app.get("/")
def index():
    session["visits"] = session.get("visits", 0) + 1
    hits = hits_store.incr("hits")
    return (
        "<!doctype html><html><head><title>Visits</title></head><body>"
        "<h1>Hello</h1><p>You have visited "
        f'<span id="visits">{session["visits"]}</span> times; the site has had '
        f'<span id="hits">{hits}</span> hits.</p></body></html>'
    )
