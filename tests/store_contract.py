"""The contract every session store keeps, as tests that each backend's test
file reruns: subclass :class:`StoreContract`, or :class:`ConditionalContract`
for a store with conditional writes (every built-in one; :class:`SQLContract`
for SQLAlchemyStore), give the ``make_store`` and ``write_raw`` fixtures, and
add the backend's own tests. A store that indexes sessions by user
(:class:`~flask_koasession.stores.SessionIndex`, every built-in one)
mixes in :class:`IndexContract` too. Stores with an injectable clock move
time with a fake clock; Redis expires keys itself, so its tests sleep.

Not collected itself: no ``test_`` prefix, and the classes have no ``Test``
prefix."""

from __future__ import annotations

import concurrent.futures
import datetime
import threading
import typing as t
import uuid

import pytest
import sqlalchemy as sa

from flask_koasession.codec import dumps_json
from flask_koasession.exceptions import SessionStoreError
from flask_koasession.stores import (
    ConditionalStore,
    Entry,
    SessionStore,
    SQLAlchemyStore,
    is_conditional,
)
from flask_koasession.stores.base import SessionIndex, Swapped, capabilities

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


def read_entry(store: t.Any, key: str) -> Entry | None:
    entry: Entry | None = store.get_entry(key, 3_600_000, rolling=False)
    return entry


def swap(
    store: t.Any,
    key: str,
    version: t.Any,
    data: dict[str, t.Any],
    max_age: int | t.Literal["session"] = HOUR,
) -> Swapped:
    """``compare_and_set`` as a save does it."""
    outcome: Swapped = store.compare_and_set(
        key, version, data, max_age, rolling=False, changed=True
    )
    return outcome


def entry_of(store: t.Any, key: str) -> Entry:
    entry = read_entry(store, key)
    assert entry is not None, f"no entry for {key!r}"
    return entry


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


# -- conditional writes ---------------------------------------------------------


