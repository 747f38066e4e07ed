"""RedisStore against the store contract, on a real Redis server, Sentinel
and Cluster; and koa-redis's layout of keys, values and TTLs."""

from __future__ import annotations

import time
import typing as t
import uuid

import flask
import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.retry import Retry
from redis.sentinel import Sentinel

from devkit.servers import RedisServer
from devkit.traffic import Traffic, redis_traffic
from flask_koasession import KoaSession
from flask_koasession.codec import dumps_json
from flask_koasession.exceptions import SessionStoreError
from flask_koasession.stores import Entry, RedisStore, SessionStore
from flask_koasession.stores.redis import LISTING_GRACE_MS, key_part
from tests.store_contract import (
    HOUR,
    LONG,
    ODD_NAMES,
    PAYLOAD,
    PAYLOAD_JSON,
    RECORD,
    SESSION_PAYLOAD,
    ConditionalContract,
    IndexContract,
    entry_of,
    fetch,
    put,
    swap,
)


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


class RedisContract(ConditionalContract, IndexContract):
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

    def test_conditional_writes_on_keys_of_every_slot(
        self, store: RedisStore, raw_client: t.Any
    ) -> None:
        # One key per script: on a cluster each runs on the node of its key.
        keys = [str(uuid.UUID(int=index)) for index in range(30)]
        for key in keys:
            assert store.create(key, PAYLOAD, HOUR)
            assert swap(store, key, entry_of(store, key).version, {"n": key}) is True
        assert [fetch(store, key) for key in keys] == [{"n": key} for key in keys]
        for key in keys:
            assert store.compare_and_delete(key, entry_of(store, key).version)
        assert sum(raw_client.exists(key) for key in keys) == 0

    def test_conditional_write_onto_another_type_is_gone(
        self, store: RedisStore, raw_client: t.Any
    ) -> None:
        put(store, "key", PAYLOAD)
        loaded = entry_of(store, "key")
        raw_client.delete("key")
        FOREIGN_TYPES["list"](raw_client, "key")
        before = foreign_key_state(raw_client, "key")
        assert swap(store, "key", loaded.version, PAYLOAD) is None
        assert store.compare_and_delete("key", loaded.version) is None
        assert not store.create("key", PAYLOAD, HOUR)
        assert foreign_key_state(raw_client, "key") == before

    def test_create_and_delete(self, store: RedisStore) -> None:
        # A regenerate: the new entry, then the old one gone if unchanged.
        put(store, "old", PAYLOAD)
        loaded = entry_of(store, "old")
        assert store.create_and_delete("new", {"v": 1}, HOUR, "old", loaded.version)
        assert fetch(store, "new") == {"v": 1}
        assert fetch(store, "old") is None
        # The new id is taken: nothing written, the old entry left alone.
        put(store, "old", PAYLOAD)
        loaded = entry_of(store, "old")
        moved = store.create_and_delete("new", {"v": 2}, HOUR, "old", loaded.version)
        assert moved is False
        assert fetch(store, "new") == {"v": 1}
        assert fetch(store, "old") == PAYLOAD
        # The old entry changed meanwhile: created, and the old one as it is.
        put(store, "old", {"w": 1})
        moved = store.create_and_delete("new2", {"v": 3}, HOUR, "old", loaded.version)
        assert isinstance(moved, Entry)
        assert moved.payload == {"w": 1}
        assert fetch(store, "new2") == {"v": 3}
        # The old entry is gone: created, and None.
        store.destroy("old")
        moved = store.create_and_delete("new3", {"v": 4}, HOUR, "old", loaded.version)
        assert moved is None
        assert fetch(store, "new3") == {"v": 4}


