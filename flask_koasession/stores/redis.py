"""A session store in Redis that shares sessions with Koa apps using koa-redis."""

from __future__ import annotations

import contextlib
import math
import secrets
import time
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

from ..codec import dumps_json, loads_json
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


# -- the user index (SessionIndex) ---------------------------------------------
#
# A handle's key (``{prefix}koa:handles:{handle}``) is the truth: a hash of
# ``user`` and ``record`` while the session is active, of ``ended`` alone
# once it is ended, with the time to live of either. A user's key
# (``{prefix}koa:users:{user_id}``) lists the user's handles: a hash of
# handle -> "<deadline in ms, or nothing> <nonce>", which lives as long as
# its longest entry. Every script touches one key, so each runs on the node
# of its key in a cluster. index_session lists the handle first, then makes
# it active (unless ended), so that every active handle is listed, even
# after a failure between the two; a listing reads the handles' keys and
# shows only what they say, and unlists an entry only when no write can
# still need it (see RedisStore.indexed_sessions).

#: Milliseconds that a user's entry of a handle outlives the handle's time
#: to live (and so does the user's key): the handle's key is written after
#: it, and must never be active unlisted.
LISTING_GRACE_MS = 60_000

#: On a user's key: list handle ``ARGV[1]`` with the nonce ``ARGV[3]``, for
#: ``ARGV[2]`` ms from the server's clock (empty: no deadline), and make the
#: key live at least as long (no expiry for an entry without a deadline).
LIST_HANDLE_SCRIPT = """\
local existed = redis.call('EXISTS', KEYS[1])
if ARGV[2] == '' then
  redis.call('HSET', KEYS[1], ARGV[1], ' ' .. ARGV[3])
  redis.call('PERSIST', KEYS[1])
  return 1
end
local now = redis.call('TIME')
local life = tonumber(ARGV[2])
local deadline = now[1] * 1000 + math.floor(now[2] / 1000) + life
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', deadline) .. ' ' .. ARGV[3])
local left = redis.call('PTTL', KEYS[1])
if existed == 0 or (left >= 0 and left < life) then
  redis.call('PEXPIRE', KEYS[1], life)
end
return 1
"""

#: On a handle's key: unless it is ended, make it the active session of
#: user ``ARGV[1]`` with record ``ARGV[2]`` for ``ARGV[3]`` ms (empty: no
#: expiry; 0 or less: gone at once). Returns 1, or 0 when ended.
INDEX_HANDLE_SCRIPT = """\
if redis.call('HEXISTS', KEYS[1], 'ended') == 1 then
  return 0
end
redis.call('DEL', KEYS[1])
if ARGV[3] == '' then
  redis.call('HSET', KEYS[1], 'user', ARGV[1], 'record', ARGV[2])
elseif tonumber(ARGV[3]) > 0 then
  redis.call('HSET', KEYS[1], 'user', ARGV[1], 'record', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
"""

#: On a handle's key: make it ended for ``ARGV[1]`` ms (empty: for good;
#: 0 or less: forgotten at once), and return the user it was active for
#: (nil when it was not active).
END_HANDLE_SCRIPT = """\
local user = redis.call('HGET', KEYS[1], 'user')
redis.call('DEL', KEYS[1])
if ARGV[1] == '' then
  redis.call('HSET', KEYS[1], 'ended', '1')
elseif tonumber(ARGV[1]) > 0 then
  redis.call('HSET', KEYS[1], 'ended', '1')
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return user
"""