class ConditionalContract(StoreContract):
    """What a store with conditional writes (ConditionalStore) does besides:
    every built-in store. Not collected itself."""

    def test_conditional_expiry(
        self, store: t.Any, advance: t.Callable[[float], None]
    ) -> None:
        # Conditional writes set times to live as set() does; one wait.
        assert store.create("created", PAYLOAD, 1000)
        put(store, "swapped", PAYLOAD, 1000)
        put(store, "stale", PAYLOAD, 1000)
        stale = entry_of(store, "stale")
        advance(0.5)
        assert swap(store, "swapped", entry_of(store, "swapped").version, PAYLOAD, 1000)
        advance(0.6)
        assert fetch(store, "created") is None
        assert fetch(store, "swapped") == PAYLOAD
        # An expired entry is gone for a conditional write: never recreated...
        assert swap(store, "stale", stale.version, PAYLOAD, 1000) is None
        assert store.compare_and_delete("stale", stale.version) is None
        assert fetch(store, "stale") is None
        # ...and its id can be created again.
        assert store.create("created", {"again": True}, 1000)
        assert fetch(store, "created") == {"again": True}

    def test_is_conditional(self, store: SessionStore) -> None:
        assert is_conditional(store)
        assert isinstance(store, ConditionalStore)

    def test_get_entry(
        self, store: t.Any, write_raw: t.Callable[[str, bytes], None]
    ) -> None:
        put(store, "key", PAYLOAD)
        entry = entry_of(store, "key")
        assert entry.payload == PAYLOAD
        assert entry.payload is not entry_of(store, "key").payload
        assert read_entry(store, "never-stored") is None
        write_raw("damaged", b"not json")
        assert read_entry(store, "damaged") is None

    def test_create_only_where_there_is_none(self, store: t.Any) -> None:
        assert store.create("new", PAYLOAD, HOUR) is True
        assert fetch(store, "new") == PAYLOAD
        assert store.create("new", {"other": 1}, HOUR) is False
        assert fetch(store, "new") == PAYLOAD
        assert store.create("browser", SESSION_PAYLOAD, "session") is True
        assert fetch(store, "browser") == SESSION_PAYLOAD

    def test_compare_and_set_unchanged_entry(self, store: t.Any) -> None:
        put(store, "key", PAYLOAD)
        loaded = entry_of(store, "key")
        assert swap(store, "key", loaded.version, {"views": 2, "_maxAge": 5}) is True
        assert fetch(store, "key") == {"views": 2, "_maxAge": 5}
        # The version loaded is stale now: the write returns the entry as it is.
        now = swap(store, "key", loaded.version, {"views": 3})
        assert isinstance(now, Entry)
        assert now.payload == {"views": 2, "_maxAge": 5}
        assert fetch(store, "key") == {"views": 2, "_maxAge": 5}
        # Its version is the one to write against next.
        assert swap(store, "key", now.version, {"views": 3}, "session") is True
        assert fetch(store, "key") == {"views": 3}

    def test_compare_and_set_returns_another_request_s_write(
        self, store: t.Any
    ) -> None:
        put(store, "key", PAYLOAD)
        loaded = entry_of(store, "key")
        put(store, "key", {**PAYLOAD, "cart": [1]})  # another request saved
        now = swap(store, "key", loaded.version, {"views": 9})
        assert isinstance(now, Entry)
        assert now.payload == {**PAYLOAD, "cart": [1]}
        assert fetch(store, "key") == {**PAYLOAD, "cart": [1]}

    def test_compare_and_set_never_recreates(self, store: t.Any) -> None:
        put(store, "key", PAYLOAD)
        loaded = entry_of(store, "key")
        store.destroy("key")  # a logout
        assert swap(store, "key", loaded.version, PAYLOAD) is None
        assert fetch(store, "key") is None
        assert swap(store, "never-stored", loaded.version, PAYLOAD) is None
        assert fetch(store, "never-stored") is None

    def test_compare_and_set_onto_damage_is_gone(
        self, store: t.Any, write_raw: t.Callable[[str, bytes], None]
    ) -> None:
        put(store, "key", PAYLOAD)
        loaded = entry_of(store, "key")
        write_raw("key", b"not json")
        assert swap(store, "key", loaded.version, PAYLOAD) is None
        assert fetch(store, "key") is None

    def test_compare_and_delete(self, store: t.Any) -> None:
        put(store, "a", PAYLOAD)
        assert store.compare_and_delete("a", entry_of(store, "a").version) is True
        assert fetch(store, "a") is None
        put(store, "b", PAYLOAD)
        loaded = entry_of(store, "b")
        put(store, "b", {"views": 2})
        now = store.compare_and_delete("b", loaded.version)
        assert isinstance(now, Entry)
        assert now.payload == {"views": 2}
        assert fetch(store, "b") == {"views": 2}
        assert store.compare_and_delete("b", now.version) is True
        assert fetch(store, "b") is None
        assert store.compare_and_delete("b", now.version) is None

    def test_concurrent_compare_and_set_loses_nothing(self, store: t.Any) -> None:
        # What merged saves do: read, add a key, write if unchanged, else
        # add it to the entry as it is now and try again.
        put(store, "shared", {"seed": 0})

        def work(worker: int) -> None:
            for round_ in range(8):
                entry = entry_of(store, "shared")
                for _ in range(1000):
                    data = {**entry.payload, f"w{worker}r{round_}": round_}
                    now = swap(store, "shared", entry.version, data)
                    if now is True:
                        break
                    assert isinstance(now, Entry)
                    entry = now

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for future in [pool.submit(work, worker) for worker in range(8)]:
                future.result(timeout=60)
        expected = {f"w{w}r{r}": r for w in range(8) for r in range(8)}
        assert fetch(store, "shared") == {"seed": 0, **expected}


# -- the user index ------------------------------------------------------------

#: A record as the extension writes it, with nested values and unicode.
RECORD: dict[str, t.Any] = {
    "store_id": "e640facf-751f-4c23-8b7d-8d6806f3fa29",
    "created_at": 1795679564692,
    "last_seen": 1795679600000.5,
    "expires_at": None,
    "user_agent": "Mozilla/5.0 (X11; Linux) «Zoë» 🍪 会话",
    "ip": "2001:db8::1",
    "flags": [True, False, None, 0, -1.25, "", {"deep": [[], {}]}],
}

#: User ids and handles that look like key syntax somewhere: hash tags,
#: glob patterns, separators, percent-escapes, unicode. Each is data only.
ODD_NAMES = [
    "{tag}",
    "{",
    "}",
    "{}",
    "a{b}c",
    "*",
    "a*",
    "?[x]",
    "user:1",
    "user",
    "%7B",
    "%",
    "a b",
    "ключ-🔑",
]

#: A time to live that no test outlives.
LONG = 600.0


