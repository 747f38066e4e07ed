"""The benchmarks' Redis and PostgreSQL, started by ``devkit/servers.py``.

That module is the one implementation of the project's throw-away servers,
shared with the tests; it imports no pytest, so the benchmarks run with the
``[bench]`` extra alone (from a checkout, where ``devkit`` is importable).
Here: each server in a temporary directory, yielding its URL.
"""

from __future__ import annotations

import contextlib
import tempfile
import typing as t
from pathlib import Path

from devkit.servers import PostgresServer, RedisServer


@contextlib.contextmanager
def redis_server(binary: str | None = None) -> t.Iterator[str]:
    """Run a ``redis-server`` without persistence; yield its URL.

    :param binary: the server to run; Debian's ``redis-server`` by default.
    """
    with (
        tempfile.TemporaryDirectory(prefix="koa-bench-redis-") as directory,
        RedisServer(Path(directory), binary=binary) as server,
    ):
        yield server.url


@contextlib.contextmanager
def postgres_server(database: str = "koa_bench") -> t.Iterator[str]:
    """Run a throw-away PostgreSQL cluster; yield a SQLAlchemy URL of ``database``.

    Durability is off (``fsync``, ``synchronous_commit``) as in the tests: the
    benchmark measures our work and the round trips, not the disk.
    """
    with PostgresServer(database) as server:
        yield server.url
