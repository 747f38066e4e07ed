"""Shared fixtures: real servers started once per test session
(``devkit/servers.py`` starts them): redis_server, redis_sentinel,
redis_cluster, postgres_instance and postgres_server (its SQLAlchemy URL);
and ``clock``, the extension's clock frozen (see helpers.freeze_clock).

Tests that use one of them, Node.js (tests/interop's ``node_modules``) or
headless Chromium (tests/browser),
are marked ``needs_server``; ``-m "not needs_server"`` selects the rest,
which need nothing but Python packages (scripts/test-flask-versions runs
those against several Flask and Werkzeug versions).
"""

from __future__ import annotations

import shutil
import subprocess
import typing as t

import pytest

from devkit.servers import PostgresServer, RedisCluster, RedisSentinel, RedisServer
from tests.helpers import freeze_clock


def pytest_report_header() -> str:
    """Name the Node.js that runs the interop suite's Koa side (18.19 or later)."""
    node = shutil.which("node")
    if node is None:
        return "node: not on PATH"
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    return f"node: {version} ({node})"


#: Fixtures that start a server process (Redis, PostgreSQL) or need Node.js.
SERVER_FIXTURES = frozenset(
    {
        "redis_server",
        "redis_sentinel",
        "redis_cluster",
        "postgres_instance",
        "postgres_server",
        "node_modules",
        "chromium",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs_server: starts redis-server, PostgreSQL or gunicorn, or runs Node.js"
        " (set from the fixtures a test uses; by hand on a test that starts"
        " a server itself)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.needs_server)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The extension's clock, frozen at the real time: ``clock[0] += ms``."""
    return freeze_clock(monkeypatch)


# -- servers ------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[RedisServer]:
    """A real ``redis-server``; ``stop()`` and ``start()`` restart it in place."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_sentinel(
    tmp_path_factory: pytest.TempPathFactory,
) -> t.Iterator[RedisSentinel]:
    """A Sentinel with a master of its own, ``"mymaster"`` (its ``master``).

    Not ``redis_server``: Sentinel pings and queries its master every second,
    and tests count the commands that reach ``redis_server`` (``MONITOR``).
    """
    with (
        RedisServer(tmp_path_factory.mktemp("sentinel-master")) as master,
        RedisSentinel(tmp_path_factory.mktemp("sentinel"), master) as sentinel,
    ):
        yield sentinel


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[RedisCluster]:
    """A three-node Redis Cluster; connect to ``host``/``port`` (any node)."""
    with RedisCluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_instance() -> t.Iterator[PostgresServer]:
    """A real PostgreSQL server with an empty database.

    ``stop()`` and ``start()`` restart it in place; ``url`` is its SQLAlchemy
    URL.
    """
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server(postgres_instance: PostgresServer) -> str:
    """The SQLAlchemy URL of a real PostgreSQL test database:
    ``postgresql+psycopg://postgres@127.0.0.1:PORT/koasession_test``.
    """
    return postgres_instance.url
