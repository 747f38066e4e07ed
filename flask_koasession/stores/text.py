"""Base classes of stores that keep each session as its JSON text.

Most stores keep a session as its JSON text with an expiry, as koa's stores
do. :class:`TextStore` does the common part of those (serializing, decoding
what comes back, turning a max age into a time to live), so that a backend
writes only how it reads, writes and deletes one entry. A complete, if naive,
custom store::

    import time

    from flask_koasession.stores import TextStore

    class DictStore(TextStore):
        def __init__(self):
            super().__init__()
            self.entries = {}  # id -> (JSON text, deadline or None)

        def read_text(self, key):
            text, deadline = self.entries.get(key, (None, None))
            if deadline is not None and deadline <= time.time():
                return None
            return text

        def write_text(self, key, text, ttl):
            deadline = None if ttl is None else time.time() + ttl
            self.entries[key] = (text, deadline)

        def destroy(self, key):
            self.entries.pop(key, None)

Pass it as ``KoaSession(app, store=DictStore())``. The built-in stores,
:class:`~flask_koasession.stores.MemoryStore`,
:class:`~flask_koasession.stores.RedisStore` and
:class:`~flask_koasession.stores.SQLAlchemyStore`, are made the same way.
"""

from __future__ import annotations

import abc
import typing as t

from ..codec import MaxAge, decode_payload, dumps_json
from .base import Entry, SessionStore, Swapped

__all__ = [
    "ConditionalTextStore",
    "TextStore",
    "check_session_ttl",
    "ttl_seconds",
]


def check_session_ttl(session_ttl: object) -> int | None:
    """Validate a store's ``session_ttl`` parameter and return it.

    :raise ValueError: when it is neither ``None`` nor a positive ``int``.
    """
    if session_ttl is None:
        return None
    if (
        isinstance(session_ttl, bool)
        or not isinstance(session_ttl, int)
        or session_ttl <= 0
    ):
        raise ValueError(
            "session_ttl must be None (no expiry for 'session' entries) or a"
            f" positive int of seconds, got {session_ttl!r}."
        )
    return session_ttl


def ttl_seconds(max_age: object, session_ttl: int | None) -> float | None:
    """The time to live of an entry in seconds, to the millisecond.

    :param max_age: what :meth:`SessionStore.set` received: milliseconds,
        or ``"session"``.
    :param session_ttl: the seconds to use for ``"session"``; ``None`` for no
        expiry.
    :return: a positive number of seconds, or ``None`` for no expiry.
    :raise ValueError: when ``max_age`` is neither a positive ``int`` of
        milliseconds nor ``"session"``.
    """
    if max_age == "session":
        return None if session_ttl is None else float(session_ttl)
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0:
        raise ValueError(
            "A store's max_age must be a positive int of milliseconds or"
            f" 'session', got {max_age!r}."
        )
    return max_age / 1000


