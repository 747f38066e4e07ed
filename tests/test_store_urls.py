"""store_from_url: each store from its URL, on real Redis, SQLite and
PostgreSQL servers; and the errors of a URL that names no usable store."""

from __future__ import annotations

import json
import pathlib
import sys
import typing as t
import uuid

import flask
import pytest
import redis
import sqlalchemy as sa

from devkit.servers import PostgresServer, RedisServer, redis_command
from flask_koasession import KoaSession
from flask_koasession.stores import (
    MemoryStore,
    RedisStore,
    SessionStore,
    SQLAlchemyStore,
    bounded_redis_client,
    store_from_url,
)
from flask_koasession.stores.urls import hide_password
from tests.store_contract import HOUR, PAYLOAD, fetch, put

PASSWORD = "hunter2"


def round_trip(store: SessionStore) -> str:
    """Write a session and read it back; return its id."""
    key = uuid.uuid4().hex
    put(store, key, PAYLOAD)
    assert fetch(store, key) == PAYLOAD
    return key


def test_memory() -> None:
    store = store_from_url(" memory\n")  # as an environment variable may hold it
    assert isinstance(store, MemoryStore)
    round_trip(store)


# -- Redis -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_redis(
    tmp_path_factory: pytest.TempPathFactory,
) -> t.Iterator[tuple[RedisServer, pathlib.Path]]:
    """A Redis of these tests' own, with a password and a Unix socket."""
    directory = tmp_path_factory.mktemp("redis-url")
    socket = directory / "redis.sock"
    with RedisServer(directory, ["--unixsocket", str(socket)]) as server:
        assert redis_command(server.port, "CONFIG", "SET", "requirepass", PASSWORD)
        yield server, socket


def raw_client(server: RedisServer, db: int) -> redis.Redis:
    return redis.Redis(server.host, server.port, db=db, password=PASSWORD)


def test_redis(private_redis: tuple[RedisServer, pathlib.Path]) -> None:
    server, _ = private_redis
    store = store_from_url(f"redis://:{PASSWORD}@{server.host}:{server.port}/3")
    assert isinstance(store, RedisStore)
    key = round_trip(store)
    client = raw_client(server, 3)
    try:
        assert 0 < t.cast(int, client.ttl(key)) <= HOUR / 1000
        assert raw_client(server, 0).exists(key) == 0
    finally:
        client.close()


def test_redis_over_a_unix_socket(
    private_redis: tuple[RedisServer, pathlib.Path],
) -> None:
    server, socket = private_redis
    store = store_from_url(f"unix://{socket}?db=4&password={PASSWORD}")
    key = round_trip(store)
    assert raw_client(server, 4).exists(key) == 1


def test_the_redis_client_is_bounded(
    private_redis: tuple[RedisServer, pathlib.Path],
) -> None:
    # What the stalled-Redis test measures, here as settings.
    server, _ = private_redis
    store = store_from_url(f"redis://:{PASSWORD}@{server.host}:{server.port}/0")
    assert isinstance(store, RedisStore)
    settings = t.cast(redis.Redis, store.client).connection_pool.connection_kwargs
    assert settings["socket_timeout"] == settings["socket_connect_timeout"] == 2
    assert settings["retry"].get_retries() == 1


def test_rediss_is_tls() -> None:
    # No TLS server here: the client is made, and would speak TLS.
    store = store_from_url("rediss://cache.example:6380/0")
    assert isinstance(store, RedisStore)
    pool = t.cast(redis.Redis, store.client).connection_pool
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["host"] == "cache.example"


def test_bounded_redis_client_takes_more_settings(
    private_redis: tuple[RedisServer, pathlib.Path],
) -> None:
    server, _ = private_redis
    url = f"redis://:{PASSWORD}@{server.host}:{server.port}/0"
    client = bounded_redis_client(url, decode_responses=True, socket_timeout=1)
    try:
        client.set("text", "é")
        assert client.get("text") == "é"
        settings = client.connection_pool.connection_kwargs
        assert (settings["socket_timeout"], settings["socket_connect_timeout"]) == (
            1,
            2,
        )
    finally:
        client.close()


# -- SQL ---------------------------------------------------------------------------


@pytest.fixture
def closing() -> t.Iterator[t.Callable[[SessionStore], SQLAlchemyStore]]:
    """Close the SQL stores a test makes (and drop their tables)."""
    stores: list[SQLAlchemyStore] = []

    def close(store: SessionStore) -> SQLAlchemyStore:
        assert isinstance(store, SQLAlchemyStore)
        stores.append(store)
        return store

    yield close
    for store in stores:
        store.index_table.drop(store.engine, checkfirst=True)
        store.table.drop(store.engine, checkfirst=True)
        store.close()


