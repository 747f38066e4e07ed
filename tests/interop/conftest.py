"""Fixtures for the interop tests: the Node and Flask servers, a browser, Redis.

Servers are started once per configuration for the whole test session (a
configuration is the environment of ``server.js``, ``express_server.js`` or
``express_session_server.js``, see harness.py) and stopped at its end. Redis
comes from ``tests/conftest.py``'s ``redis_server``; the interop tests use
their own database number on it.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from tests.interop import harness
from tests.interop.flask_app import close_app, create_app

#: The Redis database the interop tests use (store tests use others).
REDIS_DB = 3

_HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "interop: runs the real koa-session (Node.js) next to Flask"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.interop)


_Node = t.TypeVar("_Node", bound=harness.NodeServer)


class ServerPool:
    """Koa, Express and Flask servers by configuration, started on first use."""

    def __init__(self) -> None:
        self._node: dict[
            tuple[type[harness.NodeServer], tuple[tuple[str, str], ...]],
            harness.NodeServer,
        ] = {}
        self._flask: dict[tuple[tuple[str, str], ...], harness.FlaskServer] = {}

    @staticmethod
    def _key(env: t.Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(env.items()))

    def _start(self, kind: type[_Node], env: t.Mapping[str, str]) -> _Node:
        key = (kind, self._key(env))
        if key not in self._node:
            self._node[key] = kind(env).start()
        server = self._node[key]
        assert isinstance(server, kind)
        return server

    def koa(self, env: t.Mapping[str, str]) -> harness.KoaServer:
        return self._start(harness.KoaServer, env)

    def express(self, env: t.Mapping[str, str]) -> harness.ExpressServer:
        """``express_server.js`` (Express with cookie-session) for ``env``."""
        return self._start(harness.ExpressServer, env)

    def express_session(self, env: t.Mapping[str, str]) -> harness.ExpressSessionServer:
        """``express_session_server.js`` (express-session, connect-redis)."""
        return self._start(harness.ExpressSessionServer, env)

    def flask(self, env: t.Mapping[str, str]) -> harness.FlaskServer:
        key = self._key(env)
        if key not in self._flask:
            server = harness.FlaskServer(create_app(env), env)
            self._flask[key] = server.start()
        return self._flask[key]

    def close(self) -> None:
        errors: list[BaseException] = []
        servers: list[harness.Server] = [*self._node.values(), *self._flask.values()]
        for server in servers:
            try:
                server.stop()
            except Exception as error:  # stop the others all the same
                errors.append(error)
            if isinstance(server, harness.FlaskServer):
                close_app(server.app)
        self._node.clear()
        self._flask.clear()
        if errors:
            raise errors[0]


@pytest.fixture(scope="session")
def node_modules() -> None:
    """Fails (never skips) when the Koa side is not installed."""
    try:
        harness.node_binary()
        harness.check_node_modules()
    except harness.HarnessError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def server_pool(node_modules: None) -> t.Iterator[ServerPool]:
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def browser() -> t.Iterator[harness.Browser]:
    """A fresh cookie jar that visits both servers."""
    browser = harness.Browser()
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def interop_redis_url(redis_server: t.Any) -> str:
    """A database of the test Redis server that only the interop tests use."""
    return f"redis://{redis_server.host}:{redis_server.port}/{REDIS_DB}"


@pytest.fixture(scope="session")
def interop_redis(interop_redis_url: str) -> t.Iterator[t.Any]:
    """A redis-py client (str replies) on :func:`interop_redis_url`."""
    import redis

    client = redis.Redis.from_url(interop_redis_url, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()
