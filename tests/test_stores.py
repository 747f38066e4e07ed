"""The session stores, each against a real backend.

:class:`StoreContract` holds what every store must do; each backend's class
reruns it by providing the ``make_store`` and ``advance`` fixtures, and adds its
own tests. Stores with an injectable clock move time with a fake clock; Redis
expires keys itself, so its tests sleep (about one second per class).
"""

from __future__ import annotations

import concurrent.futures
import datetime
import pathlib
import subprocess
import sys
import textwrap
import time
import typing as t
import uuid

import flask
import pytest
import redis
import sqlalchemy as sa
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from flask_koasession import KoaSession, codec
from flask_koasession.codec import dumps_json
from flask_koasession.exceptions import SessionStoreError
from flask_koasession.stores import (
    MemoryStore,
    RedisStore,
    SessionStore,
    SQLAlchemyStore,
)

from .servers import PostgresServer, RedisServer, free_port

#: A payload as the interface hands it over: data, then koa's bookkeeping.
PAYLOAD: dict[str, t.Any] = {
    "views": 1,
    "user": {"name": "Zoë Ångström", "roles": ["admin", "ops"], "prefs": {}},
    "emoji": "session 🍪 ✓",
    "cjk": "会话",
    "_flashes": [["message", "Saved!"]],
    "_user_id": "42",
    "_expire": 1795679564692,
    "_maxAge": 3600000,
}
SESSION_PAYLOAD: dict[str, t.Any] = {"cart": [1, 2, 3], "_session": True}
PAYLOAD_JSON = dumps_json(PAYLOAD).encode()
HOUR = 3_610_000  # one hour plus the 10 s the interface adds

#: Hand-written entries that are no session: damaged, or written by someone
#: else. Each must read as a miss, never raise.
NOT_SESSIONS: dict[str, bytes] = {
    # JSON that is not an object.
    "list": b"[1,2]",
    "string": b'"x"',
    "number": b"5",
    "null": b"null",
    "true": b"true",
    # Not JSON at all.
    "not-json": b"not json",
    "truncated": b'{"views":',
    "empty": b"",
    "nan": b'{"views":NaN}',
    "deep": b"[" * 100_000,
    "invalid-utf8": b"\xff\xfe",
}

#: Hand-written objects holding tagged-JSON markers whose values are of the
#: wrong type: Flask's tag classes raise TypeError, AttributeError... (not only
#: ValueError) on them. They must never raise: each reads as no session, or
#: as a session with the marker kept as plain data.
FORGED_MARKERS: dict[str, bytes] = {
    "tuple-int": b'{" t":5}',
    "bytes-int": b'{" b":5}',
    "date-int": b'{" d":5}',
    "uuid-int": b'{" u":5}',
    "dict-int": b'{" di":5}',
    "markup-list": b'{" m":[1]}',
    "nested": b'{"views":1,"user":{" b":5}}',
    # The same, in payloads marked as holding tagged values.
    "tagged-tuple-int": b'{"v":{" t":5},"_tagged":true}',
    "tagged-bytes-int": b'{"v":{" b":5},"_tagged":true}',
    "tagged-date-int": b'{"v":{" d":5},"_tagged":true}',
    "tagged-uuid-int": b'{"v":{" u":5},"_tagged":true}',
    "tagged-dict-int": b'{"v":{" di":5},"_tagged":true}',
    "tagged-bytes-not-base64": b'{"v":{" b":"\\u00e9"},"_tagged":true}',
    "tagged-bytes-not-utf8": b'{"v":{" b":"\xff"},"_tagged":true}',
    "tagged-date-text": b'{"v":{" d":"yesterday"},"_tagged":true}',
    "tagged-not-true": b'{"v":{" t":5},"_tagged":1}',
}


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def put(
    store: SessionStore,
    key: str,
    data: dict[str, t.Any],
    max_age: int | t.Literal["session"] = HOUR,
    *,
    changed: bool = True,
) -> None:
    store.set(key, data, max_age, rolling=False, changed=changed)


def fetch(store: SessionStore, key: str) -> dict[str, t.Any] | None:
    return store.get(key, 3_600_000, rolling=False)