class TestRedisStore(RedisContract):
    @pytest.fixture
    def make_store(self, redis_client: redis.Redis) -> t.Callable[..., SessionStore]:
        return lambda **kwargs: RedisStore(redis_client, **kwargs)

    @pytest.fixture
    def raw_client(self, redis_client: redis.Redis) -> redis.Redis:
        return redis_client

    def test_conditional_writes_are_koa_redis_entries(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        key = "e640facf-751f-4c23-8b7d-8d6806f3fa29"
        payload = {"views": 1, "_expire": 1795679564692, "_maxAge": 3600000}
        assert store.create(key, payload, 3_610_000)
        assert redis_client.keys("*") == [key.encode()]
        assert redis_client.get(key) == dumps_json(payload).encode()
        assert redis_client.ttl(key) == 3610
        assert swap(store, key, entry_of(store, key).version, PAYLOAD, 1001) is True
        assert redis_client.get(key) == dumps_json(PAYLOAD).encode()
        assert redis_client.ttl(key) == 2  # rounded up, as koa-redis does
        version = entry_of(store, key).version
        assert swap(store, key, version, SESSION_PAYLOAD, "session") is True
        assert redis_client.ttl(key) == -1  # a plain SET, as in set()
        assert store.create("browser", SESSION_PAYLOAD, "session")
        assert redis_client.ttl("browser") == -1

    def test_conditional_writes_are_one_command_each(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        put(store, "warm", PAYLOAD)
        swap(store, "warm", entry_of(store, "warm").version, PAYLOAD)  # loads it
        store.compare_and_delete("warm", entry_of(store, "warm").version)
        put(store, "key", PAYLOAD)
        loaded = entry_of(store, "key")
        redis_client.config_resetstat()
        assert store.create("new", PAYLOAD, HOUR)
        assert swap(store, "key", loaded.version, {"views": 2}) is True
        assert isinstance(swap(store, "key", loaded.version, {"views": 3}), Entry)
        assert store.compare_and_delete("new", entry_of(store, "new").version)
        stats = redis_client.info("commandstats")
        assert stats["cmdstat_set"]["calls"] == 2  # SET NX, and one in a script
        assert stats["cmdstat_evalsha"]["calls"] == 3
        assert stats["cmdstat_get"]["calls"] == 4  # 3 in scripts, entry_of
        assert "cmdstat_script|load" not in stats

    def test_conditional_writes_with_decode_responses(
        self, redis_server: RedisServer
    ) -> None:
        client = redis_client_for(redis_server, decode_responses=True)
        try:
            store = RedisStore(client)
            assert store.create("decoded", PAYLOAD, HOUR)
            loaded = entry_of(store, "decoded")
            assert loaded.payload == PAYLOAD
            assert swap(store, "decoded", loaded.version, {"views": 2}) is True
            now = swap(store, "decoded", loaded.version, {"views": 3})
            assert isinstance(now, Entry)
            assert now.payload == {"views": 2}
            assert store.compare_and_delete("decoded", now.version) is True
            assert fetch(store, "decoded") is None
        finally:
            client.close()

    def test_conditional_writes_use_the_prefix(self, redis_client: redis.Redis) -> None:
        store = RedisStore(redis_client, prefix="koa:sess:")
        assert store.create("abc", PAYLOAD, HOUR)
        assert swap(store, "abc", entry_of(store, "abc").version, {"v": 1}) is True
        assert redis_client.keys("*") == [b"koa:sess:abc"]
        assert store.compare_and_delete("abc", entry_of(store, "abc").version)
        assert redis_client.keys("*") == []

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

    def test_conditional_write_errors_are_store_errors(
        self,
        redis_client: redis.Redis,
        limited_client: t.Callable[..., redis.Redis],
    ) -> None:
        # SET refused: as SET NX, and inside the scripts (EVALSHA allowed).
        put(RedisStore(redis_client), "key", PAYLOAD)
        store = RedisStore(limited_client("-set", "-del"))
        loaded = entry_of(store, "key")
        for operation, call in {
            "create": lambda: store.create("new", PAYLOAD, HOUR),
            "compare_and_set": lambda: swap(store, "key", loaded.version, {}),
            "compare_and_delete": lambda: store.compare_and_delete(
                "key", loaded.version
            ),
        }.items():
            with pytest.raises(SessionStoreError) as caught:
                call()
            assert (caught.value.operation, caught.value.key) == (
                operation,
                "new" if operation == "create" else "key",
            )
            assert isinstance(caught.value.__cause__, redis.ResponseError)
        assert redis_client.get("key") == dumps_json(PAYLOAD).encode()
        assert redis_client.exists("new") == 0

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

    @pytest.mark.needs_server
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
                    "create": lambda: store.create("k", PAYLOAD, HOUR),
                    "compare_and_set": lambda: swap(store, "k", b"{}", PAYLOAD),
                    "compare_and_delete": lambda: store.compare_and_delete("k", b"{}"),
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

    # -- the user index ----------------------------------------------------------

    def test_index_keys(self, redis_client: redis.Redis) -> None:
        store = RedisStore(redis_client, prefix="app:")
        assert store.index_session("u1", "h1", RECORD, 3600)
        assert sorted(redis_client.keys("*")) == [
            b"app:koa:handles:h1",
            b"app:koa:users:u1",
        ]
        # The handle's key is the truth: its user and record, its TTL.
        assert redis_client.hgetall("app:koa:handles:h1") == {
            b"user": b"u1",
            b"record": dumps_json(RECORD).encode(),
        }
        assert 3_599_000 < redis_client.pttl("app:koa:handles:h1") <= 3_600_000
        # The user's key lists the handle: a deadline (ms, a minute after the
        # handle's) and a nonce; the key lives as long.
        [(field, entry)] = redis_client.hgetall("app:koa:users:u1").items()
        deadline, nonce = entry.split(b" ")
        assert field == b"h1"
        expected = (time.time() + 3600) * 1000 + LISTING_GRACE_MS
        assert int(deadline) == pytest.approx(expected, abs=2000)
        assert len(nonce) == 16
        assert 3_659_000 < redis_client.pttl("app:koa:users:u1") <= 3_660_000
        # Ended: the handle's key says so for the ttl given; the user's key,
        # emptied, is gone.
        assert store.end_session("u1", "h1", 60)
        assert redis_client.keys("*") == [b"app:koa:handles:h1"]
        assert redis_client.hgetall("app:koa:handles:h1") == {b"ended": b"1"}
        assert 59_000 < redis_client.pttl("app:koa:handles:h1") <= 60_000
        assert store.end_session("u1", "h2", None) is False
        assert redis_client.hgetall("app:koa:handles:h2") == {b"ended": b"1"}
        assert redis_client.pttl("app:koa:handles:h2") == -1

    def test_user_key_lives_as_long_as_its_longest_record(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        def ttl() -> float:
            return round(redis_client.pttl("koa:users:u1") / 1000)

        grace = LISTING_GRACE_MS // 1000
        assert store.index_session("u1", "short", RECORD, 100)
        assert ttl() == 100 + grace
        assert store.index_session("u1", "long", RECORD, 1000)
        assert ttl() == 1000 + grace
        assert store.index_session("u1", "short", RECORD, 100)  # never shortens
        assert ttl() == 1000 + grace
        assert store.index_session("u1", "forever", RECORD, None)
        assert redis_client.pttl("koa:users:u1") == -1
        assert store.end_session("u1", "forever", 60)
        assert ttl() == 1000 + grace
        assert store.end_session("u1", "long", 60)
        assert ttl() == 100 + grace

    def test_listing_unlists_what_no_write_needs(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        for handle in ("live", "expired", "ended", "ending", "moved"):
            assert store.index_session("u1", handle, {"h": handle}, LONG)
        redis_client.delete("koa:handles:expired")  # as its TTL would
        assert store.index_session("u2", "moved", {"h": "moved"}, LONG)
        # Indexes that began before the end: they listed the handles again.
        assert store.end_session("u1", "ended", LONG)
        assert store.end_session("u1", "ending", 10)  # remembered briefly
        for handle in ("ended", "ending"):
            assert not store.index_session("u1", handle, {"late": True}, LONG)
        assert redis_client.hlen("koa:users:u1") == 5
        assert store.indexed_sessions("u1") == {"live": {"h": "live"}}
        # The ended handle's entry goes; the others may still be needed by an
        # index between its two steps, until their deadline.
        assert sorted(redis_client.hkeys("koa:users:u1")) == [
            b"ending",
            b"expired",
            b"live",
            b"moved",
        ]
        for handle in (b"ending", b"expired", b"moved"):
            nonce = redis_client.hget("koa:users:u1", handle).split(b" ")[1]
            redis_client.hset("koa:users:u1", handle, b"1000 " + nonce)
        assert store.indexed_sessions("u1") == {"live": {"h": "live"}}
        assert redis_client.hkeys("koa:users:u1") == [b"live"]
        assert store.indexed_sessions("u2") == {"moved": {"h": "moved"}}
        assert store.end_session("u1", "live", LONG)
        assert store.indexed_sessions("u1") == {}
        assert redis_client.exists("koa:users:u1") == 0

    def test_an_index_between_its_two_steps_stays_listed(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        # The user's entry is written, the handle's key not yet (or the
        # client failed in between): not shown, and never unlisted...
        assert store.index_session("u2", "h1", RECORD, LONG)
        store._list_handle_script(keys=["koa:users:u1"], args=("h1", "60000", "n"))
        store._list_handle_script(keys=["koa:users:u1"], args=("h2", "60000", "n"))
        store._list_handle_script(keys=["koa:users:u1"], args=("h3", "", "n"))
        assert store.indexed_sessions("u1") == {}
        assert sorted(redis_client.hkeys("koa:users:u1")) == [b"h1", b"h2", b"h3"]
        # ...so that once the handle's key is written, it is listed.
        store._index_handle_script(
            keys=["koa:handles:h1"], args=("u1", dumps_json(RECORD), "")
        )
        assert store.indexed_sessions("u1") == {"h1": RECORD}

    def test_unlisting_spares_an_entry_written_since(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        # A listing read the entry of an ended handle; an index wrote a new
        # entry before the listing unlists: it stays.
        assert store.index_session("u1", "h1", RECORD, LONG)
        read = redis_client.hget("koa:users:u1", "h1")
        assert store.index_session("u1", "h1", RECORD, LONG)
        unlist = store._unlist_handles_script
        assert unlist(keys=["koa:users:u1"], args=("h1", read, "e")) == 0
        assert unlist(keys=["koa:users:u1"], args=("h1", read, "x")) == 0
        assert store.indexed_sessions("u1") == {"h1": RECORD}

    def test_user_ids_and_handles_make_no_hash_tags(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        for number, name in enumerate(ODD_NAMES):
            assert store.index_session(name, f"h-{number}", {}, LONG)
            assert store.index_session(f"u-{number}", name, {}, LONG)
        keys = [key.decode() for key in redis_client.keys("*")]
        assert len(keys) == 4 * len(ODD_NAMES)
        assert not any("{" in key or "}" in key for key in keys)
        assert store.user_key("{tag}") == "koa:users:%7Btag%7D"
        assert store.handle_key("%7B") == "koa:handles:%257B"
        assert key_part("a{b}%c") == "a%7Bb%7D%25c"

    def test_index_round_trips(
        self, store: RedisStore, redis_client: redis.Redis, redis_server: RedisServer
    ) -> None:
        def traffic_of() -> t.ContextManager[Traffic]:
            return redis_traffic(redis_server.host, redis_server.port, db=0)

        assert store.index_session("u1", "warm", RECORD, LONG)  # loads scripts
        assert store.end_session("u1", "warm", LONG)
        assert not store.index_session("u1", "warm", RECORD, LONG)  # to unlist
        with traffic_of() as traffic:
            assert store.index_session("u1", "h1", RECORD, LONG)
        assert traffic.names == ["EVALSHA", "EVALSHA"]
        assert traffic.script_calls == [
            "EXISTS", "TIME", "HSET", "PTTL", "PEXPIRE",
            "HEXISTS", "DEL", "HSET", "PEXPIRE",
        ]  # fmt: skip
        with traffic_of() as traffic:
            assert store.user_of("h1") == "u1"
        assert traffic.names == ["HGET"]
        with traffic_of() as traffic:
            assert store.indexed_sessions("u1") == {"h1": RECORD}
        # HGETALL; one pipeline of HMGET and PTTL; a script unlisting "warm".
        assert traffic.names == ["HGETALL", "HMGET", "PTTL", "HMGET", "PTTL", "EVALSHA"]
        with traffic_of() as traffic:
            assert store.end_session("u1", "h1", LONG)
        assert traffic.names == ["EVALSHA", "EVALSHA"]
        with traffic_of() as traffic:
            assert store.index_session("u1", "h1", RECORD, LONG) is False
        assert traffic.names == ["EVALSHA", "EVALSHA"]

    def test_index_with_decode_responses(
        self, redis_server: RedisServer, redis_client: redis.Redis
    ) -> None:
        client = redis_client_for(redis_server, decode_responses=True)
        try:
            store = RedisStore(client)
            assert store.index_session("ключ", "h1", RECORD, LONG)
            assert store.index_session("ключ", "h2", RECORD, LONG)
            assert store.end_session("ключ", "h2", LONG)
            assert store.user_of("h1") == "ключ"
            assert store.indexed_sessions("ключ") == {"h1": RECORD}
        finally:
            client.close()

    def test_index_errors_are_store_errors(
        self,
        redis_client: redis.Redis,
        limited_client: t.Callable[..., redis.Redis],
    ) -> None:
        RedisStore(redis_client).index_session("u1", "h1", RECORD, LONG)
        store = RedisStore(limited_client("-evalsha", "-hget", "-hgetall"))
        for operation, key, call in [
            ("index_session", "h1", lambda: store.index_session("u1", "h1", {}, 1)),
            ("end_session", "h1", lambda: store.end_session("u1", "h1", 1)),
            ("indexed_sessions", "u1", lambda: store.indexed_sessions("u1")),
            ("user_of", "h1", lambda: store.user_of("h1")),
        ]:
            with pytest.raises(SessionStoreError) as caught:
                call()
            assert (caught.value.operation, caught.value.key) == (operation, key)
            assert isinstance(caught.value.__cause__, redis.ResponseError)
        assert RedisStore(redis_client).user_of("h1") == "u1"


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
    def master_client(self, redis_sentinel: t.Any) -> t.Iterator[redis.Redis]:
        """A client of the Sentinel's master, directly, on an empty database."""
        client = redis_client_for(redis_sentinel.master)
        client.flushdb()
        yield client
        client.close()

    @pytest.fixture
    def sentinel_master(
        self, redis_sentinel: t.Any, master_client: redis.Redis
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
    def raw_client(self, master_client: redis.Redis) -> redis.Redis:
        return master_client

    def test_writes_koa_redis_entries_on_the_master(
        self, store: RedisStore, master_client: redis.Redis
    ) -> None:
        payload = {"views": 1, "_expire": 1795679564692, "_maxAge": 3600000}
        put(store, "via-sentinel", payload, 3_610_000)
        assert master_client.get("via-sentinel") == dumps_json(payload).encode()
        assert master_client.ttl("via-sentinel") == 3610


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

    def test_index_keys_spread_over_nodes(
        self, store: RedisStore, cluster_client: RedisCluster
    ) -> None:
        # A "{...}" in a user id or handle makes no hash tag: users named
        # alike still land on every node, and each of the two keys of an
        # index_session on the node of its own slot.
        users = [f"{{same}}-{number}" for number in range(30)]
        for user in users:
            assert store.index_session(user, f"{{same}}-{user}", RECORD, LONG)
        slots = {key_slot(store.user_key(user).encode()) for user in users}
        assert len(slots) > 20
        primaries = cluster_client.get_primaries()
        counts = [cluster_client.dbsize(target_nodes=node) for node in primaries]
        assert sum(counts) == 60
        assert all(counts)
        for user in users:
            assert store.indexed_sessions(user) == {f"{{same}}-{user}": RECORD}
            assert store.end_session(user, f"{{same}}-{user}", LONG)


def test_create_and_delete_takes_two_calls_where_a_script_may_not_span_slots(
    redis_cluster: t.Any,
) -> None:
    # A plain client of one cluster node stands for a proxy or a sharded
    # Redis that refuses a script over two slots (CROSSSLOT): the login is
    # made with two calls instead of failing.
    node = redis_client_for(redis_cluster)
    node.flushdb()
    served = [
        range(start, end + 1)
        for start, end, (host, port, *_), *_ in node.execute_command("CLUSTER", "SLOTS")
        if port == redis_cluster.port
    ]
    ids = [f"id-{n}" for n in range(2000)]
    mine = [i for i in ids if any(key_slot(i.encode()) in r for r in served)]
    old = mine[0]
    new = next(i for i in mine if key_slot(i.encode()) != key_slot(old.encode()))
    store = RedisStore(node)
    put(store, old, PAYLOAD)
    loaded = entry_of(store, old)
    assert store.create_and_delete(new, {"v": 1}, HOUR, old, loaded.version) is True
    assert fetch(store, new) == {"v": 1}
    assert fetch(store, old) is None
    node.close()