def test_sqlite_relative_path(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    closing: t.Callable[[SessionStore], SQLAlchemyStore],
) -> None:
    (tmp_path / "instance").mkdir()
    monkeypatch.chdir(tmp_path)
    store = closing(store_from_url("sqlite:///instance/sessions.db"))
    round_trip(store)
    assert (tmp_path / "instance" / "sessions.db").is_file()


def test_sqlite_absolute_path(
    tmp_path: pathlib.Path, closing: t.Callable[[SessionStore], SQLAlchemyStore]
) -> None:
    path = tmp_path / "sessions.db"
    url = f"sqlite:///{path}"
    assert url.startswith("sqlite:////")  # four slashes
    store = closing(store_from_url(url))
    round_trip(store)
    assert path.is_file()


def test_sqlite_three_slashes_meant_as_absolute(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="does not exist") as caught:
        store_from_url("sqlite:///srv/app/sessions.db")
    assert f"SQLite file '{tmp_path}/srv/app/sessions.db'" in str(caught.value)
    assert "use four slashes: 'sqlite:////srv/app/sessions.db'" in str(caught.value)
    assert not (tmp_path / "srv").exists()


@pytest.mark.parametrize(
    "scheme", ["postgresql+psycopg", "postgresql", "postgres"], ids=str
)
def test_postgresql(
    postgres_server: str,
    closing: t.Callable[[SessionStore], SQLAlchemyStore],
    scheme: str,
) -> None:
    url = sa.make_url(postgres_server).set(drivername=scheme)
    store = closing(store_from_url(url.render_as_string(hide_password=False)))
    assert store.engine.dialect.name == "postgresql"
    assert store.engine.dialect.driver == "psycopg"
    round_trip(store)


def test_postgresql_with_another_driver_named(
    postgres_instance: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A driver that is named is kept: here psycopg2, which is not installed.
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    url = sa.make_url(postgres_instance.url).set(drivername="postgresql+psycopg2")
    with pytest.raises(ImportError, match="needs the 'psycopg2' package"):
        store_from_url(url.render_as_string(hide_password=False))


# -- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", "'' is not a store URL."),
        ("sessions.db", "'sessions.db' is not a store URL."),
        ("Memory", "'Memory' is not a store URL."),
        ("memory://", "SQLAlchemy knows no database 'memory'"),
        ("redis:/localhost", "'redis:/localhost' is not a store URL."),
        ("://localhost", "'://localhost' is not a store URL."),
        ("ftp://example", "'ftp://example' is not a store URL: SQLAlchemy knows no"),
        (
            "postgresql+nosuchdriver://u@h/db",
            "SQLAlchemy knows no database 'postgresql+nosuchdriver'",
        ),
        (
            "redis://localhost:notaport/0",
            "not a Redis URL that redis-py can read (Port could not be cast",
        ),
        (
            "redis://localhost/sessions",
            "must be a number, as in '/0', not '/sessions'",
        ),
        (
            "redis://localhost/0?socket_timeout=soon",
            "not a Redis URL that redis-py can read",
        ),
        (
            "postgresql://u@h:notaport/db",
            "not a database URL that SQLAlchemy can read",
        ),
    ],
)
def test_not_a_store_url(url: str, expected: str) -> None:
    with pytest.raises(ValueError, match=r"store URL|Redis URL|database URL") as caught:
        store_from_url(url)
    message = str(caught.value)
    assert expected in message
    assert "sqlite:////absolute/path.db" in message  # the forms accepted


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{PASSWORD}@localhost:notaport/0",
        f"redis://user:{PASSWORD}@localhost/sessions",
        f"unix:///tmp/none.sock?db=x&password={PASSWORD}",
        f"nosuchdb://user:{PASSWORD}@localhost/db",
        f"postgresql://user:{PASSWORD}@localhost:notaport/db",
    ],
)
def test_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="URL") as caught:
        store_from_url(url)
    assert PASSWORD not in str(caught.value)
    assert "***" in str(caught.value)


def test_hide_password() -> None:
    assert hide_password("redis://:p@h/0") == "redis://:***@h/0"
    assert hide_password("redis://u:p@ss@h:1/0") == "redis://u:***@h:1/0"
    assert hide_password("redis://u@h/0?x=1") == "redis://u@h/0?x=1"
    assert hide_password("unix:///s.sock?password=p&db=1") == (
        "unix:///s.sock?password=***&db=1"
    )
    assert hide_password("sqlite:////srv/a:b@c.db") == "sqlite:////srv/a:b@c.db"