class StoreContract:
    """What every session store does. Not collected itself (no ``Test``)."""

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def advance(self, clock: FakeClock) -> t.Callable[[float], None]:
        """Move time forward by some seconds, as the store sees it."""
        return clock.advance

    @pytest.fixture
    def make_store(self) -> t.Callable[..., SessionStore]:
        """Make a store of the class under test; keyword arguments pass on."""
        raise NotImplementedError

    @pytest.fixture
    def store(self, make_store: t.Callable[..., SessionStore]) -> SessionStore:
        return make_store()

    @pytest.fixture
    def write_raw(self, store: SessionStore) -> t.Callable[[str, bytes], None]:
        """Write bytes as the entry of an id, behind the store's back."""
        raise NotImplementedError

    def test_is_a_session_store(self, store: SessionStore) -> None:
        assert isinstance(store, SessionStore)

    @pytest.mark.parametrize("raw", list(NOT_SESSIONS.values()), ids=list(NOT_SESSIONS))
    def test_damaged_entry_is_a_miss(
        self,
        store: SessionStore,
        write_raw: t.Callable[[str, bytes], None],
        raw: bytes,
    ) -> None:
        write_raw("damaged", raw)
        assert fetch(store, "damaged") is None
        assert fetch(store, "damaged") is None  # and again: nothing is cached
        # The id stays usable: a new session can be saved under it.
        put(store, "damaged", PAYLOAD)
        assert fetch(store, "damaged") == PAYLOAD
        store.destroy("damaged")
        assert fetch(store, "damaged") is None

    @pytest.mark.parametrize(
        "raw", list(FORGED_MARKERS.values()), ids=list(FORGED_MARKERS)
    )
    def test_forged_marker_never_raises(
        self,
        store: SessionStore,
        write_raw: t.Callable[[str, bytes], None],
        raw: bytes,
    ) -> None:
        write_raw("forged", raw)
        loaded = fetch(store, "forged")
        assert loaded is None or type(loaded) is dict
        assert fetch(store, "forged") == loaded
        put(store, "forged", PAYLOAD)
        assert fetch(store, "forged") == PAYLOAD

    def test_damaged_entry_can_be_destroyed(
        self, store: SessionStore, write_raw: t.Callable[[str, bytes], None]
    ) -> None:
        write_raw("damaged", b'{" t":5}')
        store.destroy("damaged")
        write_raw("damaged", PAYLOAD_JSON)
        assert fetch(store, "damaged") == PAYLOAD  # raw writes do reach the store

    def test_hand_written_payload_reads(
        self, store: SessionStore, write_raw: t.Callable[[str, bytes], None]
    ) -> None:
        write_raw("by-hand", PAYLOAD_JSON)
        assert fetch(store, "by-hand") == PAYLOAD

    def test_unchanged_save_still_writes(self, store: SessionStore) -> None:
        # changed=False comes with forced saves (save(), regenerate() to a new
        # id, a new max_age) as well as with rolling re-sends: always write.
        put(store, "fresh-id", PAYLOAD, changed=False)
        assert fetch(store, "fresh-id") == PAYLOAD
        put(store, "fresh-id", {"views": 2, "_session": True}, "session", changed=False)
        assert fetch(store, "fresh-id") == {"views": 2, "_session": True}

    def test_round_trip(self, store: SessionStore) -> None:
        put(store, "e640facf-751f-4c23-8b7d-8d6806f3fa29", PAYLOAD)
        loaded = fetch(store, "e640facf-751f-4c23-8b7d-8d6806f3fa29")
        assert loaded == PAYLOAD
        assert list(loaded) == list(PAYLOAD)  # insertion order kept

    def test_round_trip_python_values(self, store: SessionStore) -> None:
        data = {
            "point": (1, 2),
            "nested": {"pairs": [(1, "a"), (2, "b")]},
            "blob": b"\x00\xffbytes",
            "when": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
            "uid": uuid.UUID("e640facf-751f-4c23-8b7d-8d6806f3fa29"),
            "looks_tagged": {" t": "not a tag"},
            "_expire": 1795679564692,
            "_maxAge": 3600000,
        }
        put(store, "python", data)
        loaded = fetch(store, "python")
        assert loaded == data
        assert loaded is not None
        assert type(loaded["point"]) is tuple
        assert type(loaded["nested"]["pairs"][0]) is tuple

    def test_missing_key_is_none(self, store: SessionStore) -> None:
        assert fetch(store, "never-stored") is None

    def test_returns_independent_copies(self, store: SessionStore) -> None:
        data = {"list": [1], "dict": {"a": 1}, "_session": True}
        put(store, "copies", data, "session")
        data["list"].append(2)  # the caller's later changes stay with the caller
        first = fetch(store, "copies")
        assert first == {"list": [1], "dict": {"a": 1}, "_session": True}
        assert first is not None
        first["dict"]["a"] = 2
        assert fetch(store, "copies") == {
            "list": [1],
            "dict": {"a": 1},
            "_session": True,
        }

    def test_destroy(self, store: SessionStore) -> None:
        put(store, "doomed", PAYLOAD)
        put(store, "kept", PAYLOAD)
        store.destroy("doomed")
        assert fetch(store, "doomed") is None
        assert fetch(store, "kept") == PAYLOAD

    def test_destroy_unknown_key(self, store: SessionStore) -> None:
        store.destroy("never-stored")
        store.destroy("never-stored")

    def test_overwrite(self, store: SessionStore) -> None:
        put(store, "key", PAYLOAD)
        put(store, "key", {"views": 2, "_session": True}, "session")
        assert fetch(store, "key") == {"views": 2, "_session": True}
        put(store, "key", PAYLOAD, 2000)
        assert fetch(store, "key") == PAYLOAD

    def test_keys_are_distinct(self, store: SessionStore) -> None:
        keys = [
            "a",
            "A",
            "a1",
            "pre:a",
            "ключ-🔑",
            "e640facf-751f-4c23-8b7d-8d6806f3fa29",
        ]
        for index, key in enumerate(keys):
            put(store, key, {"index": index})
        assert [fetch(store, key) for key in keys] == [
            {"index": index} for index in range(len(keys))
        ]

    def test_empty_payload(self, store: SessionStore) -> None:
        put(store, "empty", {})
        assert fetch(store, "empty") == {}

    def test_expiry(
        self,
        make_store: t.Callable[..., SessionStore],
        store: SessionStore,
        advance: t.Callable[[float], None],
    ) -> None:
        # One wait checks everything, so that stores on real time sleep once.
        short_session = make_store(session_ttl=1)
        put(store, "short", PAYLOAD, 1000)
        put(store, "rolled", PAYLOAD, 1000)
        put(store, "long", PAYLOAD, 60_000)
        put(store, "browser", SESSION_PAYLOAD, "session")
        put(short_session, "browser-ttl", SESSION_PAYLOAD, "session")
        advance(0.5)
        assert fetch(store, "short") == PAYLOAD
        assert fetch(short_session, "browser-ttl") == SESSION_PAYLOAD
        put(store, "rolled", PAYLOAD, 1000, changed=False)  # what rolling does
        advance(0.6)
        assert fetch(store, "short") is None
        assert fetch(short_session, "browser-ttl") is None
        assert fetch(store, "rolled") == PAYLOAD
        assert fetch(store, "long") == PAYLOAD
        assert fetch(store, "browser") == SESSION_PAYLOAD
        # An expired entry can be written again.
        put(store, "short", {"again": True}, 1000)
        assert fetch(store, "short") == {"again": True}

    @pytest.mark.parametrize("max_age", [0, -1000, True, 1.5, "forever", None])
    def test_rejects_invalid_max_age(self, store: SessionStore, max_age: t.Any) -> None:
        with pytest.raises(ValueError, match="max_age"):
            put(store, "key", PAYLOAD, max_age)

    @pytest.mark.parametrize("session_ttl", [0, -1, True, 1.5, "60"])
    def test_rejects_invalid_session_ttl(
        self, make_store: t.Callable[..., SessionStore], session_ttl: t.Any
    ) -> None:
        with pytest.raises(ValueError, match="session_ttl"):
            make_store(session_ttl=session_ttl)

    def test_concurrent_threads(self, store: SessionStore) -> None:
        def work(worker: int) -> None:
            for round_ in range(25):
                own = f"worker-{worker}"
                put(store, own, {"worker": worker, "round": round_})
                assert fetch(store, own) == {"worker": worker, "round": round_}
                put(store, "shared", {"worker": worker, "round": round_})
                assert fetch(store, "shared") is not None
                store.destroy(f"temp-{worker}")
                put(store, f"temp-{worker}", {"round": round_})

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for future in [pool.submit(work, worker) for worker in range(8)]:
                future.result(timeout=60)
        # Written by the workers, read here: every thread sees one store.
        assert [fetch(store, f"worker-{worker}") for worker in range(8)] == [
            {"worker": worker, "round": 24} for worker in range(8)
        ]
        shared = fetch(store, "shared")
        assert shared is not None
        assert shared["round"] == 24


