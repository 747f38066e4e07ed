"""Count what a block of code asks of a real Redis or SQL database.

One implementation for the tests (``tests/test_redis_round_trips.py``,
``tests/test_sql_round_trips.py``) and the benchmarks' counting pass
(``benchmarks/roundtrips.py``).

- Redis: :func:`redis_traffic`. Redis's ``MONITOR`` reports every command it
  runs, in order, and marks those that a Lua script called (``[0 lua]``), so
  a script counts as the one round trip it is while its inner calls stay
  visible. ``INFO commandstats`` would count a script's inner calls as
  commands of their own and cannot tell them apart (it can check the total:
  ``check_commandstats``). Usage::

      with redis_traffic(host, port, db=8) as traffic:
          client.get("/write")
      assert traffic.names == ["GET", "SET"]
      assert traffic.round_trips == 2

  Only commands on database ``db`` (all databases when ``None``) count, and
  none of the helper's own. Everything else that reaches the server meanwhile
  counts, so measure while nothing else uses it, and after the code under
  test has opened its connections: a new redis-py connection sends ``HELLO``
  (and ``CLIENT SETINFO``) first, which would count too.
- PostgreSQL: :class:`PostgresRelay`, a TCP relay between the clients and a
  real server that reads the frontend protocol as it passes. A client waits
  for the server once per simple ``Query`` message and once per ``Sync``
  (the end of an extended-protocol exchange: Parse, Bind, Execute...), so
  these are its round trips: statements, ``BEGIN`` and ``COMMIT``, and a
  pool's pre-ping alike. The relay can also cut a connection instead of
  passing on the server's next reply, as a network that fails after the
  server has run a statement would.
- SQLite: :func:`sqlite_traffic`, the statements the SQLite library itself
  runs on the engine's connections (``sqlite3``'s trace callback), including
  the ``BEGIN`` and ``COMMIT`` that the ``sqlite3`` module adds on its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import sqlite3
import struct
import threading
import typing as t
import uuid

import redis
import sqlalchemy as sa

# -- Redis --------------------------------------------------------------------

#: Seconds to wait for MONITOR to deliver a command before failing.
TIMEOUT = 5.0
#: The most commands one measurement may see: a bound on the reading loop.
MAX_COMMANDS = 10_000


@dataclasses.dataclass(frozen=True)
class Command:
    """One command that Redis ran."""

    #: Upper-case command name: ``"GET"``, ``"EVALSHA"``...
    name: str
    #: The arguments as MONITOR shows them (quoted).
    arguments: str
    #: Called by a Lua script, so not a round trip of its own.
    from_script: bool


@dataclasses.dataclass
class Traffic:
    """The commands seen during a :func:`redis_traffic` block, in order."""

    commands: list[Command] = dataclasses.field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The names of the commands clients sent (a script's inner calls left
        out), in order."""
        return [command.name for command in self.commands if not command.from_script]

    @property
    def round_trips(self) -> int:
        """How many commands clients sent."""
        return len(self.names)

    @property
    def script_calls(self) -> list[str]:
        """The names of the commands that scripts called, in order."""
        return [command.name for command in self.commands if command.from_script]


@contextlib.contextmanager
def redis_traffic(
    host: str, port: int, db: int | None = None, *, check_commandstats: bool = False
) -> t.Iterator[Traffic]:
    """Record the commands that reach Redis at ``host:port`` during the block.

    On leaving the block the helper sends a unique ``ECHO`` on a connection of
    its own and reads MONITOR's stream up to it, so every command the block
    sent is in :class:`Traffic` when the ``with`` statement ends.

    :param db: count only commands on this database.
    :param check_commandstats: also count the commands that the server ran
        during the block, on every database and scripts' inner calls
        included, from the deltas of ``INFO commandstats`` (read on the
        helper's connection), and fail unless MONITOR saw as many.
    :raise redis.exceptions.TimeoutError: when MONITOR is silent for
        ``TIMEOUT`` seconds before the marker.
    :raise AssertionError: when ``check_commandstats`` finds another count.
    """
    traffic = Traffic()
    helper = redis.Redis(host, port, socket_timeout=TIMEOUT)
    marker = f"redis-traffic-end-{uuid.uuid4().hex}"
    try:
        with helper.monitor() as monitor:
            before = _commands_run(helper) if check_commandstats else 0
            yield traffic
            # Not the first INFO's own call: a command's count goes up after
            # it ran.
            ran = _commands_run(helper) - before - 1 if check_commandstats else 0
            helper.echo(marker)
            seen: list[dict[str, t.Any]] = []
            for _ in range(MAX_COMMANDS):
                entry = monitor.next_command()
                if entry["command"] == f"ECHO {marker}":
                    own = (entry["client_address"], entry["client_port"])
                    break
                seen.append(entry)
            else:
                raise AssertionError(
                    f"MONITOR sent over {MAX_COMMANDS} commands before the marker"
                )
    finally:
        helper.close()
    others = 0
    for item in seen:
        # The marker's connection is the helper's: leave out its set-up.
        if (item["client_address"], item["client_port"]) == own:
            continue
        others += 1
        if db is not None and item["db"] != db:
            continue
        name, _, arguments = item["command"].partition(" ")
        traffic.commands.append(
            Command(name.upper(), arguments, item["client_type"] == "lua")
        )
    if check_commandstats and ran != others:
        raise AssertionError(
            f"INFO commandstats counted {ran} commands, MONITOR {others}"
        )


