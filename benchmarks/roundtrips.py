"""Counting what a request asks of its store, per command or statement.

- Redis: the deltas of ``INFO commandstats`` count every command the server
  ran. Those include the commands that a Lua script runs inside one ``EVAL``,
  which are no round trips; so a ``MONITOR`` connection, which shows script
  commands as coming from ``lua``, tells them apart. Both are read over a
  counting pass separate from the timed runs (``MONITOR`` slows Redis down).
- PostgreSQL: the server's own ``pg_stat_statements`` (loaded by
  :func:`benchmarks.servers.postgres_server`), which sees every statement a
  client sends: ``BEGIN``, ``COMMIT`` and a connection pool's pre-ping too
  (none of which the store sends today).
- SQLite: in process, so no round trips; the statements SQLAlchemy executes
  and the commits it makes, through its event listeners.
"""

from __future__ import annotations

import collections
import re
import socket
import threading
import time
import typing as t
import uuid

if t.TYPE_CHECKING:
    import sqlalchemy as sa

Counts = collections.Counter[str]


class Counter(t.Protocol):
    """Counts what the store was asked between :meth:`start` and :meth:`stop`."""

    #: What a count means, for the table's legend.
    unit: str

    def start(self) -> None: ...

    def stop(self) -> tuple[Counts, Counts]:
        """Round trips by command, and commands run inside scripts."""
        ...

    def close(self) -> None: ...


# -- Redis ---------------------------------------------------------------------

_MONITOR_LINE = re.compile(r'^\+[\d.]+ \[\d+ (?P<source>\S+)\] "(?P<command>[^"]*)"')
#: Commands the counting itself sends.
_OWN_COMMANDS = frozenset(("echo", "info"))


class RedisCounter:
    """Round trips from ``MONITOR``, checked against ``INFO commandstats``.

    :param url: the server's ``redis://`` URL.
    """

    unit = "Redis round trips (MONITOR; checked against INFO commandstats)"

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        kwargs = self.client.connection_pool.connection_kwargs
        self.address = (kwargs["host"], kwargs["port"])
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._socket = socket.create_connection(self.address, timeout=5)
        self._socket.sendall(b"MONITOR\r\n")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._first = 0
        self._stats: dict[str, int] = {}

    def _read(self) -> None:
        buffer = b""
        try:
            while chunk := self._socket.recv(1 << 16):
                buffer += chunk
                *complete, buffer = buffer.split(b"\r\n")
                with self._seen:
                    self.lines.extend(
                        line.decode(errors="replace") for line in complete
                    )
                    self._seen.notify_all()
        except OSError:
            return

    def _sync(self) -> int:
        """Index in :attr:`lines` after everything sent so far was monitored."""
        token = uuid.uuid4().hex
        self.client.echo(token)
        deadline = time.monotonic() + 10
        with self._seen:
            while True:
                for index in range(len(self.lines) - 1, -1, -1):
                    if token in self.lines[index]:
                        return index + 1
                if time.monotonic() > deadline:
                    raise RuntimeError("MONITOR did not see the marker")
                self._seen.wait(0.5)

    def _commandstats(self) -> dict[str, int]:
        stats = self.client.info("commandstats")
        return {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
        }

    def start(self) -> None:
        self._first = self._sync()
        self._stats = self._commandstats()

    def stop(self) -> tuple[Counts, Counts]:
        after = self._commandstats()
        last = self._sync()
        top: Counts = collections.Counter()
        inner: Counts = collections.Counter()
        for line in self.lines[self._first : last]:
            match = _MONITOR_LINE.match(line)
            if match is None:
                continue
            command = match["command"].lower()
            if command in _OWN_COMMANDS:
                continue
            (inner if match["source"] == "lua" else top)[command.upper()] += 1
        server = sum(
            calls - self._stats.get(name, 0)
            for name, calls in after.items()
            if name.split("|")[0] not in _OWN_COMMANDS
        )
        if server != sum(top.values()) + sum(inner.values()):
            raise RuntimeError(
                f"INFO commandstats counted {server} commands, MONITOR"
                f" {sum(top.values())} + {sum(inner.values())} in scripts"
            )
        return top, inner

    def close(self) -> None:
        self._socket.close()
        self.client.close()


# -- SQL -----------------------------------------------------------------------


