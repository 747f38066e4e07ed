"""The complete example of koa-session's introduction, in Flask.

Run it with ``./scripts/run-example`` (or ``flask --app example_app run``).
Sessions live in signed cookies by default. To keep them in a store, set
``KOA_SESSION_STORE`` before starting:

- ``memory``: in this process only;
- ``redis://localhost:6379/0``: Redis, shared with a Koa app using koa-redis;
- ``sqlite:///sessions.db`` or ``postgresql+psycopg://user@host/db``: SQL.

``SECRET_KEY`` sets the signing key (``app.keys`` in Koa).
"""

from __future__ import annotations

import os
import typing as t

from flask import Flask, redirect, request, url_for
from werkzeug.wrappers import Response

# flask_koasession.session is flask.session, typed with koa's methods.
from flask_koasession import KoaSession, pop_flash, session, set_flash

if t.TYPE_CHECKING:
    from flask_koasession.stores import SessionStore


def store_from_env(url: str) -> SessionStore | None:
    """The store that ``KOA_SESSION_STORE`` names, or ``None`` for cookies."""
    if not url:
        return None
    if url == "memory":
        from flask_koasession.stores import MemoryStore

        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        from flask_koasession.stores import RedisStore

        return RedisStore(redis.Redis.from_url(url))
    from flask_koasession.stores import SQLAlchemyStore

    return SQLAlchemyStore(url)


def create_app(config: dict[str, t.Any] | None = None) -> Flask:
    """Build the example app; ``config`` overrides ``app.config`` (tests)."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY", "your-session-secret"),
        # The seed's CONFIG object, ported as it is.
        KOA_SESSION={
            "key": "koa:sess",
            "maxAge": 86_400_000,
            "autoCommit": True,
            "overwrite": True,
            "httpOnly": True,
            "signed": True,
            "rolling": False,
            "renew": False,
            "secure": os.environ.get("FLASK_ENV") == "production" or None,
        },
    )
    app.config.update(config or {})
    KoaSession(app, store=store_from_env(os.environ.get("KOA_SESSION_STORE", "")))

    @app.get("/")
    def views() -> str:
        n = session.get("views", 0) + 1
        session["views"] = n
        message = pop_flash()
        return f"{n} views" + (f"\n{message}" if message else "")

    @app.get("/set")
    def set_user() -> str:
        session["userId"] = request.args.get("userId", "1234")
        return "UserId set in session"

    @app.get("/get")
    def get_user() -> str:
        return f"User ID: {session.get('userId')}"

    @app.get("/login")
    def login() -> str:
        # A new session id on login prevents session fixation.
        session.regenerate()
        session["userId"] = request.args.get("userId", "1234")
        session["role"] = "admin"
        return f"Logged in as {session['userId']}"

    @app.get("/logout")
    def logout() -> str:
        session.destroy()
        return "Session Destroyed"

    @app.get("/flash")
    def flash_message() -> Response:
        set_flash("Flash Message Example")
        return redirect(url_for("views"))

    @app.get("/show-flash")
    def show_flash() -> str:
        return t.cast(str, pop_flash("No Flash Message"))

    return app