class IndexContract:
    """What a store with the user index (SessionIndex) does; mixed into a
    backend's test class beside its store contract, whose ``store`` and
    ``advance`` fixtures it uses. Not collected itself."""

    def test_is_a_session_index(self, store: t.Any) -> None:
        assert isinstance(store, SessionIndex)
        assert capabilities(store).indexes

    def test_index_list_and_user_of(self, store: t.Any) -> None:
        assert store.indexed_sessions("u1") == {}
        assert store.index_session("u1", "h1", RECORD, LONG) is True
        assert store.index_session("u1", "h2", {"n": 2}, None) is True
        assert store.indexed_sessions("u1") == {"h1": RECORD, "h2": {"n": 2}}
        assert store.user_of("h1") == "u1"
        assert store.user_of("h2") == "u1"
        assert store.user_of("unknown") is None
        assert store.indexed_sessions("nobody") == {}

    def test_replace_a_record(self, store: t.Any) -> None:
        assert store.index_session("u1", "h1", {"last_seen": 1}, LONG)
        assert store.index_session("u1", "h1", {"last_seen": 2}, 30)
        assert store.index_session("u1", "h1", {"last_seen": 3}, None)
        assert store.indexed_sessions("u1") == {"h1": {"last_seen": 3}}
        assert store.user_of("h1") == "u1"

    def test_end_then_a_late_index_is_refused(self, store: t.Any) -> None:
        assert store.index_session("u1", "h1", RECORD, LONG)
        assert store.index_session("u1", "h2", RECORD, LONG)
        assert store.end_session("u1", "h1", LONG) is True
        assert store.indexed_sessions("u1") == {"h2": RECORD}
        assert store.user_of("h1") is None
        # A request in flight saves the ended session: nothing comes back.
        assert store.index_session("u1", "h1", {"late": True}, LONG) is False
        assert store.index_session("u1", "h1", {"late": True}, None) is False
        assert store.indexed_sessions("u1") == {"h2": RECORD}
        assert store.user_of("h1") is None
        # Ended already: not active any more.
        assert store.end_session("u1", "h1", LONG) is False
        assert store.end_session("u1", "h2", None) is True
        assert store.indexed_sessions("u1") == {}

    def test_end_of_an_unknown_handle(self, store: t.Any) -> None:
        assert store.end_session("u1", "never-indexed", LONG) is False
        # Remembered all the same: a save that comes later is refused.
        assert store.index_session("u1", "never-indexed", RECORD, LONG) is False
        assert store.indexed_sessions("u1") == {}
        assert store.user_of("never-indexed") is None

    def test_end_under_another_user(self, store: t.Any) -> None:
        assert store.index_session("u1", "h1", RECORD, LONG)
        # Not active for u2; ended all the same (as MemoryStore does).
        assert store.end_session("u2", "h1", LONG) is False
        assert store.user_of("h1") is None
        assert store.indexed_sessions("u1") == {}
        assert store.indexed_sessions("u2") == {}
        assert store.index_session("u1", "h1", RECORD, LONG) is False

    def test_users_are_apart(self, store: t.Any) -> None:
        assert store.index_session("u1", "h1", {"of": "u1"}, LONG)
        assert store.index_session("u1", "h2", {"of": "u1"}, LONG)
        assert store.index_session("u2", "h3", {"of": "u2"}, LONG)
        assert store.indexed_sessions("u1") == {"h1": {"of": "u1"}, "h2": {"of": "u1"}}
        assert store.indexed_sessions("u2") == {"h3": {"of": "u2"}}
        assert store.end_session("u2", "h3", LONG)
        assert store.indexed_sessions("u1") == {"h1": {"of": "u1"}, "h2": {"of": "u1"}}
        assert store.indexed_sessions("u2") == {}

    def test_a_handle_indexed_under_another_user_moves(self, store: t.Any) -> None:
        assert store.index_session("u1", "h1", {"of": "u1"}, LONG)
        assert store.index_session("u2", "h1", {"of": "u2"}, LONG)
        assert store.user_of("h1") == "u2"
        assert store.indexed_sessions("u1") == {}
        assert store.indexed_sessions("u2") == {"h1": {"of": "u2"}}
        assert store.end_session("u1", "h1", LONG) is False  # not u1's

    def test_records_round_trip_unchanged(self, store: t.Any) -> None:
        assert store.index_session("u1", "h1", RECORD, LONG)
        assert store.index_session("u1", "h2", {}, LONG)
        listed = store.indexed_sessions("u1")
        assert listed == {"h1": RECORD, "h2": {}}
        assert list(listed["h1"]) == list(RECORD)  # key order kept
        # Independent copies: changing what came back changes nothing stored.
        listed["h1"]["flags"][6]["deep"].append(1)
        listed["h1"]["ip"] = "changed"
        assert store.indexed_sessions("u1") == {"h1": RECORD, "h2": {}}

    def test_user_ids_and_handles_are_data(self, store: t.Any) -> None:
        for number, name in enumerate(ODD_NAMES):
            assert store.index_session(name, f"h-{number}", {"user": name}, LONG)
            assert store.index_session(f"u-{number}", name, {"handle": name}, LONG)
        for number, name in enumerate(ODD_NAMES):
            assert store.indexed_sessions(name) == {f"h-{number}": {"user": name}}
            assert store.user_of(f"h-{number}") == name
            assert store.indexed_sessions(f"u-{number}") == {name: {"handle": name}}
            assert store.user_of(name) == f"u-{number}"
        for number, name in enumerate(ODD_NAMES):
            assert store.end_session(f"u-{number}", name, LONG)
            assert store.user_of(name) is None
        assert store.indexed_sessions("{tag}") == {"h-0": {"user": "{tag}"}}

    def test_index_expiry(
        self, store: t.Any, advance: t.Callable[[float], None]
    ) -> None:
        # One wait checks everything, so that stores on real time sleep once.
        assert store.index_session("u1", "short", {"n": 1}, 1)
        assert store.index_session("u1", "rolled", {"n": 1}, 1)
        assert store.index_session("u1", "long", {"n": 1}, 60)
        assert store.index_session("u1", "forever", {"n": 1}, None)
        assert store.index_session("u1", "ended-briefly", {"n": 1}, 60)
        assert store.end_session("u1", "ended-briefly", 1)
        assert store.index_session("u1", "ended-for-good", {"n": 1}, 1)
        assert store.end_session("u1", "ended-for-good", None)
        advance(0.5)
        assert store.user_of("short") == "u1"
        assert store.index_session("u1", "rolled", {"n": 2}, 1)  # a later save
        advance(0.6)
        assert store.indexed_sessions("u1") == {
            "rolled": {"n": 2},
            "long": {"n": 1},
            "forever": {"n": 1},
        }
        assert store.user_of("short") is None
        assert store.end_session("u1", "short", LONG) is False  # expired already
        # The memory of an end lasts its ttl: then the handle is new again.
        assert store.index_session("u1", "ended-briefly", {"n": 3}, LONG)
        assert store.user_of("ended-briefly") == "u1"
        assert store.index_session("u1", "ended-for-good", {"n": 3}, LONG) is False
        # An expired record can be indexed again.
        assert store.index_session("u2", "rolled-over", {"n": 1}, 1)
        assert store.indexed_sessions("u2") == {"rolled-over": {"n": 1}}

    def test_concurrent_first_index_of_one_handle(self, store: t.Any) -> None:
        # Calls that all find no entry, and insert or meet the one another
        # call made: each one indexes.
        def work(worker: int) -> bool:
            indexed: bool = store.index_session("u1", "new", {"w": worker}, LONG)
            return indexed

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(work, range(8)))
        assert outcomes == [True] * 8
        assert list(store.indexed_sessions("u1")) == ["new"]

    def test_concurrent_index_and_end_never_resurrect(self, store: t.Any) -> None:
        # Requests in flight save a session (index_session, in a loop) while
        # two "log out everywhere" end it. An index that began after an end
        # returned must be refused; once ended, the session stays ended; and
        # exactly one end finds it active. A store whose check and write are
        # two steps fails this in the first rounds.
        rounds, indexers = 30, 6
        user = "racer"

        def one_round(number: int) -> None:
            handle = f"race-{number}"
            assert store.index_session(user, handle, {"round": number}, LONG)
            # The ends start once the indexers are saving in a loop.
            warm, saves, counting = threading.Event(), [0], threading.Lock()
            ended = threading.Event()
            late: list[int] = []
            ends: list[bool] = []

            def index(worker: int) -> None:
                after_end = 0
                for call in range(100_000):
                    began_after_end = ended.is_set()
                    record = {"round": number, "worker": worker, "call": call}
                    if not store.index_session(user, handle, record, LONG):
                        return
                    with counting:
                        saves[0] += 1
                        if saves[0] == 3 * indexers:
                            warm.set()
                    if began_after_end:
                        late.append(worker)
                        after_end += 1
                        if after_end > 3:
                            return  # resurrected: no use going on
                raise AssertionError("never ended")

            def end() -> None:
                warm.wait(timeout=30)
                ends.append(store.end_session(user, handle, LONG))
                ended.set()

            errors: list[BaseException] = []

            def run(work: t.Callable[[], None]) -> None:
                try:
                    work()
                except BaseException as error:  # reported by the test's thread
                    errors.append(error)

            threads = [
                threading.Thread(target=run, args=(lambda w=worker: index(w),))
                for worker in range(indexers)
            ]
            threads += [threading.Thread(target=run, args=(end,)) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
                assert not thread.is_alive()
            assert errors == [], errors
            assert late == [], f"round {number}: indexed after the end returned"
            assert sorted(ends) == [False, True], f"round {number}: {ends}"
            assert store.user_of(handle) is None, f"round {number}: resurrected"
            assert handle not in store.indexed_sessions(user)
            assert store.index_session(user, handle, {"after": True}, LONG) is False

        for number in range(rounds):
            one_round(number)
        assert store.indexed_sessions(user) == {}


# -- SQLAlchemyStore -------------------------------------------------------------


class PortableSQLAlchemyStore(SQLAlchemyStore):
    """A store that gives no dialect statements of its own: the portable
    ones that dialects other than SQLite's and PostgreSQL's get."""

    native_upsert_dialects = frozenset()
    single_statement_swap_dialects = frozenset()


class SQLContract(ConditionalContract, IndexContract):
    """SQLAlchemyStore on some database; subclasses give ``database_url``."""

    @pytest.fixture
    def database_url(self) -> str:
        raise NotImplementedError

    #: Whether the stores use the portable statements that dialects other
    #: than SQLite's and PostgreSQL's get (a subclass reruns every test so).
    portable = False

    @pytest.fixture
    def make_store(
        self, database_url: str, clock: FakeClock
    ) -> t.Iterator[t.Callable[..., SQLAlchemyStore]]:
        made: list[SQLAlchemyStore] = []
        table = f"koa_sessions_{uuid.uuid4().hex[:8]}"  # tests share PostgreSQL

        def make(
            engine_or_url: sa.Engine | str | None = None,
            *,
            portable: bool = self.portable,
            **kwargs: t.Any,
        ) -> SQLAlchemyStore:
            kwargs.setdefault("table", table)
            kwargs.setdefault("clock", clock)
            kind = PortableSQLAlchemyStore if portable else SQLAlchemyStore
            store = kind(engine_or_url or database_url, **kwargs)
            made.append(store)
            return store

        yield make
        for store in reversed(made):  # borrowers of an engine before its owner
            store.index_table.drop(store.engine, checkfirst=True)
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

    def test_portable_upsert(
        self, make_store: t.Callable[..., SQLAlchemyStore]
    ) -> None:
        store = make_store(portable=True)
        put(store, "key", PAYLOAD)
        put(store, "key", SESSION_PAYLOAD, "session")
        assert fetch(store, "key") == SESSION_PAYLOAD
        assert len(self.rows(store)) == 1

    def test_portable_create(
        self,
        make_store: t.Callable[..., SQLAlchemyStore],
        advance: t.Callable[[float], None],
    ) -> None:
        store = make_store(portable=True)
        assert store.create("key", PAYLOAD, 1000)
        assert not store.create("key", SESSION_PAYLOAD, "session")
        assert fetch(store, "key") == PAYLOAD
        advance(2)
        assert store.create("key", SESSION_PAYLOAD, "session")  # over an expired row
        assert fetch(store, "key") == SESSION_PAYLOAD
        assert len(self.rows(store)) == 1

    def test_conditional_row_layout(
        self, store: SQLAlchemyStore, clock: FakeClock
    ) -> None:
        assert store.create("key", PAYLOAD, 3_610_000)
        assert self.rows(store) == [
            ("key", dumps_json(PAYLOAD), pytest.approx(clock.now + 3610))
        ]
        clock.advance(60)
        assert swap(
            store, "key", entry_of(store, "key").version, SESSION_PAYLOAD, "session"
        )
        assert self.rows(store) == [("key", dumps_json(SESSION_PAYLOAD), None)]

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

    # -- the user index ----------------------------------------------------------

    def index_rows(self, store: SQLAlchemyStore) -> list[tuple[t.Any, ...]]:
        query = sa.select(store.index_table).order_by(store.index_table.c.handle)
        with store.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query)]

    def test_creates_the_index_table_when_made(
        self, make_store: t.Callable[..., SQLAlchemyStore]
    ) -> None:
        store = make_store()
        name = store.index_table.name
        assert name == f"{store.table.name}_users"
        inspector = sa.inspect(store.engine)
        columns = {column["name"]: column for column in inspector.get_columns(name)}
        assert list(columns) == ["handle", "user_id", "record", "expires_at", "ended"]
        assert [name for name, column in columns.items() if column["nullable"]] == [
            "record",
            "expires_at",
        ]
        assert inspector.get_pk_constraint(name)["constrained_columns"] == ["handle"]
        indexed = [index["column_names"] for index in inspector.get_indexes(name)]
        assert sorted(indexed) == [["expires_at"], ["user_id"]]

    def test_create_table_makes_the_index_table(
        self, make_store: t.Callable[..., SQLAlchemyStore]
    ) -> None:
        store = make_store(create_table=False)
        with pytest.raises(SessionStoreError) as caught:
            store.index_session("u1", "h1", RECORD, LONG)
        assert (caught.value.operation, caught.value.key) == ("index_session", "h1")
        assert not sa.inspect(store.engine).has_table(store.index_table.name)
        store.create_table()
        assert sa.inspect(store.engine).has_table(store.index_table.name)
        assert store.index_session("u1", "h1", RECORD, LONG)
        store.create_table()  # again: nothing happens
        assert store.indexed_sessions("u1") == {"h1": RECORD}

    def test_index_row_layout(self, store: SQLAlchemyStore, clock: FakeClock) -> None:
        assert store.index_session("u1", "active", RECORD, 3600)
        assert store.index_session("u1", "ended", RECORD, None)
        assert store.end_session("u1", "ended", 60)
        assert not store.end_session("u1", "unknown", None)
        assert self.index_rows(store) == [
            ("active", "u1", dumps_json(RECORD), pytest.approx(clock.now + 3600), 0),
            # An ended row keeps no record: "" says it was active when ended.
            ("ended", "u1", "", pytest.approx(clock.now + 60), 1),
            ("unknown", "u1", None, None, 1),
        ]

    def test_cleanup_deletes_expired_index_rows(
        self, store: SQLAlchemyStore, advance: t.Callable[[float], None]
    ) -> None:
        put(store, "session", PAYLOAD, 1000)
        assert store.index_session("u1", "short", RECORD, 1)
        assert store.index_session("u1", "long", RECORD, 60)
        assert store.index_session("u1", "forever", RECORD, None)
        assert not store.end_session("u1", "ended-briefly", 1)
        assert not store.end_session("u1", "ended-for-good", None)
        advance(2)
        assert len(self.index_rows(store)) == 5
        assert store.cleanup() == 1  # sessions are counted, not index rows
        assert [row[0] for row in self.index_rows(store)] == [
            "ended-for-good",
            "forever",
            "long",
        ]
        assert store.indexed_sessions("u1") == {"long": RECORD, "forever": RECORD}
        assert not store.index_session("u1", "ended-for-good", RECORD, 1)

    def test_cleanup_without_the_index_table(
        self, make_store: t.Callable[..., SQLAlchemyStore]
    ) -> None:
        # Migrations made before the index made the session table alone.
        store = make_store()
        store.index_table.drop(store.engine)
        put(store, "session", PAYLOAD, 1000)
        assert store.cleanup() == 0
        store.create_table()
        assert store.index_session("u1", "h1", RECORD, LONG)

    def test_uses_an_existing_index_table(
        self, make_store: t.Callable[..., SQLAlchemyStore]
    ) -> None:
        metadata = sa.MetaData()
        first = make_store(metadata=metadata)
        assert metadata.tables[first.index_table.name] is first.index_table
        assert first.index_session("u1", "h1", RECORD, LONG)
        second = make_store(first.engine, metadata=metadata)
        assert second.index_table is first.index_table
        assert second.indexed_sessions("u1") == {"h1": RECORD}
