# The microblog's home timeline in Flask, the peer of Carafe's Examples/Microblog in
# scripts/bench-microblog: the same tables, the same two queries (the viewer's counts, then a
# page of posts with their authors joined), a Jinja2 template of the same page, and the user
# logged in by Flask's signed session cookie (POST /login checks a Werkzeug password hash, as
# the Carafe app does).
#
#   sync:   DATABASE_URL=postgres://... SECRET_KEY=... gunicorn -w 4 -b 127.0.0.1:8000 app:app
#   gevent: PSYCOGREEN=1 DATABASE_URL=... SECRET_KEY=... gunicorn -k gevent -w 1 \
#               --worker-connections 1000 -b 127.0.0.1:8000 app:app
#
# Under gevent, psycogreen makes psycopg2 wait cooperatively, and up to POOL_SIZE (8)
# connections are shared by the greenlets; a sync worker holds one connection.
import os
import secrets

if os.environ.get("PSYCOGREEN"):
    from psycogreen.gevent import patch_psycopg
    patch_psycopg()

import psycopg2
from flask import Flask, abort, redirect, render_template, request, session
from werkzeug.security import check_password_hash

PER_PAGE = 20
app = Flask(__name__)
app.secret_key = os.environ["SECRET_KEY"]
app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
DATABASE_URL = os.environ["DATABASE_URL"]


class Pool:
    """Connections lent one request at a time: a gevent queue under gevent, else one per process."""

    def __init__(self, size):
        if os.environ.get("PSYCOGREEN"):
            from gevent.queue import Queue
            self.free = Queue()
            for _ in range(size):
                self.free.put(None)
        else:
            import queue
            self.free = queue.Queue()
            self.free.put(None)

    def run(self, sql, args, one=False):
        conn = self.free.get()
        try:
            if conn is None or conn.closed:
                conn = psycopg2.connect(DATABASE_URL)
                conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchone() if one else cur.fetchall()
        finally:
            self.free.put(conn)


pool = Pool(int(os.environ.get("POOL_SIZE", "8")))

PROFILE = """
SELECT u.id, u.username, u.created_at,
    (SELECT count(*) FROM posts WHERE user_id = u.id) AS posts,
    (SELECT count(*) FROM follows WHERE follower_id = u.id) AS following,
    (SELECT count(*) FROM follows WHERE followed_id = u.id) AS followers,
    EXISTS (SELECT 1 FROM follows WHERE follower_id = -1 AND followed_id = u.id) AS followed_by_viewer
FROM users u WHERE u.id = %s
"""
TIMELINE = """
SELECT p.id, p.user_id, u.username, p.body, p.created_at
FROM (SELECT followed_id FROM follows WHERE follower_id = %(viewer)s UNION ALL SELECT %(viewer)s) AS f (id)
JOIN users u ON u.id = f.id
CROSS JOIN LATERAL (
    SELECT id, user_id, body, created_at FROM posts WHERE posts.user_id = f.id
    ORDER BY created_at DESC, id DESC LIMIT %(inner)s
) AS p
ORDER BY p.created_at DESC, p.id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""


def csrf_token():
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    return session["csrf_token"]


@app.get("/")
def home():
    user_id = session.get("user_id")
    if user_id is None:
        return redirect("/login")
    page = request.args.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 10000:
        abort(400, f"page must be a whole number from 1 to 10000, not '{page}'.")
    page = int(page)
    profile = pool.run(PROFILE, (user_id,), one=True)
    if profile is None:
        session.clear()
        return redirect("/login")
    offset = (page - 1) * PER_PAGE
    rows = pool.run(TIMELINE, {"viewer": user_id, "inner": offset + PER_PAGE + 1, "limit": PER_PAGE + 1, "offset": offset})
    posts = [
        {"id": r[0], "username": r[2], "body": r[3], "time": r[4].isoformat(timespec="seconds")}
        for r in rows[:PER_PAGE]
    ]
    return render_template(
        "home.html",
        viewer=session["username"],
        csrf_token=csrf_token(),
        profile={"post_count": profile[3], "following": profile[4], "followers": profile[5]},
        posts=posts,
        page=page,
        prev=page - 1 if page > 1 else None,
        next=page + 1 if len(rows) > PER_PAGE else None,
    )


@app.get("/login")
def login_form():
    return render_template("login.html", csrf_token=csrf_token())


@app.post("/login")
def login():
    row = pool.run("SELECT id, username, password_hash FROM users WHERE username = %s", (request.form.get("username", ""),), one=True)
    if row is None or not check_password_hash(row[2], request.form.get("password", "")):
        return render_template("login.html", csrf_token=csrf_token(), error="Wrong username or password."), 401
    session["user_id"] = row[0]
    session["username"] = row[1]
    return redirect("/", code=303)
