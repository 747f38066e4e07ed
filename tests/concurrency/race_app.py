"""The app that the concurrency tests serve with real gunicorn.

``create_app()`` reads its store from the environment, so that gunicorn can
build it in every worker (``gunicorn 'tests.concurrency.race_app:create_app()'``):

- ``KOA_RACE_STORE``: ``memory``, ``redis``, ``sqlite`` or ``postgresql``;
- ``KOA_RACE_URL``: the Redis URL, or the SQLAlchemy URL of the database
  (unused for ``memory``);
- ``KOA_RACE_TABLE``: the table of the SQL stores (default ``koa_sessions``).

It serves two apps over one store and one secret key, so that a cookie of one
is read by the other: the plain app at ``/`` and the same app with
``rolling=True`` under ``/rolling``. Their views:

- ``POST /write?key=K&value=V&sleep_ms=N``: read the session, sleep ``N`` ms
  (the race window), then set ``session[K] = V``;
- ``GET /read?sleep_ms=N``: read the session, sleep, change nothing (with
  ``rolling=True`` this still re-saves the entry);
- ``POST /login?user=U``: set ``session["user"]`` and ``session.regenerate()``;
- ``POST /logout``: ``session.destroy()``;
- ``POST /revoke-user?user=U``: ``koa.revoke_user(U)`` (the apps index
  sessions by ``session["user"]``: ``user_id_key``);
- ``GET /state``: the session as this request loads it, as JSON
  ``{"is_new": ..., "data": {...}}``; changes nothing (use the plain app);
- ``GET /healthz``: does not touch the session.

Every response says when things happened, in seconds since the epoch
(``time.time()``, comparable across the workers of one machine):
``X-Loaded-At`` (the session was loaded, in the view), ``X-View-End`` (the
view returned; the save comes after) and ``X-Done-At`` (the response started,
after the save). The tests use them to tell which requests really overlapped.
"""

from __future__ import annotations

import json
import os
import time
import typing as t

import flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from flask_koasession import KoaSession, session
from flask_koasession.stores import MemoryStore

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SECRET = "concurrency-tests-secret"
#: The longest race window a request may ask for, so that a bad query
#: cannot hang a worker.
MAX_SLEEP_MS = 5_000


def make_store() -> t.Any:
    """The store named by ``KOA_RACE_STORE``, one per worker process."""
    kind = os.environ.get("KOA_RACE_STORE", "")
    url = os.environ.get("KOA_RACE_URL", "")
    table = os.environ.get("KOA_RACE_TABLE", "koa_sessions")
    if kind == "memory":
        return MemoryStore()
    if kind == "redis":
        import redis

        from flask_koasession.stores import RedisStore

        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return RedisStore(client)
    if kind in ("sqlite", "postgresql"):
        from flask_koasession.stores import SQLAlchemyStore

        return SQLAlchemyStore(url, table=table)
    raise ValueError(
        f"KOA_RACE_STORE={kind!r}: expected memory, redis, sqlite or postgresql"
    )


def _stamp(response: flask.Response, header: str) -> None:
    response.headers[header] = repr(time.time())


def _sleep() -> None:
    milliseconds = min(flask.request.args.get("sleep_ms", 0, type=int), MAX_SLEEP_MS)
    if milliseconds > 0:
        time.sleep(milliseconds / 1000)


def _json(payload: object) -> flask.Response:
    return flask.Response(json.dumps(payload), mimetype="application/json")


def build_app(store: t.Any, *, rolling: bool) -> flask.Flask:
    """One Flask app with the race views, in store mode on ``store``."""
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    koa = KoaSession(app, store=store, rolling=rolling, user_id_key="user")

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @app.post("/write")
    def write() -> flask.Response:
        before = dict(session)  # loads the session
        loaded_at = time.time()
        _sleep()
        session[flask.request.args["key"]] = flask.request.args.get("value", "")
        response = _json({"before": before})
        response.headers["X-Loaded-At"] = repr(loaded_at)
        _stamp(response, "X-View-End")
        return response

    @app.get("/read")
    def read() -> flask.Response:
        data = dict(session)
        loaded_at = time.time()
        _sleep()
        response = _json({"data": data})
        response.headers["X-Loaded-At"] = repr(loaded_at)
        _stamp(response, "X-View-End")
        return response

    @app.post("/login")
    def login() -> flask.Response:
        _ = session.is_new  # loads the session
        loaded_at = time.time()
        session["user"] = flask.request.args["user"]
        session.regenerate()
        response = _json({"ok": True})
        response.headers["X-Loaded-At"] = repr(loaded_at)
        _stamp(response, "X-View-End")
        return response

    @app.post("/logout")
    def logout() -> flask.Response:
        _ = session.is_new
        loaded_at = time.time()
        session.destroy()
        response = _json({"ok": True})
        response.headers["X-Loaded-At"] = repr(loaded_at)
        _stamp(response, "X-View-End")
        return response

    @app.post("/revoke-user")
    def revoke_user() -> flask.Response:
        loaded_at = time.time()
        ended = koa.revoke_user(flask.request.args["user"])
        response = _json({"ended": ended})
        response.headers["X-Loaded-At"] = repr(loaded_at)
        _stamp(response, "X-View-End")
        return response

    @app.get("/state")
    def state() -> flask.Response:
        return _json({"is_new": session.is_new, "data": dict(session)})

    return app


class StampDone:
    """WSGI middleware adding ``X-Done-At`` when the response starts: Flask
    saves the session before it, so the stamp comes after the save."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> t.Iterable[bytes]:
        def stamped(status: str, headers: list[tuple[str, str]], *args: t.Any) -> t.Any:
            headers.append(("X-Done-At", repr(time.time())))
            return start_response(status, headers, *args)

        return self.app(environ, stamped)


def create_app() -> StampDone:
    """The plain app at ``/`` and the rolling one under ``/rolling``, one store."""
    store = make_store()
    plain = build_app(store, rolling=False)
    rolling = build_app(store, rolling=True)
    dispatcher = DispatcherMiddleware(plain.wsgi_app, {"/rolling": rolling.wsgi_app})
    return StampDone(dispatcher)