class PrePings:
    """Counts the pool's pre-pings on connections of one DB-API module.

    A pool made with ``pool_pre_ping`` (as :class:`SQLAlchemyStore` makes its
    engine from a URL) pings on each checkout, with a statement that no
    statement event sees (and, for psycopg, an empty query ``;`` that
    ``pg_stat_statements`` does not record either). SQLAlchemy has no public
    flag for it; ``_pre_ping`` is read for this count only.

    :param module: the DB-API module's name, e.g. ``"psycopg"`` or ``"sqlite3"``.
    """

    def __init__(self, module: str) -> None:
        import sqlalchemy as sa
        from sqlalchemy import event

        self.module = module
        self.count = 0
        event.listen(sa.pool.Pool, "checkout", self._checkout)

    def _checkout(self, dbapi_connection: t.Any, record: t.Any, proxy: t.Any) -> None:
        pool = getattr(proxy, "_pool", None)
        module = type(dbapi_connection).__module__.split(".")[0]
        if getattr(pool, "_pre_ping", False) and module == self.module:
            self.count += 1

    def close(self) -> None:
        import sqlalchemy as sa
        from sqlalchemy import event

        event.remove(sa.pool.Pool, "checkout", self._checkout)


class PostgresCounter:
    """Statements the PostgreSQL server ran, from ``pg_stat_statements``.

    Read over a connection of its own in autocommit mode, so that reading
    adds no ``BEGIN`` or ``ROLLBACK`` of its own to the counts.

    :param url: the SQLAlchemy URL of the database.
    """

    unit = (
        "PostgreSQL round trips: statements from pg_stat_statements, and"
        " PING for a pool's pre-ping (an empty query), where an engine pings"
    )

    def __init__(self, url: str) -> None:
        import psycopg
        import sqlalchemy as sa

        parsed = sa.make_url(url)
        self.pings = PrePings("psycopg")
        self.connection = psycopg.connect(
            host=parsed.host,
            port=parsed.port,
            user=parsed.username,
            dbname=parsed.database,
            autocommit=True,
        )
        self._before: Counts = collections.Counter()

    def _snapshot(self) -> Counts:
        rows = self.connection.execute(
            "SELECT s.query, s.calls FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = current_database()"
        ).fetchall()
        counts: Counts = collections.Counter()
        for text, calls in rows:
            if "pg_stat_statements" not in text:
                counts[statement_kind(text)] += int(calls)
        return counts

    def start(self) -> None:
        self._before = self._snapshot()
        self.pings.count = 0

    def stop(self) -> tuple[Counts, Counts]:
        counts = self._snapshot() - self._before
        if self.pings.count:
            counts["PING"] += self.pings.count
        return counts, collections.Counter()

    def close(self) -> None:
        self.pings.close()
        self.connection.close()


def statement_kind(text: str) -> str:
    """``SELECT``, ``INSERT``... or ``PING`` for a pool's ``SELECT 1``."""
    normalized = " ".join(text.split()).lower()
    if normalized in ("select 1", "select $1"):
        return "PING"
    return normalized.split(" ", 1)[0].upper()


# -- SQLite (in process) -------------------------------------------------------


class SqlEventCounter:
    """Statements and commits that SQLAlchemy makes on SQLite engines."""

    unit = (
        "SQLite statements, commits and pool pre-pings, if any (SQLAlchemy"
        " events); in process, so no round trips"
    )

    def __init__(self) -> None:
        import sqlalchemy as sa
        from sqlalchemy import event

        self.counts: Counts = collections.Counter()
        self.active = False
        self.pings = PrePings("sqlite3")
        self._listeners: list[tuple[str, t.Callable[..., None]]] = [
            ("before_cursor_execute", self._statement),
            ("commit", self._commit),
        ]
        for name, listener in self._listeners:
            event.listen(sa.Engine, name, listener)

    def _statement(self, connection: sa.Connection, *args: t.Any) -> None:
        if self.active and connection.engine.dialect.name == "sqlite":
            self.counts[statement_kind(str(args[1]))] += 1

    def _commit(self, connection: sa.Connection) -> None:
        if self.active and connection.engine.dialect.name == "sqlite":
            self.counts["COMMIT"] += 1

    def start(self) -> None:
        self.counts = collections.Counter()
        self.pings.count = 0
        self.active = True

    def stop(self) -> tuple[Counts, Counts]:
        self.active = False
        if self.pings.count:
            self.counts["PING"] += self.pings.count
        return self.counts, collections.Counter()

    def close(self) -> None:
        self.pings.close()
        import sqlalchemy as sa
        from sqlalchemy import event

        for name, listener in self._listeners:
            event.remove(sa.Engine, name, listener)


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