#: On a user's key: unlist handles, given as triples of arguments (handle,
#: entry, condition): with the condition ``""`` whatever its entry; ``"e"``
#: only if its entry is still the one given; ``"x"`` on that condition and
#: once its deadline has passed on the server's clock. Then make the key
#: live as long as its longest entry left. Returns how many it unlisted.
UNLIST_HANDLES_SCRIPT = """\
local now = nil
local removed = 0
for i = 1, #ARGV, 3 do
  local remove = ARGV[i + 2] == ''
  if not remove and redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    remove = ARGV[i + 2] == 'e'
    local deadline = tonumber(string.match(ARGV[i + 1], '^(%d*) '))
    if not remove and deadline ~= nil then
      if now == nil then
        local time = redis.call('TIME')
        now = time[1] * 1000 + math.floor(time[2] / 1000)
      end
      remove = deadline <= now
    end
  end
  if remove then
    removed = removed + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
if removed > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  local latest = 0
  for _, entry in ipairs(redis.call('HVALS', KEYS[1])) do
    local deadline = tonumber(string.match(entry, '^(%d*) '))
    if deadline == nil then
      latest = nil
      break
    end
    latest = math.max(latest, deadline)
  end
  if latest == nil then
    redis.call('PERSIST', KEYS[1])
  else
    redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', latest))
  end
end
return removed
"""


def key_part(name: str) -> str:
    """``name`` (a user id or a handle) as it goes into a Redis key: with
    ``%``, ``{`` and ``}`` percent-encoded, so that it never makes a Redis
    Cluster hash tag and two names never make one key."""
    return name.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _deadline_of(entry: str | bytes) -> float:
    """The deadline (ms since the epoch) of a user's entry of a handle;
    infinity for none, or for an entry this store did not write."""
    deadline = _text(entry).partition(" ")[0]
    return float(deadline) if deadline.isdigit() else math.inf