def test_not_a_string() -> None:
    with pytest.raises(TypeError, match="must be a str, got PosixPath"):
        store_from_url(pathlib.Path("sessions.db"))  # type: ignore[arg-type]


# -- missing extras: the package blocked as Python blocks an import --------------


def block(monkeypatch: pytest.MonkeyPatch, package: str, *modules: str) -> None:
    """Make ``import package`` fail, and the store ``modules`` import anew."""
    monkeypatch.setitem(sys.modules, package, None)
    for module in modules:
        monkeypatch.delitem(sys.modules, module, raising=False)


def test_redis_without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    block(monkeypatch, "redis", "flask_koasession.stores.redis")
    with pytest.raises(ImportError) as caught:
        store_from_url(f"redis://:{PASSWORD}@localhost/0")
    assert str(caught.value) == (
        "The store URL 'redis://:***@localhost/0' needs the redis package, which"
        " is not installed: pip install 'flask-koasession[redis]'."
    )


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("sqlite:///sessions.db", "sqlalchemy"),
        ("postgresql://app@db/app", "postgresql"),
        ("postgresql+psycopg://app@db/app", "postgresql"),
    ],
)
def test_sql_without_sqlalchemy(
    monkeypatch: pytest.MonkeyPatch, url: str, extra: str
) -> None:
    block(monkeypatch, "sqlalchemy", "flask_koasession.stores.sqlalchemy")
    with pytest.raises(ImportError) as caught:
        store_from_url(url)
    assert str(caught.value) == (
        f"The store URL {url!r} needs SQLAlchemy, which is not installed:"
        f" pip install 'flask-koasession[{extra}]'."
    )


def test_another_database_without_sqlalchemy(monkeypatch: pytest.MonkeyPatch) -> None:
    block(monkeypatch, "sqlalchemy", "flask_koasession.stores.sqlalchemy")
    with pytest.raises(ValueError, match="is not a store URL") as caught:
        store_from_url("mysql+pymysql://app@db/app")
    assert "pip install 'flask-koasession[sqlalchemy]'" in str(caught.value)


def test_postgresql_without_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    block(monkeypatch, "psycopg")
    with pytest.raises(ImportError, match="needs the 'psycopg' package") as caught:
        store_from_url("postgresql://app@db/app")
    assert str(caught.value).endswith(": pip install 'flask-koasession[postgresql]'.")


# -- the store option takes a URL ------------------------------------------------


def test_the_store_option_takes_a_url(redis_server: RedisServer) -> None:
    # KOA_SESSION = {"store": "redis://..."}: the store chosen in the config.
    url = f"redis://{redis_server.host}:{redis_server.port}/0"
    app = flask.Flask(__name__)
    app.secret_key = "secret"
    app.config["KOA_SESSION"] = {"store": url}
    KoaSession(app)

    @app.get("/")
    def count() -> str:
        flask.session["n"] = flask.session.get("n", 0) + 1
        return str(flask.session["n"])

    client = app.test_client()
    assert [client.get("/").text for _ in range(3)] == ["1", "2", "3"]
    store = app.extensions["koasession"].options.store
    assert isinstance(store, RedisStore)
    cookie = client.get_cookie("koa.sess")
    assert cookie is not None
    direct = redis.Redis(redis_server.host, redis_server.port)
    try:  # the entry is in that Redis, as koa-redis writes it
        assert json.loads(direct.get(cookie.value) or b"{}")["n"] == 3
    finally:
        direct.close()


def test_the_store_option_takes_memory() -> None:
    app = flask.Flask(__name__)
    KoaSession(app, store="memory")
    assert isinstance(app.extensions["koasession"].options.store, MemoryStore)


@pytest.mark.parametrize("name", ["store", "ContextStore"])
def test_a_bad_store_url_names_the_option(name: str) -> None:
    app = flask.Flask(__name__)
    if name == "store":
        with pytest.raises(ValueError, match=r"option store='mongodb://u:\*\*\*@h/x'"):
            KoaSession(app, store="mongodb://u:hunter2@h/x")
    else:
        # A store class where a factory function goes: every request would be
        # a 500; it is an error at set-up instead.
        with pytest.raises(TypeError, match=r"store=MemoryStore\(\)"):
            KoaSession(app, ContextStore=MemoryStore)
