"""gunicorn settings for the Flask peer (bench/peers/flask/server.py).

Workers: one process per core (`os.cpu_count()`, 2 on the bench machine). Each process runs
Python under its own interpreter lock, so it uses at most about one core; more processes
than cores would only take turns, and wrk and Redis need CPU on the same machine. Threads:
4 per worker (the gthread worker) so that a request waiting on Redis does not hold its
worker up, and so connections are kept alive: the default sync worker closes every
connection, which would measure reconnects rather than sessions.
"""

import os

# Listen where the bench says, 127.0.0.1 only (gunicorn alone would take $PORT on 0.0.0.0).
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8007')}"
workers = os.cpu_count() or 2
worker_class = "gthread"
threads = 4
keepalive = 5
accesslog = None
graceful_timeout = 3  # the bench stops it with SIGTERM and waits 5 s