class TextStore(SessionStore):
    """Base class of a store that keeps each session as its JSON text.

    :meth:`get` and :meth:`set` are done here: a payload is written as the
    text :func:`~flask_koasession.codec.dumps_json` makes (what koa's stores
    write), with its time to live in seconds; text read back goes through
    :func:`~flask_koasession.codec.decode_payload`, so a damaged or foreign
    entry is a miss. A subclass implements :meth:`read_text`,
    :meth:`write_text` and :meth:`~SessionStore.destroy`.

    :param session_ttl: seconds that a ``"session"`` entry (a browser-session
        cookie) is kept. ``None``, the default, keeps it until it is
        destroyed.
    """

    def __init__(self, *, session_ttl: int | None = None) -> None:
        self.session_ttl = check_session_ttl(session_ttl)

    def get(
        self, key: str, max_age: MaxAge, *, rolling: bool
    ) -> dict[str, t.Any] | None:
        text = self.read_text(key)
        return None if text is None else self.decode_entry(text)

    def set(
        self,
        key: str,
        data: dict[str, t.Any],
        max_age: MaxAge,
        *,
        rolling: bool,
        changed: bool,
    ) -> None:
        self.write_text(key, *self.encode_entry(data, max_age))

    def encode_entry(
        self, data: dict[str, t.Any], max_age: MaxAge
    ) -> tuple[str, float | None]:
        """The text to store for a payload, and its time to live in seconds:
        the payload's JSON (:func:`~flask_koasession.codec.dumps_json`, what
        koa's stores write) and ``max_age`` in seconds. A store of another
        layout (express-session's) overrides it, and :meth:`decode_entry`.

        :param max_age: as for :meth:`~SessionStore.set`.
        """
        return dumps_json(data), ttl_seconds(max_age, self.session_ttl)

    def decode_entry(self, text: str | bytes) -> dict[str, t.Any] | None:
        """The payload of a stored text, ``None`` when it is none (see
        :func:`~flask_koasession.codec.decode_payload`)."""
        return decode_payload(text)

    def entry_of(self, text: str | bytes | None) -> Entry | None:
        """The entry of a stored text, its version the text itself; ``None``
        when there is none, or it no longer decodes."""
        if text is None:
            return None
        payload = self.decode_entry(text)
        return None if payload is None else Entry(payload, text)

    @abc.abstractmethod
    def read_text(self, key: str) -> str | bytes | None:
        """Return the text stored under ``key``, or ``None`` when there is
        none or it has expired.

        :param key: the session id.
        """

    @abc.abstractmethod
    def write_text(self, key: str, text: str, ttl: float | None) -> None:
        """Store ``text`` under ``key``, replacing any previous entry.

        :param key: the session id.
        :param text: the payload's JSON text.
        :param ttl: seconds until the entry expires (to the millisecond;
            round up if the backend counts whole seconds), or ``None`` for
            no expiry.
        """

    @abc.abstractmethod
    def destroy(self, key: str) -> None:
        """Delete the entry of ``key``. An unknown key is not an error.

        :param key: the session id.
        """


class ConditionalTextStore(TextStore):
    """Base class of a :class:`TextStore` with conditional writes
    (:class:`ConditionalStore`).

    The version of an entry is its text as stored: a conditional write
    compares the stored text with the text read, byte for byte. Whatever
    changes an entry changes its text (koa's bookkeeping field ``_expire``
    moves on every save), so equal text means an unchanged entry. A
    subclass implements, besides :class:`TextStore`'s three methods,
    :meth:`create_text`, :meth:`replace_text` and :meth:`delete_text`, each
    atomic on the backend (a lock, a script, a conditional statement).
    """

    def get_entry(self, key: str, max_age: MaxAge, *, rolling: bool) -> Entry | None:
        return self.entry_of(self.read_text(key))

    def create(self, key: str, data: dict[str, t.Any], max_age: MaxAge) -> bool:
        return self.create_text(key, *self.encode_entry(data, max_age))

    def compare_and_set(
        self,
        key: str,
        version: t.Any,
        data: dict[str, t.Any],
        max_age: MaxAge,
        *,
        rolling: bool,
        changed: bool,
    ) -> Swapped:
        outcome = self.replace_text(key, version, *self.encode_entry(data, max_age))
        return outcome if outcome is True else self.entry_of(outcome)

    def compare_and_delete(self, key: str, version: t.Any) -> Swapped:
        outcome = self.delete_text(key, version)
        return outcome if outcome is True else self.entry_of(outcome)

    @abc.abstractmethod
    def create_text(self, key: str, text: str, ttl: float | None) -> bool:
        """Store ``text`` under ``key`` only if there is no entry (or only an
        expired one), atomically.

        :param ttl: as for :meth:`~TextStore.write_text`.
        :return: whether it was stored.
        """

    @abc.abstractmethod
    def replace_text(
        self, key: str, expected: str | bytes, text: str, ttl: float | None
    ) -> t.Literal[True] | str | bytes | None:
        """Replace the entry of ``key`` with ``text`` (and ``ttl``) if its
        text is ``expected``, atomically; never create one.

        :param expected: the text as :meth:`~TextStore.read_text` returned it.
        :param ttl: as for :meth:`~TextStore.write_text`.
        :return: ``True`` when replaced; else the text stored now, as
            :meth:`~TextStore.read_text` would return it, or ``None`` when
            there is no entry (or only an expired one).
        """

    @abc.abstractmethod
    def delete_text(
        self, key: str, expected: str | bytes
    ) -> t.Literal[True] | str | bytes | None:
        """Delete the entry of ``key`` if its text is ``expected``,
        atomically.

        :return: as for :meth:`replace_text`.
        """