def _milliseconds(ttl: float | None) -> str:
    """A time to live in seconds as the scripts take it: whole ms, rounded
    up; empty for none."""
    return "" if ttl is None else str(math.ceil(ttl * 1000))


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

    def hget(self, name: str, key: str) -> t.Any: ...

    def hgetall(self, name: str) -> t.Any: ...

    def pipeline(self, transaction: bool = ...) -> t.Any: ...


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

    The store also indexes sessions by user
    (:class:`~flask_koasession.stores.SessionIndex`, for the
    ``user_id_key`` option) in keys beside the sessions', under the same
    ``prefix``: ``koa:handles:<handle>``, a hash of the session's ``user``
    and ``record`` (or of ``ended`` alone once ended) with the record's
    time to live, and ``koa:users:<user id>``, a hash listing the user's
    handles, which lives as long as its longest record. Each command or
    script touches one key, so it runs on a cluster too; ``%``, ``{`` and
    ``}`` in a user id or handle are percent-encoded in the key
    (:func:`key_part`), so that they make no hash tag.

    :param client: a redis-py client.
    :param prefix: prepended to every session id to make the Redis key (and
        to the keys of the user index).
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
        self._index_handle_script = client.register_script(INDEX_HANDLE_SCRIPT)
        self._end_handle_script = client.register_script(END_HANDLE_SCRIPT)
        self._list_handle_script = client.register_script(LIST_HANDLE_SCRIPT)
        self._unlist_handles_script = client.register_script(UNLIST_HANDLES_SCRIPT)

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

    # -- the user index (SessionIndex) -----------------------------------------

    def handle_key(self, handle: str) -> str:
        """The Redis key of a session handle:
        ``{prefix}koa:handles:{handle}`` (see :func:`key_part`)."""
        return f"{self.prefix}koa:handles:{key_part(handle)}"

    def user_key(self, user_id: str) -> str:
        """The Redis key listing a user's handles:
        ``{prefix}koa:users:{user_id}`` (see :func:`key_part`)."""
        return f"{self.prefix}koa:users:{key_part(user_id)}"

    def index_session(
        self, user_id: str, handle: str, record: dict[str, t.Any], ttl: float | None
    ) -> bool:
        """Index the session ``handle`` under ``user_id``, unless ended.

        Two round trips, each a script on one key: ``LIST_HANDLE_SCRIPT`` on
        the user's key, then ``INDEX_HANDLE_SCRIPT`` on the handle's, which
        refuses an ended handle (the user's entry is then unlisted by a
        later listing).

        :raise SessionStoreError: when Redis fails.
        """
        ms = _milliseconds(ttl)
        try:
            if not ms or int(ms) > 0:  # else gone at once: nothing to list
                life = ms and str(int(ms) + LISTING_GRACE_MS)
                self._list_handle_script(
                    keys=[self.user_key(user_id)],
                    args=(handle, life, secrets.token_hex(8)),
                )
            indexed = self._index_handle_script(
                keys=[self.handle_key(handle)],
                args=(user_id, dumps_json(record), ms),
            )
        except _ERRORS as error:
            raise SessionStoreError(
                type(self).__name__, "index_session", handle
            ) from error
        return bool(indexed)

    def end_session(self, user_id: str, handle: str, ttl: float | None) -> bool:
        """End the session ``handle``: ``END_HANDLE_SCRIPT`` on its key,
        then the handle unlisted from the user's key (two round trips).

        :raise SessionStoreError: when Redis fails.
        """
        try:
            user = self._end_handle_script(
                keys=[self.handle_key(handle)], args=(_milliseconds(ttl),)
            )
            self._unlist_handles_script(
                keys=[self.user_key(user_id)], args=(handle, "", "")
            )
        except _ERRORS as error:
            raise SessionStoreError(
                type(self).__name__, "end_session", handle
            ) from error
        return user is not None and _text(user) == user_id

    def indexed_sessions(self, user_id: str) -> dict[str, dict[str, t.Any]]:
        """``HGETALL`` the user's key, then, in one pipeline, ``HMGET`` and
        ``PTTL`` each listed handle's key: those active for this user are
        returned.

        The other entries are unlisted, in one round trip more, when no
        write can still need them: an ended handle's (unless the memory
        of its end runs out within :data:`LISTING_GRACE_MS`), and one whose
        deadline has passed; each only if the entry is still the one read
        (an ``index_session`` writes a new one). An entry whose handle is
        not active yet (an ``index_session`` between its two steps), or
        active for another user, stays until its deadline.

        :raise SessionStoreError: when Redis fails.
        """
        key = self.user_key(user_id)
        try:
            listed: dict[str | bytes, str | bytes] = self.client.hgetall(key)
            if not listed:
                return {}
            pipeline = self.client.pipeline(transaction=False)
            for name in listed:
                handle_key = self.handle_key(_text(name))
                pipeline.hmget(handle_key, ["user", "record", "ended"])
                pipeline.pttl(handle_key)
            found: list[t.Any] = pipeline.execute()
            sessions: dict[str, dict[str, t.Any]] = {}
            dead: list[str | bytes] = []
            now = time.time() * 1000
            for number, (name, entry) in enumerate(listed.items()):
                (user, record, ended), left = found[2 * number : 2 * number + 2]
                if user is not None and record is not None and _text(user) == user_id:
                    with contextlib.suppress(ValueError):  # not ours: left alone
                        sessions[_text(name)] = loads_json(_text(record))
                elif ended is not None and (left == -1 or left > LISTING_GRACE_MS):
                    dead += [name, entry, "e"]
                elif _deadline_of(entry) < now:
                    dead += [name, entry, "x"]
            if dead:
                self._unlist_handles_script(keys=[key], args=dead)
        except _ERRORS as error:
            raise SessionStoreError(
                type(self).__name__, "indexed_sessions", user_id
            ) from error
        return sessions

    def user_of(self, handle: str) -> str | None:
        """``HGET`` the user of the handle's key (one round trip): none once
        ended or expired.

        :raise SessionStoreError: when Redis fails.
        """
        try:
            user: str | bytes | None = self.client.hget(self.handle_key(handle), "user")
        except _ERRORS as error:
            raise SessionStoreError(type(self).__name__, "user_of", handle) from error
        return None if user is None else _text(user)