def _commands_run(client: redis.Redis[t.Any]) -> int:
    """How many commands the server has run (``INFO commandstats``)."""
    stats = client.info("commandstats")
    return sum(int(value["calls"]) for value in stats.values())


# -- SQL ----------------------------------------------------------------------

#: The codes of the startup-phase requests that the server answers with one
#: byte before the real startup message (SSLRequest, GSSENCRequest).
_NEGOTIATIONS = (80877103, 80877104)


class PostgresRelay:
    """A TCP relay to a PostgreSQL server that counts round trips.

    :param host: the server's address.
    :param port: the server's port.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        #: Round trips by what they were: the first word of a simple query,
        #: or ``"SYNC"`` for an extended-protocol exchange.
        self.messages: list[str] = []
        self._cut_next_reply = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def round_trips(self) -> int:
        with self._lock:
            return len(self.messages)

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()

    def cut_next_reply(self) -> None:
        """Close the next connection that gets a reply, without passing the
        reply on: the server has done what the client asked, the client
        never hears of it."""
        with self._lock:
            self._cut_next_reply = True

    def break_connections(self) -> None:
        """Close every connection made so far, as a database restart does."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        _close(*sockets)

    def url(self, url: str) -> str:
        """``url`` (the server's SQLAlchemy URL) through the relay."""
        return (
            sa.make_url(url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target, timeout=10)
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(
                target=self._client_to_server, args=(client, server), daemon=True
            ).start()
            threading.Thread(
                target=self._server_to_client, args=(server, client), daemon=True
            ).start()

    def _client_to_server(self, client: socket.socket, server: socket.socket) -> None:
        buffer = b""
        started = False
        # The first word of each prepared statement, by name ("" unnamed).
        prepared: dict[bytes, str] = {}
        current = "SYNC"
        # Whether the exchange ran a statement (a Bind): one that only
        # parses a named statement is the driver preparing it ("PREPARE",
        # psycopg's once per connection and statement), not the store's.
        bound = False
        try:
            while chunk := client.recv(1 << 16):
                buffer += chunk
                while True:
                    if not started:
                        if len(buffer) < 8:
                            break
                        (length,) = struct.unpack("!i", buffer[:4])
                        (code,) = struct.unpack("!i", buffer[4:8])
                        if len(buffer) < length:
                            break
                        buffer = buffer[length:]
                        started = code not in _NEGOTIATIONS
                        continue
                    if len(buffer) < 5:
                        break
                    kind = buffer[:1]
                    (length,) = struct.unpack("!i", buffer[1:5])
                    if len(buffer) < 1 + length:
                        break
                    body, buffer = buffer[5 : 1 + length], buffer[1 + length :]
                    if kind == b"Q":
                        self._count(_first_word(body))
                    elif kind == b"P":  # Parse: name, query
                        name, query = body.split(b"\x00", 2)[:2]
                        current = prepared[name] = _first_word(query)
                    elif kind == b"B":  # Bind: portal, prepared statement
                        current = prepared.get(body.split(b"\x00", 2)[1], current)
                        bound = True
                    elif kind == b"S":
                        preparing = current != "SYNC" and not bound
                        self._count("PREPARE" if preparing else current)
                        current, bound = "SYNC", False
                # Passed on once counted: the server cannot answer (and the
                # client go on to what is counted next) before the count.
                server.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(client, server)

    def _server_to_client(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while chunk := server.recv(1 << 16):
                with self._lock:
                    cut, self._cut_next_reply = self._cut_next_reply, False
                if cut:
                    break
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(client, server)

    def _count(self, name: str) -> None:
        with self._lock:
            self.messages.append(name)


def _first_word(query: bytes) -> str:
    words = query.rstrip(b"\x00").decode(errors="replace").split()
    return words[0].upper() if words else "EMPTY"


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()


class SQLiteTraffic:
    """The statements SQLite ran on an engine's connections, in order."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def kinds(self) -> list[str]:
        """The first word of each statement, upper-case."""
        return [text.split(None, 1)[0].upper() for text in self.statements]


@contextlib.contextmanager
def sqlite_traffic(engine: sa.Engine | None = None) -> t.Iterator[SQLiteTraffic]:
    """Record what SQLite runs on ``engine``'s connections during the block.

    The trace callback is set on each connection as it is checked out, so
    connections already in the pool are traced too.

    :param engine: ``None`` traces the ``sqlite3`` connections of every
        engine, for code whose engine is out of reach (an app's store).
    """
    traffic = SQLiteTraffic()
    traced: list[t.Any] = []
    pools: t.Any = sa.pool.Pool if engine is None else engine.pool

    def checkout(dbapi_connection: t.Any, record: t.Any, proxy: t.Any) -> None:
        if engine is None and not isinstance(dbapi_connection, sqlite3.Connection):
            return
        dbapi_connection.set_trace_callback(traffic.statements.append)
        traced.append(dbapi_connection)

    sa.event.listen(pools, "checkout", checkout)
    try:
        yield traffic
    finally:
        sa.event.remove(pools, "checkout", checkout)
        for dbapi_connection in traced:
            with contextlib.suppress(Exception):
                dbapi_connection.set_trace_callback(None)
