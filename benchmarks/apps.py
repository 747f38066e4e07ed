"""The apps being compared: one Flask app per session variant, same views.

Every variant serves the same five views (the benchmark *cases*) and differs
only in its session interface. Only public API is used (``KoaSession``, the
stores, Flask-Session's documented configuration), so the benchmarks keep
working while the package's internals change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import typing as t

import flask
from flask.sessions import SessionInterface, SessionMixin

from flask_koasession import KoaSession, session

if t.TYPE_CHECKING:
    from flask import Flask, Request, Response

SECRET = "benchmark-secret"

#: What each case's view does; ``new`` is requested without a cookie, the
#: others with the cookie of a session that ``new`` made.
CASES: dict[str, str] = {
    "untouched": "a cookie is sent, the view never touches the session",
    "read": "the view reads 2 keys",
    "write": "the view increments a counter",
    "new": "no cookie; the view sets 2 keys",
    "regenerate": "the view regenerates the session (a login)",
}

Regenerate = t.Callable[[], None]
#: Installs a session on an app, given the servers; returns its regenerate
#: action. Clients it opens are closed by the exit stack.
Setup = t.Callable[["flask.Flask", "Backends", contextlib.ExitStack], Regenerate]


@dataclasses.dataclass(frozen=True)
class Backends:
    """Where the servers of the store variants are (empty: not started)."""

    redis_url: str = ""
    postgres_url: str = ""
    sqlite_path: str = ""

    ENV_PREFIX: t.ClassVar[str] = "KOA_BENCH_"

    def to_env(self) -> dict[str, str]:
        """Environment variables that :meth:`from_env` reads back."""
        return {
            f"{self.ENV_PREFIX}{field.name.upper()}": getattr(self, field.name)
            for field in dataclasses.fields(self)
        }

    @classmethod
    def from_env(cls, environ: t.Mapping[str, str] = os.environ) -> Backends:
        return cls(
            **{
                field.name: environ.get(f"{cls.ENV_PREFIX}{field.name.upper()}", "")
                for field in dataclasses.fields(cls)
            }
        )


class BareSession(dict[str, t.Any], SessionMixin):
    """A session that is a plain dict: nothing is loaded or saved."""


class BareSessionInterface(SessionInterface):
    """The zero: a session interface that does nothing at all."""

    def open_session(self, app: Flask, request: Request) -> BareSession:
        return BareSession()

    def save_session(
        self, app: Flask, session: SessionMixin, response: Response
    ) -> None:
        return None


def redis_client(url: str, **options: t.Any) -> t.Any:
    """A redis-py client configured as the docs recommend."""
    import redis

    return redis.Redis.from_url(
        url, socket_timeout=2, socket_connect_timeout=2, **options
    )


# -- variants -------------------------------------------------------------------


def _nothing() -> None:
    return None


def _koa_regenerate() -> None:
    session.regenerate()


def _setup_bare(
    app: Flask, backends: Backends, cleanup: contextlib.ExitStack
) -> Regenerate:
    app.session_interface = BareSessionInterface()
    return _nothing


def _setup_flask(
    app: Flask, backends: Backends, cleanup: contextlib.ExitStack
) -> Regenerate:
    def rewrite() -> None:
        # Flask's cookie session has no regenerate; the nearest is a forced
        # rewrite of the cookie with the same data.
        flask.session.modified = True

    return rewrite


def _setup_flask_session(
    app: Flask, backends: Backends, cleanup: contextlib.ExitStack
) -> Regenerate:
    from flask_session import Session  # the [bench] extra

    client = redis_client(backends.redis_url)
    cleanup.callback(client.close)
    # Flask-Session's defaults otherwise (SESSION_PERMANENT, Flask's
    # SESSION_REFRESH_EACH_REQUEST): what an app gets by following its docs.
    app.config.update(SESSION_TYPE="redis", SESSION_REDIS=client)
    Session(app)
    interface = t.cast(t.Any, app.session_interface)

    def regenerate() -> None:
        interface.regenerate(flask.session)

    return regenerate


def _setup_koa_cookie(
    app: Flask, backends: Backends, cleanup: contextlib.ExitStack
) -> Regenerate:
    KoaSession(app)
    return _koa_regenerate


def _koa_redis(*, merge: bool = True, **client_options: t.Any) -> Setup:
    def setup(
        app: Flask, backends: Backends, cleanup: contextlib.ExitStack
    ) -> Regenerate:
        from flask_koasession.stores import RedisStore

        client = redis_client(backends.redis_url, **client_options)
        cleanup.callback(client.close)
        KoaSession(app, store=RedisStore(client), **_merge_option(merge))
        return _koa_regenerate

    return setup


class _MergeOption(t.TypedDict, total=False):
    # Only merge: typed as all of KoaSessionOptions, it could hold store too.
    merge: bool


def _merge_option(merge: bool) -> _MergeOption:
    # Not given when True: the default, and a checkout from before the option
    # (issue 9) runs the same variants.
    return {} if merge else {"merge": False}


def _setup_koa_memory(
    app: Flask, backends: Backends, cleanup: contextlib.ExitStack
) -> Regenerate:
    from flask_koasession.stores import MemoryStore

    # No server, no round trip: what store mode costs in our own Python.
    KoaSession(app, store=MemoryStore())
    return _koa_regenerate


def _koa_sql(attribute: str, *, merge: bool = True) -> Setup:
    def setup(
        app: Flask, backends: Backends, cleanup: contextlib.ExitStack
    ) -> Regenerate:
        from flask_koasession.stores import SQLAlchemyStore

        # From a URL or path, as the docs show: the store makes the engine.
        store = SQLAlchemyStore(getattr(backends, attribute))
        cleanup.callback(store.close)
        create_table = getattr(store, "create_table", None)
        if callable(create_table):  # if table creation becomes explicit
            create_table()
        KoaSession(app, store=store, **_merge_option(merge))
        return _koa_regenerate

    return setup


def _koa_redis_cached() -> Setup:
    from redis.cache import CacheConfig

    return _koa_redis(protocol=3, cache_config=CacheConfig())


@dataclasses.dataclass(frozen=True)
class Variant:
    """One session set-up under test.

    :param label: its name in the tables.
    :param short: a shorter one, for narrow columns.
    :param anchor: the variant its ratio is taken against, if any.
    :param needs: the :class:`Backends` field it needs, if any.
    :param setup: installs the session on an app, returns the regenerate action.
    """

    label: str
    short: str
    anchor: str | None
    needs: str | None
    setup: t.Callable[[], Setup]


VARIANTS: dict[str, Variant] = {
    "bare": Variant("bare app (zero)", "bare", None, None, lambda: _setup_bare),
    "flask": Variant("Flask built-in", "Flask", None, None, lambda: _setup_flask),
    "flask-session": Variant(
        "Flask-Session 0.8 + Redis",
        "F-S Redis",
        None,
        "redis_url",
        lambda: _setup_flask_session,
    ),
    "koa-cookie": Variant(
        "ours, cookie", "ours cookie", "flask", None, lambda: _setup_koa_cookie
    ),
    "koa-redis": Variant(
        "ours, Redis", "ours Redis", "flask-session", "redis_url", lambda: _koa_redis()
    ),
    # MemoryStore: store mode without a server, so our own Python work in
    # store mode, beside cookie mode's.
    "koa-memory": Variant(
        "ours, MemoryStore",
        "ours memory",
        "koa-cookie",
        None,
        lambda: _setup_koa_memory,
    ),
    "koa-sqlite": Variant(
        "ours, SQLite",
        "ours SQLite",
        "flask-session",
        "sqlite_path",
        lambda: _koa_sql("sqlite_path"),
    ),
    "koa-postgresql": Variant(
        "ours, PostgreSQL",
        "ours PG",
        "flask-session",
        "postgres_url",
        lambda: _koa_sql("postgres_url"),
    ),
    # Client-side caching (section "cache"): RESP3 alone, then with the cache.
    "koa-redis-resp3": Variant(
        "ours, Redis RESP3",
        "ours RESP3",
        "koa-redis",
        "redis_url",
        lambda: _koa_redis(protocol=3),
    ),
    "koa-redis-cached": Variant(
        "ours, Redis RESP3 + client cache",
        "ours cached",
        "koa-redis",
        "redis_url",
        _koa_redis_cached,
    ),
    # koa's whole-entry, last-writer-wins saves (merge=False) beside the
    # default merged ones: the price of merging when nothing contends.
    "koa-redis-whole": Variant(
        "ours, Redis, merge=False",
        "Redis whole",
        "koa-redis",
        "redis_url",
        lambda: _koa_redis(merge=False),
    ),
    "koa-sqlite-whole": Variant(
        "ours, SQLite, merge=False",
        "SQLite whole",
        "koa-sqlite",
        "sqlite_path",
        lambda: _koa_sql("sqlite_path", merge=False),
    ),
    "koa-postgresql-whole": Variant(
        "ours, PostgreSQL, merge=False",
        "PG whole",
        "koa-postgresql",
        "postgres_url",
        lambda: _koa_sql("postgres_url", merge=False),
    ),
}

#: The variants of the main table, in table order.
MAIN_VARIANTS = (
    "bare",
    "flask",
    "koa-cookie",
    "koa-memory",
    "flask-session",
    "koa-redis",
    "koa-sqlite",
    "koa-postgresql",
)


def build_app(
    name: str, backends: Backends, cleanup: contextlib.ExitStack
) -> flask.Flask:
    """The benchmark app of variant ``name``; its clients close with ``cleanup``."""
    app = flask.Flask(f"bench_{name.replace('-', '_')}")
    app.secret_key = SECRET
    regenerate = VARIANTS[name].setup()(app, backends, cleanup)
    add_views(app, regenerate)
    return app


def add_views(app: Flask, regenerate: Regenerate) -> None:
    """One view per case of :data:`CASES`."""

    @app.get("/untouched")
    def untouched() -> str:
        return "ok"

    @app.get("/read")
    def read() -> str:
        return f"{flask.session.get('user_id')} {flask.session.get('name')}"

    @app.get("/write")
    def write() -> str:
        flask.session["views"] = flask.session.get("views", 0) + 1
        return "ok"

    @app.get("/new")
    def new() -> str:
        flask.session["user_id"] = 42
        flask.session["name"] = "Zoë"
        return "ok"

    @app.get("/regenerate")
    def regenerate_view() -> str:
        regenerate()
        return "ok"
