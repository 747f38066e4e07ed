"""A session store in Redis that shares sessions with Koa apps using koa-redis."""

from __future__ import annotations

import math
import typing as t

try:
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.exceptions import (
        ClusterCrossSlotError,
        RedisClusterException,
        RedisError,
        ResponseError,
    )
    from redis.retry import Retry
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "RedisStore needs the redis package: pip install 'flask-koasession[redis]'"
    ) from error

from ..exceptions import SessionStoreError
from .base import Swapped, create_then_delete
from .text import ConditionalTextStore

if t.TYPE_CHECKING:
    from ..codec import MaxAge

#: Seconds that a client of :func:`bounded_redis_client` waits for a
#: connection, and for each reply.
BOUNDED_TIMEOUT = 2

#: How many times such a client tries a command again after a timeout or a
#: broken connection, at once.
BOUNDED_RETRIES = 1

# RedisClusterException (e.g. no node reachable) is not a RedisError.
_ERRORS = (RedisError, RedisClusterException)

#: ``DEL`` the key only if it holds a string, as a session entry does; else
#: leave it and return 0. One key, so it runs on any node of a cluster too.
DESTROY_SCRIPT = """\
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


#: ``SET`` the entry (``ARGV[2]``, with ``EX ARGV[3]`` unless that is empty)
#: only if it still holds the text loaded (``ARGV[1]``); else return the
#: text it holds now, or nil when it is gone. One key, as above.
REPLACE_SCRIPT = """\
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then
  return current
end
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 1
"""

#: ``DEL`` the entry only if it still holds the text loaded (``ARGV[1]``);
#: else return the text it holds now, or nil when it is gone.
DELETE_SCRIPT = """\
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then
  return current
end
redis.call('DEL', KEYS[1])
return 1
"""


#: ``SET KEYS[1] ARGV[1] NX`` (with ``EX ARGV[2]`` unless that is empty);
#: once created, ``DELETE_SCRIPT`` on ``KEYS[2]`` with ``ARGV[3]``: a
#: regenerated session's new entry, then its old one gone, in one round trip.
#: Returns 0 when ``KEYS[1]`` is taken (and leaves ``KEYS[2]`` alone), else
#: as ``DELETE_SCRIPT``. Two keys: not for a cluster, where they may live on
#: different nodes.
MOVE_SCRIPT = """\
local created
if ARGV[2] == '' then
  created = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else
  created = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
end
if not created then
  return 0
end
local current = redis.call('GET', KEYS[2])
if current ~= ARGV[3] then
  return current
