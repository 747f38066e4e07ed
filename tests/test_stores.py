"""The session stores, each against a real backend.

:class:`StoreContract` holds what every store must do; each backend's class
reruns it by providing the ``make_store`` and ``advance`` fixtures, and adds its
own tests. Stores with an injectable clock move time with a fake clock; Redis
expires keys itself, so its tests sleep (about one second per class).
"""

from __future__ import annotations

import concurrent.futures
import datetime
import subprocess
import sys
import textwrap
import time
import typing as t
import uuid

import pytest
import redis
import sqlalchemy as sa
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

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
HOUR = 3_610_000  # one hour plus the 10 s the interface adds


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

    def test_is_a_session_store(self, store: SessionStore) -> None:
        assert isinstance(store, SessionStore)

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


class RedisContract(StoreContract):
    """Redis expires keys on its own clock: time passes by sleeping."""

    @pytest.fixture
    def advance(self) -> t.Callable[[float], None]:
        return time.sleep


class TestRedisStore(RedisContract):
    @pytest.fixture
    def make_store(self, redis_client: redis.Redis) -> t.Callable[..., SessionStore]:
        return lambda **kwargs: RedisStore(redis_client, **kwargs)

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

    def test_error_reply_is_a_store_error(
        self, store: RedisStore, redis_client: redis.Redis
    ) -> None:
        redis_client.rpush("key", "a list, not a string")
        with pytest.raises(SessionStoreError) as caught:
            fetch(store, "key")
        assert isinstance(caught.value.__cause__, redis.ResponseError)

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
            if store._table_ready:
                store.table.drop(store.engine, checkfirst=True)
            store.close()

    def rows(self, store: SQLAlchemyStore) -> list[tuple[t.Any, ...]]:
        query = sa.select(store.table).order_by(store.table.c.id)
        with store.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query)]

    def test_creates_the_table_on_first_use(self, store: SQLAlchemyStore) -> None:
        name = store.table.name
        assert not sa.inspect(store.engine).has_table(name)
        assert fetch(store, "key") is None
        inspector = sa.inspect(store.engine)
        assert inspector.has_table(name)
        columns = {column["name"]: column for column in inspector.get_columns(name)}
        assert list(columns) == ["id", "data", "expires_at"]
        assert columns["expires_at"]["nullable"]
        assert inspector.get_pk_constraint(name)["constrained_columns"] == ["id"]

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
        with pytest.raises(TypeError, match="engine_or_url"):
            SQLAlchemyStore(42)  # type: ignore[arg-type]
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

    def test_unopenable_database_is_a_store_error(self, tmp_path: t.Any) -> None:
        store = SQLAlchemyStore(f"sqlite:///{tmp_path / 'missing' / 'dir' / 's.db'}")
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


class TestPostgresStore(SQLContract):
    @pytest.fixture
    def database_url(self, postgres_server: str) -> str:
        return postgres_server

    def test_unreachable_server_is_a_store_error(self) -> None:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"
        store = SQLAlchemyStore(url + "?connect_timeout=2")
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
