"""A session store in the memory of one process, for development and tests."""

from __future__ import annotations

import threading
import time
import typing as t

from ..codec import dumps_json
from ._payload import decode_payload
from ._ttl import check_session_ttl, ttl_seconds

if t.TYPE_CHECKING:
    from .base import MaxAge


class MemoryStore:
    """Keep sessions in a dict of this process.

    Entries are kept as JSON text, as a real store would keep them: what
    :meth:`get` returns never shares objects with what :meth:`set` received,
    and a value that could not be stored elsewhere fails here too. Expired
    entries are never returned and are pruned from time to time.

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
        self.session_ttl = check_session_ttl(session_ttl)
        self._clock = clock
        # id -> (JSON text, deadline on the clock or None for no expiry)
        self._entries: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()
        self._next_prune = clock() + self.prune_interval

    def get(
        self, key: str, max_age: MaxAge, *, rolling: bool
    ) -> dict[str, t.Any] | None:
        """Return the payload stored under ``key``, or ``None``.

        :param key: the session id.
        :param max_age: unused; part of the store protocol.
        :param rolling: unused; part of the store protocol.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            text, deadline = entry
            if deadline is not None and deadline <= self._clock():
                del self._entries[key]
                return None
        return decode_payload(text)

    def set(
        self,
        key: str,
        data: dict[str, t.Any],
        max_age: MaxAge,
        *,
        rolling: bool,
        changed: bool,
    ) -> None:
        """Store ``data`` under ``key`` for ``max_age`` milliseconds.

        :param key: the session id.
        :param data: the payload; serialized at once, so later changes to it
            do not reach the store.
        :param max_age: the time to live in milliseconds, or ``"session"``
            (``session_ttl`` seconds, or no expiry).
        :param rolling: unused; part of the store protocol.
        :param changed: unused; the whole payload is always written.
        """
        ttl = ttl_seconds(max_age, self.session_ttl)
        text = dumps_json(data)
        with self._lock:
            now = self._clock()
            self._entries[key] = (text, None if ttl is None else now + ttl)
            if now >= self._next_prune:
                self._prune(now)

    def destroy(self, key: str) -> None:
        """Delete the entry of ``key``, if there is one.

        :param key: the session id.
        """
        with self._lock:
            self._entries.pop(key, None)

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
