"""A Redis that accepts connections and never answers (a stalled server).

Every Redis client we show or make must make such a request fail with
:class:`~flask_koasession.SessionStoreError` in bounded time, well inside
gunicorn's 30-second worker timeout: docs/stores.rst's, docs/performance.rst's,
and :func:`~flask_koasession.stores.store_from_url`'s (which the example app
uses). With socket timeouts alone, redis-py 6+ retries a timed-out command
many times: about 25 seconds per request with ``socket_timeout=2``.
"""

from __future__ import annotations

import pathlib
import re
import socket
import threading
import time
import typing as t

import flask
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from werkzeug.exceptions import InternalServerError

from example_app import StoreURLError, create_app
from flask_koasession import KoaSession, SessionStoreError
from flask_koasession.stores import RedisStore, SessionStore, store_from_url

#: The documented socket timeouts (seconds) and retries.
SOCKET_TIMEOUT = 2
RETRIES = 1
#: A stalled command costs one timeout per attempt: (1 + RETRIES) x 2 s = 4 s.
#: The bound leaves 2 s for everything else.
BOUND = (1 + RETRIES) * SOCKET_TIMEOUT + 2

DOCS = pathlib.Path(__file__).parent.parent / "docs" / "stores.rst"
PERFORMANCE = DOCS.parent / "performance.rst"


def documented_client(host: str, port: int) -> redis.Redis:
    """The client of docs/stores.rst's first example, on another address."""
    return redis.Redis(
        host=host,
        port=port,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), RETRIES),
    )


def test_the_docs_show_this_client() -> None:
    text = DOCS.read_text()
    for part in (
        f"socket_timeout={SOCKET_TIMEOUT}",
        f"socket_connect_timeout={SOCKET_TIMEOUT}",
        f"retry=Retry(NoBackoff(), {RETRIES})",
    ):
        assert part in text, part


@pytest.fixture
def stalled_redis() -> t.Iterator[tuple[str, int]]:
    """``(host, port)`` of a TCP server that accepts and never answers."""
    server = socket.create_server(("127.0.0.1", 0), backlog=64)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # the server socket was closed
                return
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()
    finally:
        server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        server.close()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()


#: The ways to a RedisStore on a Redis at an address: docs/stores.rst's
#: client, and store_from_url's.
STORES: dict[str, t.Callable[[tuple[str, int]], SessionStore]] = {
    "documented": lambda address: RedisStore(documented_client(*address)),
    "store_from_url": lambda address: store_from_url(
        f"redis://{address[0]}:{address[1]}/0"
    ),
}


@pytest.fixture(params=list(STORES))
def stalled_store(
    request: pytest.FixtureRequest, stalled_redis: tuple[str, int]
) -> SessionStore:
    """A RedisStore on the stalled Redis, made each of the ways."""
    return STORES[request.param](stalled_redis)


def stalled_app(store: SessionStore) -> flask.Flask:
    """An app on ``store``, with the documented 503 handlers."""
    app = flask.Flask(__name__)
    app.secret_key = "secret"
    KoaSession(app, store=store)

    @app.errorhandler(SessionStoreError)
    def store_failed_on_load(error: SessionStoreError) -> tuple[str, int]:
        return "Sessions are unavailable", 503

    @app.errorhandler(InternalServerError)
    def internal_error(error: InternalServerError) -> tuple[str, int]:
        if isinstance(error.original_exception, SessionStoreError):
            return "Sessions are unavailable", 503
        return "Internal Server Error", 500

    @app.get("/read")
    def read() -> str:
        return str(flask.session.get("user"))

    @app.get("/login")
    def login() -> str:
        flask.session["user"] = "ada"
        return "ok"

    return app


def signed_id_cookie(app: flask.Flask, session_id: str) -> str:
    from flask_koasession.cookies import Keygrip

    signature = Keygrip([t.cast(str, app.secret_key)]).sign(f"koa.sess={session_id}")
    return f"koa.sess={session_id}; koa.sess.sig={signature}"


def test_loading_from_a_stalled_redis_fails_within_the_bound(
    stalled_store: SessionStore,
) -> None:
    app = stalled_app(stalled_store)
    cookie = signed_id_cookie(app, "0b0f3f0e-7f52-4d59-9e6c-1a2b3c4d5e6f")
    started = time.monotonic()
    client = app.test_client(use_cookies=False)  # keeps the Cookie header given
    response = client.get("/read", headers={"Cookie": cookie})
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert elapsed < BOUND, f"{elapsed:.1f} s"


def test_saving_to_a_stalled_redis_fails_within_the_bound(
    stalled_store: SessionStore,
) -> None:
    app = stalled_app(stalled_store)
    started = time.monotonic()
    response = app.test_client().get("/login")  # a new session: one SET
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "Set-Cookie" not in response.headers
    assert elapsed < BOUND, f"{elapsed:.1f} s"


def test_the_example_app_gives_up_on_a_stalled_redis_at_start_up(
    stalled_redis: tuple[str, int],
) -> None:
    host, port = stalled_redis
    started = time.monotonic()
    with pytest.raises(StoreURLError, match="cannot reach the store"):
        create_app({"KOA_SESSION_STORE": f"redis://{host}:{port}/0"})
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"{elapsed:.1f} s"


def python_block(path: pathlib.Path, containing: str) -> str:
    """The ``code-block:: python`` of ``path`` that contains ``containing``."""
    blocks = re.findall(
        r"^\.\. code-block:: python\n\n((?:(?:    .*)?\n)+)",
        path.read_text(),
        flags=re.MULTILINE,
    )
    found = [block for block in blocks if containing in block]
    assert len(found) == 1, f"{len(found)} blocks with {containing!r} in {path}"
    return "\n".join(line.removeprefix("    ") for line in found[0].splitlines())


def test_the_performance_page_client_is_bounded(
    stalled_redis: tuple[str, int],
) -> None:
    # The client-side caching example, run as written but on the stalled
    # Redis: without its retry policy, about 27 seconds.
    host, port = stalled_redis
    code = python_block(PERFORMANCE, "CacheConfig")
    local = code.replace('host="localhost"', f'host="{host}", port={port}')
    assert local != code
    app = flask.Flask(__name__)
    app.secret_key = "secret"
    namespace: dict[str, t.Any] = {
        "app": app,
        "KoaSession": KoaSession,
        "RedisStore": RedisStore,
    }
    exec(local, namespace)  # our own documentation, as written
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        namespace["client"].get("key")
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"{elapsed:.1f} s"
