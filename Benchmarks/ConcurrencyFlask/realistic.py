# The "realistic" workload of docs/concurrency.md on Flask + psycopg2, for Gunicorn, beside
# Benchmarks/ConcurrencyBench: per request `SELECT pg_sleep(0.02)` and a keyed select on `test`
# (10,000 rows, ../shared/bench/pg_harness.sh seed). It adds one route to the shared peer
# ../shared/bench/peers/flask/tfb.py and keeps that peer's connection handling as it is:
#   sync:   gunicorn -w 4 realistic:app                (one connection per worker)
#   gevent: gunicorn -k gevent -w 1 --worker-connections 12000 realistic:app
#           (psycogreen: psycopg2 waits on the gevent loop; a pool of PG_POOL connections)
# FLASK_PEER_DIR: the folder of tfb.py (scripts/bench-concurrency sets it).
import os
import random
import sys

sys.path.insert(0, os.environ["FLASK_PEER_DIR"])
from tfb import app, db  # noqa: E402  (the mode follows the worker, as in tfb.py)


@app.get("/realistic")
def realistic():
    with db() as cur:
        cur.execute("SELECT pg_sleep(0.02)")
        cur.fetchall()
        cur.execute("SELECT b FROM test WHERE a = %s", (random.randint(1, 10000),))
        row = cur.fetchone()
    return row[0] if row else ""
