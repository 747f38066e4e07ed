"""Count the round trips a block of code makes to a real Redis server.

Redis's ``MONITOR`` reports every command it runs, in order, and marks those
that a Lua script called (``[0 lua]``), so a script counts as the one round
trip it is while its inner calls stay visible. ``INFO commandstats`` would
count a script's inner calls as commands of their own and cannot tell them
apart. Usage::

    with redis_traffic(host, port, db=8) as traffic:
        client.get("/write")
    assert traffic.names == ["GET", "SET"]
    assert traffic.round_trips == 2

Only commands on database ``db`` (all databases when ``None``) count, and
none of the helper's own. Everything else that reaches the server meanwhile
counts, so measure while nothing else uses it, and after the code under test
has opened its connections: a new redis-py connection sends ``HELLO`` (and
``CLIENT SETINFO``) first, which would count too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import typing as t
import uuid

import redis

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
def redis_traffic(host: str, port: int, db: int | None = None) -> t.Iterator[Traffic]:
    """Record the commands that reach Redis at ``host:port`` during the block.

    On leaving the block the helper sends a unique ``ECHO`` on a connection of
    its own and reads MONITOR's stream up to it, so every command the block
    sent is in :class:`Traffic` when the ``with`` statement ends.

    :param db: count only commands on this database.
    :raise redis.exceptions.TimeoutError: when MONITOR is silent for
        ``TIMEOUT`` seconds before the marker.
    """
    traffic = Traffic()
    helper = redis.Redis(host, port, socket_timeout=TIMEOUT)
    marker = f"redis-traffic-end-{uuid.uuid4().hex}"
    try:
        with helper.monitor() as monitor:
            yield traffic
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
    for item in seen:
        # The marker's connection is the helper's: leave out its set-up.
        if (item["client_address"], item["client_port"]) == own:
            continue
        if db is not None and item["db"] != db:
            continue
        name, _, arguments = item["command"].partition(" ")
        traffic.commands.append(
            Command(name.upper(), arguments, item["client_type"] == "lua")
        )