# -- MemoryStore ------------------------------------------------------------------


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def make_store(self, clock: FakeClock) -> t.Callable[..., SessionStore]:
        return lambda **kwargs: MemoryStore(clock=clock, **kwargs)

    @pytest.fixture
    def write_raw(self, store: MemoryStore) -> t.Callable[[str, bytes], None]:
        def write(key: str, raw: bytes) -> None:
            # The store keeps text: bytes that are not UTF-8 cannot get in as such.
            store._entries[key] = (raw.decode("utf-8", "replace"), None)

        return write

    def test_cleanup(
        self, store: MemoryStore, advance: t.Callable[[float], None]
    ) -> None:
        put(store, "a", PAYLOAD, 1000)
        put(store, "b", PAYLOAD, 1000)
        put(store, "c", PAYLOAD, 5000)
        put(store, "d", SESSION_PAYLOAD, "session")
        advance(2)
        assert store.cleanup() == 2
        assert store.cleanup() == 0
        assert fetch(store, "c") == PAYLOAD

    def test_prunes_expired_entries_from_time_to_time(
        self, store: MemoryStore, advance: t.Callable[[float], None]
    ) -> None:
        for index in range(3):
            put(store, f"old-{index}", PAYLOAD, 1000)
        advance(store.prune_interval + 1)
        put(store, "new", PAYLOAD)  # sweeps the expired entries
        assert store.cleanup() == 0
        assert fetch(store, "new") == PAYLOAD

    def test_real_clock_by_default(self) -> None:
        store = MemoryStore()
        put(store, "key", PAYLOAD, 1)
        time.sleep(0.01)
        assert fetch(store, "key") is None

    def test_many_threads_on_one_key(self, store: MemoryStore) -> None:
        def work(worker: int) -> None:
            for round_ in range(300):
                put(store, "hot", {"worker": worker, "round": round_})
                loaded = fetch(store, "hot")
                assert loaded is not None
                assert set(loaded) == {"worker", "round"}

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            for future in [pool.submit(work, worker) for worker in range(16)]:
                future.result(timeout=60)


# -- RedisStore -------------------------------------------------------------------


def redis_client_for(server: RedisServer, **options: t.Any) -> redis.Redis:
    """A client that fails fast instead of retrying, for bounded tests."""
    return redis.Redis(
        host=server.host,
        port=server.port,
        socket_timeout=2,
        socket_connect_timeout=2,
        retry=Retry(NoBackoff(), 0),
        **options,
    )


@pytest.fixture
def redis_client(redis_server: RedisServer) -> t.Iterator[redis.Redis]:
    client = redis_client_for(redis_server)
    client.flushdb()  # database 0 only: the interop tests use another one
    yield client
    client.close()


#: Keys of every other Redis type, as another program would keep them.
FOREIGN_TYPES: dict[str, t.Callable[[t.Any, str], t.Any]] = {
    "list": lambda client, key: client.rpush(key, "job-1", "job-2"),
    "hash": lambda client, key: client.hset(key, mapping={"a": "1"}),
    "set": lambda client, key: client.sadd(key, "member"),
    "zset": lambda client, key: client.zadd(key, {"member": 1.0}),
    "stream": lambda client, key: client.xadd(key, {"field": "value"}),
}


def foreign_key_state(client: t.Any, key: str) -> tuple[t.Any, ...]:
    """The type, size and time to live of a key, to show it is untouched."""
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    sizes = {"list": "LLEN", "hash": "HLEN", "set": "SCARD", "zset": "ZCARD"}
    size = client.execute_command(sizes.get(kind, "XLEN"), key)
    return kind, size, client.ttl(key)


class RedisContract(StoreContract):
    """Redis expires keys on its own clock: time passes by sleeping.

    Subclasses give ``raw_client``, a client of the same database as the
    store's, to write and inspect keys behind the store's back.
    """

    @pytest.fixture
    def advance(self) -> t.Callable[[float], None]:
        return time.sleep

    @pytest.fixture
    def raw_client(self) -> t.Any:
        raise NotImplementedError

    @pytest.fixture
    def write_raw(self, raw_client: t.Any) -> t.Callable[[str, bytes], None]:
        return lambda key, raw: raw_client.set(key, raw)

    @pytest.mark.parametrize("kind", list(FOREIGN_TYPES))
    def test_other_redis_type_is_a_miss(
        self, store: RedisStore, raw_client: t.Any, kind: str
    ) -> None:
        # The id names e.g. a job queue: Redis replies WRONGTYPE to GET.
        FOREIGN_TYPES[kind](raw_client, "queue:jobs")
        before = foreign_key_state(raw_client, "queue:jobs")
        assert before[0] == kind
        assert fetch(store, "queue:jobs") is None
        assert foreign_key_state(raw_client, "queue:jobs") == before

    @pytest.mark.parametrize("kind", list(FOREIGN_TYPES))
    def test_destroy_leaves_other_redis_types(
        self, store: RedisStore, raw_client: t.Any, kind: str
    ) -> None:
        FOREIGN_TYPES[kind](raw_client, "queue:jobs")
        raw_client.expire("queue:jobs", 600)
        before = foreign_key_state(raw_client, "queue:jobs")
        store.destroy("queue:jobs")  # no error, and no deletion
        assert foreign_key_state(raw_client, "queue:jobs") == before

    def test_destroy_deletes_strings_only(
        self, store: RedisStore, raw_client: t.Any
    ) -> None:
        put(store, "session", PAYLOAD)
        raw_client.set("damaged", b'{" t":5}')
        FOREIGN_TYPES["list"](raw_client, "queue:jobs")
        for key in ("session", "damaged", "queue:jobs", "never-stored"):
            store.destroy(key)
        for key in ("session", "damaged", "never-stored"):
            assert raw_client.exists(key) == 0
        assert raw_client.exists("queue:jobs") == 1

    def test_destroy_on_keys_of_every_slot(
        self, store: RedisStore, raw_client: t.Any
    ) -> None:
        # On a cluster the keys live on several nodes: the script must run
        # where each key is.
        keys = [str(uuid.UUID(int=index)) for index in range(30)]
        for key in keys:
            put(store, key, PAYLOAD)
            FOREIGN_TYPES["set"](raw_client, "foreign-" + key)
        for key in keys:
            store.destroy(key)
            store.destroy("foreign-" + key)
        assert [fetch(store, key) for key in keys] == [None] * 30
        assert sum(raw_client.exists("foreign-" + key) for key in keys) == 30


