"""MemoryStore against the store contract, and what is its own."""

from __future__ import annotations

import concurrent.futures
import time
import typing as t

import pytest

from flask_koasession.stores import MemoryStore, SessionStore
from tests.store_contract import (
    PAYLOAD,
    SESSION_PAYLOAD,
    ConditionalContract,
    FakeClock,
    IndexContract,
    fetch,
    put,
)


class TestMemoryStore(ConditionalContract, IndexContract):
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
