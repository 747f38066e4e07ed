"""Counting what a request asks of its store, per command or statement.

The counting is :mod:`devkit.traffic`'s, the tests' own; here it is fitted to
the benchmark's counting pass, separate from the timed runs: started before a
batch of requests, stopped after it, counted by command.

- Redis: ``MONITOR`` (:func:`devkit.traffic.redis_traffic`), which shows the
  commands that a Lua script runs inside one ``EVALSHA`` as coming from
  ``lua``: those are no round trips. Checked against the deltas of ``INFO
  commandstats``, which count every command the server ran.
- PostgreSQL: on the wire, through :class:`devkit.traffic.PostgresRelay`: a
  round trip per simple query and per ``Sync``, so statements, ``BEGIN``,
  ``COMMIT`` and a connection pool's pre-ping alike (none of which but
  statements the store sends today). Only the app that is counted connects
  through the relay (:meth:`Counter.route`); the timed ones connect directly.
- SQLite: in process, so no round trips; the statements that the SQLite
  library runs (:func:`devkit.traffic.sqlite_traffic`), with the ``BEGIN``
  and ``COMMIT`` that the ``sqlite3`` module adds on its own.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import typing as t

from devkit.traffic import (
    PostgresRelay,
    SQLiteTraffic,
    Traffic,
    redis_traffic,
    sqlite_traffic,
)

if t.TYPE_CHECKING:
    from .apps import Backends

Counts = collections.Counter[str]


class Counter(t.Protocol):
    """Counts what the store was asked between :meth:`start` and :meth:`stop`."""

    #: What a count means, for the table's legend.
    unit: str

    def route(self, backends: Backends) -> Backends:
        """The servers of the app to count: ``backends``, or the counter's
        own address where it sits between the app and the server."""
        ...

    def start(self) -> None: ...

    def stop(self) -> tuple[Counts, Counts]:
        """Round trips by command, and commands run inside scripts."""
        ...

    def close(self) -> None: ...


class RedisCounter:
    """Round trips from ``MONITOR``, checked against ``INFO commandstats``.

    :param url: the server's ``redis://`` URL.
    """

    unit = "Redis round trips (MONITOR; checked against INFO commandstats)"

    def __init__(self, url: str) -> None:
        import redis

        kwargs = redis.ConnectionPool.from_url(url).connection_kwargs
        self.host: str = kwargs["host"]
        self.port: int = kwargs["port"]
        self._block = contextlib.ExitStack()
        self._traffic: Traffic | None = None

    def route(self, backends: Backends) -> Backends:
        return backends

    def start(self) -> None:
        measuring = redis_traffic(self.host, self.port, check_commandstats=True)
        self._traffic = self._block.enter_context(measuring)

    def stop(self) -> tuple[Counts, Counts]:
        self._block.close()  # reads MONITOR up to here
        assert self._traffic is not None, "stop() without start()"
        traffic, self._traffic = self._traffic, None
        top = collections.Counter(traffic.names)
        return top, collections.Counter(traffic.script_calls)

    def close(self) -> None:
        self._block.close()


class PostgresCounter:
    """Round trips on the wire, through a relay to the server.

    :param url: the SQLAlchemy URL of the database.
    """

    unit = (
        "PostgreSQL round trips on the wire (a relay counts each simple query"
        " and each Sync: statements, BEGIN, COMMIT and pre-pings alike)"
    )

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        parsed = sa.make_url(url)
        self.relay = PostgresRelay(parsed.host or "localhost", parsed.port or 5432)

    def route(self, backends: Backends) -> Backends:
        return dataclasses.replace(
            backends, postgres_url=self.relay.url(backends.postgres_url)
        )

    def start(self) -> None:
        self.relay.reset()

    def stop(self) -> tuple[Counts, Counts]:
        return collections.Counter(self.relay.messages), collections.Counter()

    def close(self) -> None:
        self.relay.close()


class SQLiteCounter:
    """Statements that SQLite runs, on every engine's connections."""

    unit = (
        "SQLite statements that the library runs (its trace callback), BEGIN"
        " and COMMIT included; in process, so no round trips"
    )

    def __init__(self) -> None:
        self._block = contextlib.ExitStack()
        self._traffic: SQLiteTraffic | None = None

    def route(self, backends: Backends) -> Backends:
        return backends

    def start(self) -> None:
        self._traffic = self._block.enter_context(sqlite_traffic())

    def stop(self) -> tuple[Counts, Counts]:
        self._block.close()
        assert self._traffic is not None, "stop() without start()"
        traffic, self._traffic = self._traffic, None
        return collections.Counter(traffic.kinds), collections.Counter()

    def close(self) -> None:
        self._block.close()


def describe(top: Counts, inner: Counts, requests: int) -> tuple[float, str]:
    """Round trips per request, and their make-up (``GET 1 + SET 1``)."""
    total = sum(top.values()) / requests

    def per_request(counts: Counts) -> str:
        return " + ".join(
            f"{name} {count / requests:.3g}" for name, count in sorted(counts.items())
        )

    text = per_request(top) or "none"
    if inner:
        text += f" (inside scripts: {per_request(inner)})"
    return total, text