class TestRedisStore(RedisContract):
    @pytest.fixture
    def make_store(self, redis_client: redis.Redis) -> t.Callable[..., SessionStore]:
        return lambda **kwargs: RedisStore(redis_client, **kwargs)

    @pytest.fixture
    def raw_client(self, redis_client: redis.Redis) -> redis.Redis:
        return redis_client

    def test_koa_redis_key_value_and_ttl(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        key = "e640facf-751f-4c23-8b7d-8d6806f3fa29"
        payload = {"views": 1, "_expire": 1795679564692, "_maxAge": 3600000}
        put(store, key, payload, 3_610_000)
        assert redis_client.keys("*") == [key.encode()]
        assert redis_client.get(key) == (
            b'{"views":1,"_expire":1795679564692,"_maxAge":3600000}'
        )
        assert redis_client.ttl(key) == 3610

    def test_value_is_koa_json(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        put(store, "key", PAYLOAD)
        assert redis_client.get("key") == dumps_json(PAYLOAD).encode()
        assert "Zoë".encode() in t.cast(bytes, redis_client.get("key"))  # raw UTF-8

    @pytest.mark.parametrize(
        ("max_age", "ttl"),
        [(1000, 1), (1001, 2), (1500, 2), (10_999, 11), (86_410_000, 86410)],
    )
    def test_ttl_rounds_up_like_koa_redis(
        self, store: RedisStore, redis_client: redis.Redis, max_age: int, ttl: int
    ) -> None:
        put(store, "key", PAYLOAD, max_age)
        assert redis_client.ttl("key") == ttl

    def test_session_max_age_has_no_ttl(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        put(store, "key", SESSION_PAYLOAD, "session")
        assert redis_client.ttl("key") == -1
        put(store, "key", PAYLOAD, 3_610_000)
        put(store, "key", SESSION_PAYLOAD, "session")  # a plain SET drops the TTL
        assert redis_client.ttl("key") == -1

    def test_session_ttl(self, redis_client: redis.Redis) -> None:
        store = RedisStore(redis_client, session_ttl=600)
        put(store, "key", SESSION_PAYLOAD, "session")
        assert redis_client.ttl("key") == 600
        put(store, "other", PAYLOAD, 3_610_000)  # numbers still rule
        assert redis_client.ttl("other") == 3610

    def test_prefix(self, redis_client: redis.Redis) -> None:
        store = RedisStore(redis_client, prefix="koa:sess:")
        put(store, "abc", PAYLOAD)
        assert redis_client.keys("*") == [b"koa:sess:abc"]
        assert fetch(store, "abc") == PAYLOAD
        assert fetch(RedisStore(redis_client), "abc") is None
        store.destroy("abc")
        assert redis_client.keys("*") == []

    def test_prefix_keeps_ids_off_other_keys(self, redis_client: redis.Redis) -> None:
        store = RedisStore(redis_client, prefix="sess:")
        redis_client.set("queue:jobs", PAYLOAD_JSON)  # even a lookalike string
        assert fetch(store, "queue:jobs") is None
        put(store, "queue:jobs", {"views": 1})
        store.destroy("queue:jobs")
        assert redis_client.get("queue:jobs") == PAYLOAD_JSON
        assert redis_client.keys("*") == [b"queue:jobs"]

    def test_rejects_non_string_prefix(self, redis_client: redis.Redis) -> None:
        with pytest.raises(TypeError, match="prefix"):
            RedisStore(redis_client, prefix=b"koa:")  # type: ignore[arg-type]

    def test_reads_what_koa_redis_wrote(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        key = "e640facf-751f-4c23-8b7d-8d6806f3fa29"
        # The command koa-redis sends, byte for byte.
        redis_client.execute_command(
            "SETEX",
            key,
            "3610",
            '{"views":1,"_expire":1795679564692,"_maxAge":3600000}',
        )
        assert fetch(store, key) == {
            "views": 1,
            "_expire": 1795679564692,
            "_maxAge": 3600000,
        }
        store.destroy(key)
        assert redis_client.exists(key) == 0

    @pytest.mark.parametrize(
        "raw", [b"not json", b"{", b"[1, 2]", b"null", b'"text"', b"\xff\xfe", b""]
    )
    def test_undecodable_value_is_none(
        self, store: RedisStore, redis_client: redis.Redis, raw: bytes
    ) -> None:
        redis_client.set("key", raw)
        assert fetch(store, "key") is None

    def test_invalid_utf8_is_replaced_like_node(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        redis_client.set("key", b'{"name":"\xff"}')
        assert fetch(store, "key") == {"name": "\ufffd"}

    def test_client_with_decode_responses(self, redis_server: RedisServer) -> None:
        client = redis_client_for(redis_server, decode_responses=True)
        try:
            store = RedisStore(client)
            put(store, "decoded", PAYLOAD)
            assert fetch(store, "decoded") == PAYLOAD
        finally:
            client.close()

    def test_client_with_decode_responses_on_foreign_values(
        self, redis_server: RedisServer, redis_client: redis.Redis
    ) -> None:
        client = redis_client_for(redis_server, decode_responses=True)
        try:
            store = RedisStore(client)
            FOREIGN_TYPES["hash"](redis_client, "queue:jobs")
            redis_client.set("not-utf8", b'{"name":"\xff"}')
            redis_client.set("damaged", b"[1,2]")
            # Such a client cannot read bytes that are not UTF-8 at all.
            assert fetch(store, "not-utf8") is None
            assert fetch(store, "queue:jobs") is None
            assert fetch(store, "damaged") is None
            put(store, "decoded", PAYLOAD)  # the client still works after that
            assert fetch(store, "decoded") == PAYLOAD
            for key in ("queue:jobs", "not-utf8", "damaged", "decoded"):
                store.destroy(key)
            assert redis_client.keys("*") == [b"queue:jobs"]
        finally:
            client.close()

    @pytest.fixture
    def limited_client(
        self, redis_server: RedisServer, redis_client: redis.Redis
    ) -> t.Iterator[t.Callable[[str], redis.Redis]]:
        """A client of a user that may not run some commands (ACL)."""
        made: list[redis.Redis] = []

        def make(*rules: str) -> redis.Redis:
            name = f"limited-{len(made)}"
            redis_client.acl_setuser(
                name,
                enabled=True,
                passwords=["+secret"],
                keys=["*"],
                commands=["+@all", *rules],
            )
            client = redis_client_for(redis_server, username=name, password="secret")
            made.append(client)
            return client

        yield make
        for index, client in enumerate(made):
            client.close()
            redis_client.acl_deluser(f"limited-{index}")

    def test_error_reply_is_a_store_error(
        self,
        redis_client: redis.Redis,
        limited_client: t.Callable[..., redis.Redis],
    ) -> None:
        # Error replies other than WRONGTYPE are failures, not misses.
        put(RedisStore(redis_client), "key", PAYLOAD)
        store = RedisStore(limited_client("-get", "-evalsha"))
        for operation, call in {
            "get": lambda: fetch(store, "key"),
            "destroy": lambda: store.destroy("key"),
        }.items():
            with pytest.raises(SessionStoreError) as caught:
                call()
            assert caught.value.operation == operation
            cause = caught.value.__cause__
            assert isinstance(cause, redis.exceptions.NoPermissionError)
            assert "no permissions" in str(cause)
        assert redis_client.exists("key") == 1

    def test_script_error_is_a_store_error(
        self,
        redis_client: redis.Redis,
        limited_client: t.Callable[..., redis.Redis],
    ) -> None:
        # EVAL is allowed, but not the DEL inside the script.
        put(RedisStore(redis_client), "key", PAYLOAD)
        store = RedisStore(limited_client("-del"))
        with pytest.raises(SessionStoreError) as caught:
            store.destroy("key")
        cause = caught.value.__cause__
        assert type(cause) is redis.ResponseError
        assert "can't run this command" in str(cause)
        assert redis_client.exists("key") == 1

    def test_destroy_is_one_atomic_script(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        # TYPE and DEL run inside one script call (EVALSHA, through redis-py's
        # register_script), with no window between them.
        put(store, "key", PAYLOAD)
        store.destroy("key")  # loads the script on the server if missing
        put(store, "key", PAYLOAD)
        redis_client.config_resetstat()
        store.destroy("key")
        stats = redis_client.info("commandstats")
        assert stats["cmdstat_evalsha"]["calls"] == 1
        assert "cmdstat_script|load" not in stats
        assert "cmdstat_type" in stats  # run by the script
        assert "cmdstat_del" in stats
        assert "cmdstat_type" in stats  # run by the script
        assert redis_client.exists("key") == 0

    def test_outage_and_recovery(self, tmp_path: t.Any) -> None:
        # A server of its own: stopping the shared one would disturb its users.
        redis_server = RedisServer(tmp_path)
        redis_server.start()
        client = redis_client_for(redis_server)
        store = RedisStore(client)
        try:
            put(store, "before", PAYLOAD)
            redis_server.stop()
            try:
                calls = {
                    "get": lambda: fetch(store, "k"),
                    "set": lambda: put(store, "k", PAYLOAD),
                    "destroy": lambda: store.destroy("k"),
                }
                for operation, call in calls.items():
                    with pytest.raises(SessionStoreError) as caught:
                        call()
                    error = caught.value
                    assert (error.store, error.operation, error.key) == (
                        "RedisStore",
                        operation,
                        "k",
                    )
                    assert isinstance(error.__cause__, redis.ConnectionError)
                    assert str(error).startswith(f"RedisStore could not {operation}")
            finally:
                redis_server.start()
            # The same client reconnects; the old data is gone (no persistence).
            assert fetch(store, "before") is None
            put(store, "after", PAYLOAD)
            assert fetch(store, "after") == PAYLOAD
        finally:
            client.close()
            redis_server.stop()


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda client, key: client.rpush(key, "job-1"), id="list"),
        pytest.param(lambda client, key: client.hset(key, "a", "1"), id="hash"),
        pytest.param(lambda client, key: client.set(key, b"[1,2]"), id="json-list"),
        pytest.param(lambda client, key: client.set(key, b"\xff{"), id="not-utf8"),
        pytest.param(lambda client, key: client.set(key, b'{" b":5}'), id="marker"),
    ],
)
def test_foreign_entry_under_a_session_id_is_no_error(
    redis_client: redis.Redis, corrupt: t.Callable[[redis.Redis, bytes], t.Any]
) -> None:
    # Through the extension: a request whose id names a foreign or damaged
    # entry gets a working session, and the foreign key survives.
    app = flask.Flask(__name__)
    app.secret_key = "test secret"
    KoaSession(app, store=RedisStore(redis_client))

    @app.get("/write")
    def write() -> str:
        flask.session["views"] = 1
        return "written"

    @app.get("/read")
    def read() -> dict[str, t.Any]:
        return {"views": flask.session.get("views")}

    @app.get("/destroy")
    def destroy() -> str:
        flask.session.destroy()
        return "destroyed"

    client = app.test_client()
    assert client.get("/write").status_code == 200
    [key] = redis_client.keys("*")
    redis_client.delete(key)
    corrupt(redis_client, key)
    before = (redis_client.type(key), redis_client.dump(key))
    for path in ("/read", "/read", "/destroy", "/read"):
        response = client.get(path)
        assert response.status_code == 200, path
    assert response.json == {"views": None}
    if before[0] != b"string":
        assert (redis_client.type(key), redis_client.dump(key)) == before
    # The client can start a new session, under a new id.
    assert client.get("/write").status_code == 200
    assert client.get("/read").json == {"views": 1}


class TestRedisSentinelStore(RedisContract):
    @pytest.fixture
    def sentinel_master(
        self, redis_sentinel: t.Any, redis_client: redis.Redis
    ) -> t.Iterator[redis.Redis]:
        sentinel = Sentinel(
            [(redis_sentinel.host, redis_sentinel.port)],
            socket_timeout=2,
            sentinel_kwargs={"socket_timeout": 2},
        )
        master = sentinel.master_for("mymaster", socket_timeout=2)
        yield master
        master.close()
        for client in sentinel.sentinels:
            client.close()

    @pytest.fixture
    def make_store(self, sentinel_master: redis.Redis) -> t.Callable[..., SessionStore]:
        return lambda **kwargs: RedisStore(sentinel_master, **kwargs)

    @pytest.fixture
    def raw_client(self, redis_client: redis.Redis) -> redis.Redis:
        return redis_client  # the master, directly

    def test_writes_koa_redis_entries_on_the_master(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        payload = {"views": 1, "_expire": 1795679564692, "_maxAge": 3600000}
        put(store, "via-sentinel", payload, 3_610_000)
        # redis_client talks to the master directly.
        assert redis_client.get("via-sentinel") == dumps_json(payload).encode()
        assert redis_client.ttl("via-sentinel") == 3610


class TestRedisClusterStore(RedisContract):
    @pytest.fixture
    def cluster_client(self, redis_cluster: t.Any) -> t.Iterator[RedisCluster]:
        client = RedisCluster(
            host=redis_cluster.host,
            port=redis_cluster.port,
            socket_timeout=2,
            socket_connect_timeout=2,
        )
        client.flushall(target_nodes=RedisCluster.PRIMARIES)
        yield client
        client.close()

    @pytest.fixture
    def make_store(self, cluster_client: RedisCluster) -> t.Callable[..., SessionStore]:
        return lambda **kwargs: RedisStore(cluster_client, **kwargs)

    @pytest.fixture
    def raw_client(self, cluster_client: RedisCluster) -> RedisCluster:
        return cluster_client

    def test_sessions_spread_over_nodes(
        self, store: RedisStore, cluster_client: RedisCluster
    ) -> None:
        keys = [str(uuid.UUID(int=index)) for index in range(30)]
        for key in keys:
            put(store, key, PAYLOAD, 3_610_000)
        primaries = cluster_client.get_primaries()
        counts = [cluster_client.dbsize(target_nodes=node) for node in primaries]
        assert len(counts) == 3
        assert sum(counts) == 30
        assert sum(1 for count in counts if count) >= 2
        for key in keys:
            assert cluster_client.ttl(key) == 3610
            assert fetch(store, key) == PAYLOAD


# -- SQLAlchemyStore ----------------------------------------------------------------


class SQLContract(StoreContract):
    """SQLAlchemyStore on some database; subclasses give ``database_url``."""

    @pytest.fixture
    def database_url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def make_store(
        self, database_url: str, clock: FakeClock
    ) -> t.Iterator[t.Callable[..., SQLAlchemyStore]]:
        made: list[SQLAlchemyStore] = []
        table = f"koa_sessions_{uuid.uuid4().hex[:8]}"  # tests share PostgreSQL

        def make(
            engine_or_url: sa.Engine | str | None = None, **kwargs: t.Any
        ) -> SQLAlchemyStore:
            kwargs.setdefault("table", table)
            kwargs.setdefault("clock", clock)
            store = SQLAlchemyStore(engine_or_url or database_url, **kwargs)
            made.append(store)
            return store

        yield make
        for store in reversed(made):  # borrowers of an engine before its owner
            store.table.drop(store.engine, checkfirst=True)
            store.close()

    @pytest.fixture
    def write_raw(self, store: SQLAlchemyStore) -> t.Callable[[str, bytes], None]:
        def write(key: str, raw: bytes) -> None:
            store.destroy(key)  # also creates the table
            try:
                data: t.Any = raw.decode()
            except UnicodeDecodeError:
                if store.engine.dialect.name == "postgresql":
                    # PostgreSQL refuses text that is not UTF-8: no row can
                    # hold it, and the id simply misses.
                    query = sa.text("SELECT convert_from(:data, 'UTF8')")
                    with store.engine.connect() as connection:
                        refused = connection.execute
                        with pytest.raises(sa.exc.DataError):
                            refused(query, {"data": raw})
                    return
                # SQLite keeps whatever bytes a TEXT value is given.
                assert store.engine.dialect.name == "sqlite"
                data = sa.cast(sa.literal(raw, sa.LargeBinary), sa.Text)
            with store.engine.begin() as connection:
                row = {"id": key, "data": data, "expires_at": None}
                connection.execute(sa.insert(store.table).values(row))

        return write

    def rows(self, store: SQLAlchemyStore) -> list[tuple[t.Any, ...]]:
        query = sa.select(store.table).order_by(store.table.c.id)
        with store.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query)]

    def test_creates_the_table_when_made(
        self, make_store: t.Callable[..., SQLAlchemyStore]
    ) -> None:
        store = make_store()
        name = store.table.name
        inspector = sa.inspect(store.engine)
        assert inspector.has_table(name)
        columns = {column["name"]: column for column in inspector.get_columns(name)}
        assert list(columns) == ["id", "data", "expires_at"]
        assert columns["expires_at"]["nullable"]
        assert inspector.get_pk_constraint(name)["constrained_columns"] == ["id"]

    def test_requests_never_create_the_table(
        self, make_store: t.Callable[..., SQLAlchemyStore]
    ) -> None:
        # With create_table=False the table is left to create_table() (or to
        # migrations): a request before it fails, and creates nothing.
        store = make_store(create_table=False)
        name = store.table.name
        assert not sa.inspect(store.engine).has_table(name)
        for call in (lambda: fetch(store, "key"), lambda: put(store, "key", PAYLOAD)):
            with pytest.raises(SessionStoreError):
                call()
        assert not sa.inspect(store.engine).has_table(name)
        store.create_table()
        assert sa.inspect(store.engine).has_table(name)
        assert fetch(store, "key") is None
        store.create_table()  # again: the table exists, nothing happens
        put(store, "key", PAYLOAD)
        assert fetch(store, "key") == PAYLOAD

    def test_default_table_name(
        self, make_store: t.Callable[..., SQLAlchemyStore]
    ) -> None:
        store = make_store(table="koa_sessions")
        put(store, "key", PAYLOAD)
        assert sa.inspect(store.engine).has_table("koa_sessions")

    def test_uses_an_existing_table(
        self, make_store: t.Callable[..., SQLAlchemyStore]
    ) -> None:
        metadata = sa.MetaData()
        first = make_store(metadata=metadata)
        put(first, "key", PAYLOAD)
        assert metadata.tables[first.table.name] is first.table
        # Same engine, same metadata: the table is reused, rows are shared.
        second = make_store(first.engine, metadata=metadata)
        assert second.table is first.table
        assert fetch(second, "key") == PAYLOAD
        # A fresh MetaData finds the table already in the database.
        third = make_store(first.engine)
        assert fetch(third, "key") == PAYLOAD

    def test_row_layout(self, store: SQLAlchemyStore, clock: FakeClock) -> None:
        put(store, "numbered", PAYLOAD, 3_610_000)
        put(store, "browser", SESSION_PAYLOAD, "session")
        assert self.rows(store) == [
            ("browser", dumps_json(SESSION_PAYLOAD), None),
            ("numbered", dumps_json(PAYLOAD), pytest.approx(clock.now + 3610)),
        ]

    def test_session_ttl_row(
        self, make_store: t.Callable[..., SQLAlchemyStore], clock: FakeClock
    ) -> None:
        store = make_store(session_ttl=600)
        put(store, "browser", SESSION_PAYLOAD, "session")
        assert self.rows(store) == [
            ("browser", dumps_json(SESSION_PAYLOAD), pytest.approx(clock.now + 600))
        ]

    def test_expired_rows_stay_until_cleanup(
        self, store: SQLAlchemyStore, advance: t.Callable[[float], None]
    ) -> None:
        for key in ("a", "b", "c"):
            put(store, key, PAYLOAD, 1000)
        put(store, "long", PAYLOAD, 60_000)
        put(store, "browser", SESSION_PAYLOAD, "session")
        advance(2)
        assert [fetch(store, key) for key in ("a", "b", "c")] == [None] * 3
        assert len(self.rows(store)) == 5
        assert store.cleanup() == 3
        assert [row[0] for row in self.rows(store)] == ["browser", "long"]
        assert store.cleanup() == 0

    def test_cleanup_before_first_use(self, store: SQLAlchemyStore) -> None:
        assert store.cleanup() == 0

    @pytest.mark.parametrize("raw", ["not json", "[1, 2]", "null", ""])
    def test_damaged_row_is_none(self, store: SQLAlchemyStore, raw: str) -> None:
        put(store, "key", PAYLOAD)
        with store.engine.begin() as connection:
            connection.execute(sa.update(store.table).values(data=raw))
        assert fetch(store, "key") is None

    def test_portable_upsert(self, store: SQLAlchemyStore) -> None:
        store.native_upsert_dialects = frozenset()  # type: ignore[misc]
        put(store, "key", PAYLOAD)
        put(store, "key", SESSION_PAYLOAD, "session")
        assert fetch(store, "key") == SESSION_PAYLOAD
        assert len(self.rows(store)) == 1

    def test_key_with_nul_is_never_found(self, store: SQLAlchemyStore) -> None:
        assert fetch(store, "bad\x00key") is None
        store.destroy("bad\x00key")

    def test_passed_engine_is_left_open(
        self, make_store: t.Callable[..., SQLAlchemyStore], store: SQLAlchemyStore
    ) -> None:
        put(store, "key", PAYLOAD)
        borrower = make_store(store.engine)
        borrower.close()
        assert fetch(store, "key") == PAYLOAD

    def test_rejects_bad_arguments(self, database_url: str) -> None:
        with pytest.raises(TypeError, match="engine_or_url") as caught:
            SQLAlchemyStore(42)  # type: ignore[arg-type]
        assert "sqlite:///path.db" in str(caught.value)
        engine = sa.create_engine("sqlite://")
        try:
            with pytest.raises(ValueError, match="table"):
                SQLAlchemyStore(engine, table="")
        finally:
            engine.dispose()


class TestSQLiteFileStore(SQLContract):
    @pytest.fixture
    def database_url(self, tmp_path: t.Any) -> str:
        return f"sqlite:///{tmp_path / 'sessions.db'}"

    def test_text_that_is_not_utf8_reads_like_node(
        self, store: SQLAlchemyStore, write_raw: t.Callable[[str, bytes], None]
    ) -> None:
        # sqlite3 cannot read such TEXT as str; the store reads its bytes.
        write_raw("key", b'{"name":"\xff","_session":true}')
        assert fetch(store, "key") == {"name": "\ufffd", "_session": True}

    def test_blob_row_reads_like_text(self, store: SQLAlchemyStore) -> None:
        # SQLite stores a BLOB in a TEXT column as it is.
        store.destroy("key")
        with store.engine.begin() as connection:
            row = {"id": "key", "data": PAYLOAD_JSON, "expires_at": None}
            connection.execute(sa.insert(store.table).values(row))
        assert fetch(store, "key") == PAYLOAD

    def test_unopenable_database_is_a_store_error(self, tmp_path: t.Any) -> None:
        url = f"sqlite:///{tmp_path / 'missing' / 'dir' / 's.db'}"
        with pytest.raises(SessionStoreError) as made:
            SQLAlchemyStore(url)
        assert (made.value.store, made.value.operation) == (
            "SQLAlchemyStore",
            "create_table",
        )
        assert isinstance(made.value.__cause__, sa.exc.OperationalError)
        store = SQLAlchemyStore(url, create_table=False)
        try:
            with pytest.raises(SessionStoreError) as caught:
                put(store, "key", PAYLOAD)
            assert (caught.value.store, caught.value.operation) == (
                "SQLAlchemyStore",
                "set",
            )
            assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
        finally:
            store.close()

    def test_processes_share_the_file(
        self, make_store: t.Callable[..., SQLAlchemyStore]
    ) -> None:
        first, second = make_store(), make_store()  # two engines, one file
        put(first, "key", PAYLOAD)
        assert fetch(second, "key") == PAYLOAD


class TestSQLiteMemoryStore(SQLContract):
    @pytest.fixture
    def database_url(self) -> str:
        return "sqlite://"


@pytest.fixture
def closing() -> t.Iterator[t.Callable[[SQLAlchemyStore], SQLAlchemyStore]]:
    """Close the stores a test makes."""
    stores: list[SQLAlchemyStore] = []
    yield lambda store: stores.append(store) or store
    for store in stores:
        store.close()


class PathLikeOnly:
    """An os.PathLike that is no pathlib.Path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path


class TestSQLAlchemyStoreArgument:
    """``engine_or_url``: an Engine, a URL, or the path of an SQLite file."""

    def test_relative_path_is_a_file_in_the_working_directory(
        self,
        tmp_path: pathlib.Path,
        monkeypatch: pytest.MonkeyPatch,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        monkeypatch.chdir(tmp_path)
        store = closing(SQLAlchemyStore("sessions.db"))
        assert store.engine.url.get_backend_name() == "sqlite"
        assert store.engine.url.database == "sessions.db"
        put(store, "key", PAYLOAD)
        assert (tmp_path / "sessions.db").is_file()
        # The same file as the URL "sqlite:///" + the path.
        same = closing(SQLAlchemyStore("sqlite:///sessions.db"))
        assert fetch(same, "key") == PAYLOAD

    def test_relative_path_in_a_directory(
        self,
        tmp_path: pathlib.Path,
        monkeypatch: pytest.MonkeyPatch,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        (tmp_path / "instance").mkdir()
        monkeypatch.chdir(tmp_path)
        store = closing(SQLAlchemyStore("instance/sessions.db"))
        put(store, "key", PAYLOAD)
        assert (tmp_path / "instance" / "sessions.db").is_file()

    def test_absolute_path(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        path = str(tmp_path / "s.db")
        store = closing(SQLAlchemyStore(path))
        assert store.engine.url.database == path
        put(store, "key", PAYLOAD)
        same = closing(SQLAlchemyStore(f"sqlite:///{path}"))
        assert fetch(same, "key") == PAYLOAD

    @pytest.mark.parametrize("kind", [pathlib.Path, PathLikeOnly])
    def test_path_object(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
        kind: t.Callable[[str], t.Any],
    ) -> None:
        store = closing(SQLAlchemyStore(kind(str(tmp_path / "p.db"))))
        put(store, "key", PAYLOAD)
        assert (tmp_path / "p.db").is_file()
        same = closing(SQLAlchemyStore(tmp_path / "p.db"))
        assert fetch(same, "key") == PAYLOAD

    def test_path_is_taken_as_it_is(
        self,
        tmp_path: pathlib.Path,
        monkeypatch: pytest.MonkeyPatch,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        # No URL parsing of a path: "?" and "@" are part of the file name.
        monkeypatch.chdir(tmp_path)
        store = closing(SQLAlchemyStore("odd@name?mode=memory.db"))
        put(store, "key", PAYLOAD)
        assert (tmp_path / "odd@name?mode=memory.db").is_file()

    def test_memory_path(
        self, closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore]
    ) -> None:
        store = closing(SQLAlchemyStore(":memory:"))
        put(store, "key", PAYLOAD)
        assert fetch(store, "key") == PAYLOAD

    @pytest.mark.parametrize(
        "value",
        [
            "://no-scheme",
            "not a url://x",
            "postgresql+psycopg://user@host:notaport/db",
            "nosuchdatabase://user@host/db",
            "",
        ],
    )
    def test_unusable_url_is_a_value_error(self, value: str) -> None:
        with pytest.raises(ValueError, match="engine_or_url") as caught:
            SQLAlchemyStore(value)
        message = str(caught.value)
        for form in (
            "'sqlite:///path.db'",
            "'sqlite://'",
            "'postgresql+psycopg://user@host/db'",
            "Engine",
            "file path",
        ):
            assert form in message

    @pytest.mark.parametrize(
        "value",
        [
            "postgresql+psycopg://user:s3cret@host:notaport/db",
            "nosuchdatabase://user:s3cret@host/db",
        ],
    )
    def test_url_error_hides_the_password(self, value: str) -> None:
        with pytest.raises(ValueError, match="engine_or_url") as caught:
            SQLAlchemyStore(value)
        assert "s3cret" not in str(caught.value)

    def test_bytes_path_is_a_value_error(self) -> None:
        class BytesPath:
            def __fspath__(self) -> bytes:
                return b"sessions.db"

        with pytest.raises(ValueError, match="engine_or_url"):
            SQLAlchemyStore(BytesPath())  # type: ignore[arg-type]

    def test_url_object(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        url = sa.URL.create("sqlite", database=str(tmp_path / "u.db"))
        store = closing(SQLAlchemyStore(url))
        put(store, "key", PAYLOAD)
        assert (tmp_path / "u.db").is_file()


class TestPostgresStore(SQLContract):
    @pytest.fixture
    def database_url(self, postgres_server: str) -> str:
        return postgres_server

    def test_unreachable_server_is_a_store_error(self) -> None:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"
        url += "?connect_timeout=2"
        with pytest.raises(SessionStoreError) as made:
            SQLAlchemyStore(url)
        assert (made.value.operation, made.value.key) == ("create_table", None)
        assert isinstance(made.value.__cause__, sa.exc.OperationalError)
        store = SQLAlchemyStore(url, create_table=False)
        calls = {
            "get": lambda: fetch(store, "k"),
            "set": lambda: put(store, "k", PAYLOAD),
            "destroy": lambda: store.destroy("k"),
            "cleanup": store.cleanup,
        }
        try:
            for operation, call in calls.items():
                with pytest.raises(SessionStoreError) as caught:
                    call()
                error = caught.value
                assert (error.store, error.operation) == ("SQLAlchemyStore", operation)
                assert error.key == (None if operation == "cleanup" else "k")
                assert isinstance(error.__cause__, sa.exc.OperationalError)
        finally:
            store.close()

    def test_server_restart(
        self, store: SQLAlchemyStore, postgres_instance: PostgresServer
    ) -> None:
        put(store, "key", PAYLOAD)
        postgres_instance.stop()
        try:
            with pytest.raises(SessionStoreError) as caught:
                fetch(store, "key")
            assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
        finally:
            postgres_instance.start()
        # The pool replaces its broken connections; the data survived.
        assert fetch(store, "key") == PAYLOAD


# -- decoding --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error", [TypeError, AttributeError, KeyError, IndexError, UnicodeError]
)
def test_any_decoding_error_is_a_miss(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    # Whatever a codec raises on a stored value (a custom tag, a future
    # marker...), the entry is no session: never an error for the request.
    def failing(text: str) -> t.Any:
        raise error("damaged")

    monkeypatch.setattr(codec, "loads_json", failing)
    assert codec.decode_payload('{"views":1}') is None
    assert codec.decode_payload(b'{"views":1}') is None


@pytest.mark.parametrize(
    "raw",
    [
        *NOT_SESSIONS.values(),
        *(raw.decode("utf-8", "replace") for raw in NOT_SESSIONS.values()),
    ],
)
def test_decode_payload_of_non_sessions(raw: str | bytes) -> None:
    assert codec.decode_payload(raw) is None


@pytest.mark.parametrize("raw", list(FORGED_MARKERS.values()), ids=list(FORGED_MARKERS))
def test_decode_payload_of_forged_markers(raw: bytes) -> None:
    loaded = codec.decode_payload(raw)
    assert loaded is None or type(loaded) is dict


# -- packaging ------------------------------------------------------------------------


def test_stores_import_without_optional_dependencies() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["redis"] = None  # makes "import redis" fail
        sys.modules["sqlalchemy"] = None
        import flask_koasession
        from flask_koasession.stores import MemoryStore, SessionStore
        for name, extra in (("RedisStore", "redis"), ("SQLAlchemyStore", "sqlalchemy")):
            try:
                getattr(__import__("flask_koasession.stores").stores, name)
            except ImportError as error:
                assert f"flask-koasession[{extra}]" in str(error), error
            else:
                raise AssertionError(name + " imported without its dependency")
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr
