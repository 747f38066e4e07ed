"""A session store in the memory of one process, for development and tests."""

from __future__ import annotations

import threading
import time
import typing as t

from ..codec import dumps_json, loads_json
from .text import ConditionalTextStore


class MemoryStore(ConditionalTextStore):
    """Keep sessions in a dict of this process.

    Entries are kept as JSON text, as a real store would keep them: what
    :meth:`get` returns never shares objects with what :meth:`set` received,
    and a value that could not be stored elsewhere fails here too. Expired
    entries are never returned and are pruned from time to time.

    Conditional writes (:class:`~flask_koasession.stores.ConditionalStore`)
    hold the store's lock while they compare and write, so concurrent
    requests of one session keep each other's changes.

    Sessions vanish when the process exits and are not shared between worker
    processes: use it for development and tests, and
    :class:`~flask_koasession.stores.RedisStore` or
    :class:`~flask_koasession.stores.SQLAlchemyStore` in production.

    :param session_ttl: seconds that a ``"session"`` entry (a browser-session
        cookie) is kept. ``None``, the default, keeps it until it is destroyed
        or the process exits.
    :param clock: returns the current time in seconds; tests pass a fake one
        to move time forward without sleeping.
    """

    #: Seconds between two sweeps of expired entries, done during a
    #: :meth:`set`. :meth:`get` never returns an expired entry regardless.
    prune_interval: float = 60.0

    def __init__(
        self,
        *,
        session_ttl: int | None = None,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(session_ttl=session_ttl)
        self._clock = clock
        # id -> (JSON text, deadline on the clock or None for no expiry)
        self._entries: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()
        self._next_prune = clock() + self.prune_interval
        # The user index (SessionIndex): handle -> (user, record as JSON
        # text, deadline or None, ended).
        self._handles: dict[str, tuple[str, str, float | None, bool]] = {}

    def read_text(self, key: str) -> str | None:
        with self._lock:
            return self._live_text(key)

    def write_text(self, key: str, text: str, ttl: float | None) -> None:
        with self._lock:
            self._write(key, text, ttl)

    def create_text(self, key: str, text: str, ttl: float | None) -> bool:
        with self._lock:
            if self._live_text(key) is not None:
                return False
            self._write(key, text, ttl)
        return True

    def replace_text(
        self, key: str, expected: str | bytes, text: str, ttl: float | None
    ) -> t.Literal[True] | str | None:
        with self._lock:
            current = self._live_text(key)
            if current is None or current != expected:
                return current
            self._write(key, text, ttl)
        return True

    def delete_text(
        self, key: str, expected: str | bytes
    ) -> t.Literal[True] | str | None:
        with self._lock:
            current = self._live_text(key)
            if current is None or current != expected:
                return current
            del self._entries[key]
        return True

    def _live_text(self, key: str) -> str | None:
        # Called with the lock held: the text of key unless missing or expired.
        entry = self._entries.get(key)
        if entry is None:
            return None
        text, deadline = entry
        if deadline is not None and deadline <= self._clock():
            del self._entries[key]
            return None
        return text

    def _write(self, key: str, text: str, ttl: float | None) -> None:
        # Called with the lock held.
        now = self._clock()
        self._entries[key] = (text, None if ttl is None else now + ttl)
        if now >= self._next_prune:
            self._prune(now)

    def destroy(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    # -- the user index (SessionIndex) -----------------------------------------

    def index_session(
        self, user_id: str, handle: str, record: dict[str, t.Any], ttl: float | None
    ) -> bool:
        text = dumps_json(record)
        with self._lock:
            found = self._live_handle(handle)
            if found is not None and found[3]:
                return False  # ended: never indexed again
            self._handles[handle] = (user_id, text, self._deadline(ttl), False)
        return True

    def end_session(self, user_id: str, handle: str, ttl: float | None) -> bool:
        with self._lock:
            found = self._live_handle(handle)
            active = found is not None and not found[3] and found[0] == user_id
            self._handles[handle] = (user_id, "", self._deadline(ttl), True)
        return active

    def indexed_sessions(self, user_id: str) -> dict[str, dict[str, t.Any]]:
        texts: dict[str, str] = {}
        with self._lock:
            for handle in list(self._handles):  # expired ones pruned on the way
                entry = self._live_handle(handle)
                if entry is not None and not entry[3] and entry[0] == user_id:
                    texts[handle] = entry[1]
        return {handle: loads_json(text) for handle, text in texts.items()}

    def user_of(self, handle: str) -> str | None:
        with self._lock:
            found = self._live_handle(handle)
        return None if found is None or found[3] else found[0]

    def _live_handle(self, handle: str) -> tuple[str, str, float | None, bool] | None:
        # Called with the lock held: the index entry of handle unless expired.
        entry = self._handles.get(handle)
        if entry is not None and entry[2] is not None and entry[2] <= self._clock():
            del self._handles[handle]
            return None
        return entry

    def _deadline(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._clock() + ttl

    def cleanup(self) -> int:
        """Delete every expired entry now and return how many there were."""
        with self._lock:
            return self._prune(self._clock())

    def _prune(self, now: float) -> int:
        # Called with the lock held.
        expired = [
            key
            for key, (_, deadline) in self._entries.items()
            if deadline is not None and deadline <= now
        ]
        for key in expired:
            del self._entries[key]
        self._next_prune = now + self.prune_interval
        return len(expired)