end
redis.call('DEL', KEYS[2])
return 1
"""


def bounded_redis_client(url: str, **options: t.Any) -> Redis[t.Any]:
    """A redis-py client for ``url`` that gives up on a Redis that stalls
    (accepts connections, never answers) in about 4 seconds, rather than
    hanging the request past a worker timeout (gunicorn's is 30 seconds).

    ``redis.Redis.from_url(url)`` with 2-second connect and socket timeouts
    (:data:`BOUNDED_TIMEOUT`) and one retry without backoff
    (``Retry(NoBackoff(), 1)``), as :doc:`/stores` advises: a stalled command
    fails after two attempts, and the one retry still reconnects at once
    after Redis restarts. ``RedisStore`` raises the failure as
    :class:`~flask_koasession.exceptions.SessionStoreError`.

    :param url: ``redis://[[user]:password@]host[:port][/db]``,
        ``rediss://`` (TLS) or ``unix:///path/to/redis.sock``, as redis-py
        reads them. Settings in its query string (``?socket_timeout=10``)
        win over these, as in redis-py.
    :param options: more ``redis.Redis`` settings, or other values for
        these (``protocol=3``, ``socket_timeout=1``...).
    :raise ValueError: when redis-py cannot read ``url``.
    """
    settings: dict[str, t.Any] = {
        "socket_timeout": BOUNDED_TIMEOUT,
        "socket_connect_timeout": BOUNDED_TIMEOUT,
        "retry": Retry(NoBackoff(), BOUNDED_RETRIES),
    }
    settings.update(options)
    client: Redis[t.Any] = Redis.from_url(url, **settings)
    return client


def _is_cross_slot(error: Exception) -> bool:
    """Whether Redis refused a command because its keys are in two slots
    (redis-py names the ``CROSSSLOT`` reply ``ClusterCrossSlotError``)."""
    return isinstance(error, ClusterCrossSlotError) or (
        isinstance(error, ResponseError) and str(error).startswith("CROSSSLOT")
    )


def _is_wrong_type(error: Exception) -> bool:
    """Whether Redis refused a command because the key holds another type."""
    return type(error) is ResponseError and str(error).startswith("WRONGTYPE")


class RedisClient(t.Protocol):
    """The part of a redis-py client that :class:`RedisStore` uses.

    ``redis.Redis``, a Sentinel ``master_for(...)`` client and
    ``redis.cluster.RedisCluster`` all have it.
    """

    def get(self, name: str) -> t.Any: ...

    def set(
        self, name: str, value: str, ex: int | None = None, *, nx: bool = False
    ) -> t.Any: ...

    def register_script(self, script: str) -> t.Callable[..., t.Any]: ...


class RedisStore(ConditionalTextStore):
    """Keep sessions in Redis, exactly as koa-redis 4 does.

    Each session is one string key: the session id (after ``prefix``), holding
    the payload's JSON text, with a time to live of the ``max_age`` it was
    given, rounded up to whole seconds. koa-redis writes it with ``SETEX key
    seconds json``; this store sends the equivalent ``SET key json EX
    seconds`` (redis-py deprecates ``setex()``): same key, value and TTL. A
    Koa app using koa-redis on the same Redis database, with the same signing
    keys, shares its sessions with this app.

    koa-redis fails on a browser-session cookie (``maxAge: "session"``). This
    store writes such an entry with a plain ``SET`` (no expiry), or with
    ``session_ttl`` seconds of time to live when that is given. As browsers never
    report that they closed, ``session_ttl`` is the only thing that bounds how
    long such entries stay: set it to the longest a visit may last.

    The client is used as given and never closed by the store: any redis-py
    client works, with or without ``decode_responses``. Give it socket
    timeouts and few retries, so that a stalled Redis fails a request in
    about 4 seconds instead of hanging it (redis-py 6+ retries a timeout
    several times by default: about 25 seconds with these timeouts alone)::

        client = redis.Redis(
            host="localhost",
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 1),  # redis.retry, redis.backoff
        )
        KoaSession(app, store=RedisStore(client))

    With Sentinel pass ``Sentinel(...).master_for("mymaster")``; with Redis
    Cluster a ``redis.cluster.RedisCluster``.

    Saves are conditional (:class:`~flask_koasession.stores.ConditionalStore`),
    each in one round trip: a new session is written with ``SET key json EX
    seconds NX``; an existing one with the Lua script ``REPLACE_SCRIPT``,
    which writes (the same ``SET``) only if the key still holds the text the
    request loaded, and otherwise returns the text it holds now. Every
    script touches one key, so it runs on a cluster too, except
    ``MOVE_SCRIPT`` (:meth:`create_and_delete`, a ``regenerate()``), which
    a cluster client replaces with two calls. The values and times to live
    are koa-redis's either way.

    Any Redis error (connection refused, timeout, error reply) is raised as
    :class:`~flask_koasession.exceptions.SessionStoreError`, the original
    chained as its ``__cause__``. A value that is not JSON reads as no session,
    as in koa-redis (which also passes on JSON that is not an object; this
    store reads that as no session too), and so does any other value that
    does not decode to a payload.

    Session ids come from requests, so an id may name a key that is not a
    session at all, e.g. ``queue:jobs`` of another program sharing the
    database. Such a key is left alone: when it holds another Redis type
    (a list, a hash...) :meth:`get` reads it as no session instead of
    failing, and :meth:`destroy` does not delete it. Use a ``prefix``, or the
    extension's default ids, to keep session keys apart from other data.

    :param client: a redis-py client.
    :param prefix: prepended to every session id to make the Redis key.
        koa-redis has no prefix of its own, so keep the default ``""`` to
        share sessions with it (koa-session's ``prefix`` option goes into the
        id itself and needs nothing here).
    :param session_ttl: seconds that a ``"session"`` entry is kept, or
        ``None`` to keep it until it is destroyed.
    """

    def __init__(
        self, client: RedisClient, prefix: str = "", session_ttl: int | None = None
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {prefix!r}.")
        super().__init__(session_ttl=session_ttl)
        self.client = client
        self.prefix = prefix
        # EVALSHA, loading the script on the server the first time it is
        # missing there (redis-py's Script).
        self._destroy_script = client.register_script(DESTROY_SCRIPT)
        self._replace_script = client.register_script(REPLACE_SCRIPT)
        self._delete_script = client.register_script(DELETE_SCRIPT)
        # Two keys in one script: not on a cluster.
        self._move_script = (
            client.register_script(MOVE_SCRIPT) if isinstance(client, Redis) else None
        )

    def read_text(self, key: str) -> str | bytes | None:
        """``GET`` the entry of ``key``; ``None`` when it is not a session.

        That is, when the key is missing, or holds another Redis type than a
        string (Redis replies ``WRONGTYPE``): a key that a request names is
        data, and a foreign one must read as a miss rather than fail every
        request that carries its id. With a ``decode_responses`` client a
        value that is not UTF-8 cannot be read at all and is a miss too (a
        bytes client replaces invalid sequences, as Node does).

        :raise SessionStoreError: when Redis fails (connection, timeout, any
            other error reply).
        """
        try:
            value: str | bytes | None = self.client.get(self.prefix + key)
        except UnicodeDecodeError:
            return None  # decode_responses=True and the value is not UTF-8
        except _ERRORS as error:
            if _is_wrong_type(error):
                return None
            raise SessionStoreError(type(self).__name__, "get", key) from error
        return value

    def write_text(self, key: str, text: str, ttl: float | None) -> None:
        """``SET`` the entry with its time to live rounded up to whole
        seconds, as koa-redis does (``Math.ceil(ttl / 1000)``), so that an
        entry never expires before its cookie.

        :raise SessionStoreError: when Redis fails.
        """
        ex = None if ttl is None else math.ceil(ttl)
        try:
            # SET EX is SETEX in today's spelling (redis-py deprecates setex()).
            self.client.set(self.prefix + key, text, ex=ex)
        except _ERRORS as error:
            raise SessionStoreError(type(self).__name__, "set", key) from error

    def create_text(self, key: str, text: str, ttl: float | None) -> bool:
        """``SET key text EX seconds NX``: write only where there is no key.

        :raise SessionStoreError: when Redis fails.
        """
        ex = None if ttl is None else math.ceil(ttl)
        try:
            return bool(self.client.set(self.prefix + key, text, ex=ex, nx=True))
        except _ERRORS as error:
            raise SessionStoreError(type(self).__name__, "create", key) from error

    def replace_text(
        self, key: str, expected: str | bytes, text: str, ttl: float | None
    ) -> t.Literal[True] | str | bytes | None:
        """Run ``REPLACE_SCRIPT``: ``SET`` as :meth:`write_text` does if the
        key still holds ``expected``.

        :raise SessionStoreError: when Redis fails.
        """
        ex = "" if ttl is None else str(math.ceil(ttl))
        return self._conditional(
            self._replace_script, "compare_and_set", key, (expected, text, ex)
        )

    def delete_text(
        self, key: str, expected: str | bytes
    ) -> t.Literal[True] | str | bytes | None:
        """Run ``DELETE_SCRIPT``: ``DEL`` the key if it still holds
        ``expected``.

        :raise SessionStoreError: when Redis fails.
        """
        return self._conditional(
            self._delete_script, "compare_and_delete", key, (expected,)
        )

    def _conditional(
        self,
        script: t.Callable[..., t.Any],
        operation: str,
        key: str,
        args: tuple[str | bytes, ...],
    ) -> t.Literal[True] | str | bytes | None:
        try:
            outcome: int | str | bytes | None = script(
                keys=[self.prefix + key], args=args
            )
        except UnicodeDecodeError:
            return None  # decode_responses=True and the value is not UTF-8
        except _ERRORS as error:
            if _is_wrong_type(error):
                return None  # the key now holds another type: no session
            raise SessionStoreError(type(self).__name__, operation, key) from error
        # The script returns the integer 1 once done, else the text (a bulk
        # string, even one reading "1") or nil.
        return True if isinstance(outcome, int) else outcome

    def create_and_delete(
        self,
        key: str,
        data: dict[str, t.Any],
        max_age: MaxAge,
        old_key: str,
        version: t.Any,
    ) -> Swapped | t.Literal[False]:
        """:meth:`create` ``key``, then, once created,
        :meth:`compare_and_delete` ``old_key``: a regenerated session saved
        under its new id and its old entry deleted (the new entry exists
        before the old one is gone). In one round trip, ``MOVE_SCRIPT``,
        except with a cluster client (the two keys may be on two nodes).

        :return: ``False`` when ``key`` is taken (``old_key`` is left as it
            is); else what :meth:`compare_and_delete` returns.
        :raise SessionStoreError: when Redis fails.
        """
        script = self._move_script
        if script is None:
            return create_then_delete(self, key, data, max_age, old_key, version)
        text, ttl = self.encode_entry(data, max_age)
        ex = "" if ttl is None else str(math.ceil(ttl))
        keys = [self.prefix + key, self.prefix + old_key]
        try:
            outcome = script(keys=keys, args=(text, ex, version))
        except UnicodeDecodeError:
            return None  # decode_responses=True and the value is not UTF-8
        except _ERRORS as error:
            if _is_wrong_type(error):
                return None  # the old key now holds another type: gone
            if _is_cross_slot(error):
                # A proxy or a sharded Redis that takes no script over two
                # slots (Redis Enterprise, Envoy): the script never ran. Two
                # calls from now on.
                self._move_script = None
                return create_then_delete(self, key, data, max_age, old_key, version)
            raise SessionStoreError(type(self).__name__, "create", key) from error
        # The integer 0 (taken) or 1 (done), else the old text (a bulk string,
        # even one reading "1") or nil.
        if outcome == 0:
            return False
        if isinstance(outcome, int):
            return True
        return self.entry_of(outcome)

    def destroy(self, key: str) -> None:
        """Delete the entry of ``key`` if it holds a string, as sessions do.

        koa-redis sends a plain ``DEL``, which deletes a key of any type. The
        id comes from a request, though, and may name a key that is not a
        session (``queue:jobs``, say), so this store runs the Lua script
        ``DESTROY_SCRIPT`` instead: ``TYPE``, then ``DEL`` only for a string,
        atomically on the server. A key of another type is left as it is,
        without error. The script touches one key, so it works with plain,
        Sentinel and Cluster clients alike.

        :param key: the session id.
        :raise SessionStoreError: when Redis fails.
        """
        try:
            self._destroy_script(keys=[self.prefix + key])
        except _ERRORS as error:
            raise SessionStoreError(type(self).__name__, "destroy", key) from error
