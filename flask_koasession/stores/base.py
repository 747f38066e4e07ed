"""The interface of a session store, what it promises, and a base class.

In store mode the session cookie holds only an id; the data lives in a store.
A store is any object with the three methods of :class:`SessionStore`, the same
three that koa-session calls on its ``store`` option, so a store written for
Koa ports line by line. No base class is needed: the protocol is structural.

Most stores keep each session as its JSON text with an expiry, as koa's stores
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

from ..codec import decode_payload, dumps_json
from ..max_age import MaxAge

__all__ = [
    "MaxAge",
    "SessionStore",
    "TextStore",
    "check_session_ttl",
    "ttl_seconds",
]


@t.runtime_checkable
class SessionStore(t.Protocol):
    """What the extension needs from a server-side session store.

    The extension calls :meth:`get` once per request that carries a session id,
    :meth:`set` when the session must be saved, and :meth:`destroy` when it is
    destroyed or regenerated. Keys are opaque strings (a UUID4 by default,
    possibly with the ``prefix`` option prepended), sent by the browser: a
    store must treat them as data, never as part of a query or a path.

    ``max_age`` means two things, as in koa-session: in :meth:`get` it is the
    session's configured max age (for information), in :meth:`set` the time
    to live of the entry (the session's max age plus 10 seconds).

    The contract:

    - :meth:`get` returns what the last :meth:`set` of the same key received,
      as an equal but independent ``dict`` (never the same object, never one
      that shares nested lists or dicts with it), or ``None`` when the key is
      unknown, expired, destroyed, or its stored value cannot be decoded.
      A damaged or foreign value (one this store did not write, say) is such a
      miss, never an error: raising would fail every request carrying its id.
    - :meth:`destroy` must not delete what is not a session entry, even when
      a request names it as its id.
    - Values must survive a round trip through
      :func:`flask_koasession.codec.dumps_json` and
      :func:`~flask_koasession.codec.decode_payload`. Persist that JSON text:
      it is exactly what koa-session's stores write, so a Koa app reading the
      same store sees plain JSON, and tuples, bytes or datetimes set by a
      Flask app come back as such.
    - An entry outlives its time to live by no more than the store's own
      expiry granularity; a ``"session"`` entry has no time to live (a store
      may apply a configured one instead, as the built-in stores do with
      ``session_ttl``).
    - When the backend is unreachable or refuses, raise
      :class:`~flask_koasession.exceptions.SessionStoreError` from the
      original error. Do not return ``None`` for an outage: that would hand
      the user a fresh, empty session and lose the real one.
    - Stores are shared by every request of the app: methods may be called
      from several threads at once.

    .. note::
       A future release may add an optional capability beside these three
       methods: applying one request's changes onto the entry as it is in the
       store at save time, atomically, so that concurrent requests of one
       session do not lose each other's writes. It will be detected with
       ``hasattr``; stores that lack it keep working as they do now.
    """

    def get(
        self, key: str, max_age: MaxAge, *, rolling: bool
    ) -> dict[str, t.Any] | None:
        """Return the payload stored under ``key``, or ``None``.

        :param key: the session id.
        :param max_age: the session's configured max age in milliseconds, or
            ``"session"``. Informational; koa-session passes it too.
        :param rolling: whether the ``rolling`` option is on. Informational.
        """
        ...

    def set(
        self,
        key: str,
        data: dict[str, t.Any],
        max_age: MaxAge,
        *,
        rolling: bool,
        changed: bool,
    ) -> None:
        """Store ``data`` under ``key``, replacing any previous entry.

        :param key: the session id.
        :param data: the whole payload: the session data, then koa-session's
            bookkeeping fields ``_expire`` and ``_maxAge`` (or ``_session``).
            It may hold values that JSON cannot (tuples, bytes, datetimes);
            serialize it with :func:`flask_koasession.codec.dumps_json`. The
            store must not keep a reference to it.
        :param max_age: the time to live of the entry in milliseconds, which is
            the session's max age plus 10 000 so that the entry outlives the
            cookie; or ``"session"`` for a browser-session cookie.
        :param rolling: whether the ``rolling`` option is on. Informational.
        :param changed: true only when this save happens because the session
            data changed. It is false for every other save, and those change
            the value too: a forced save (``save()``, ``regenerate()`` to a
            new id whose entry does not exist yet, a new ``max_age``; false
            even when the data changed as well), and the re-sends of
            ``rolling`` and ``renew`` (which rewrite ``_expire``). The flag
            is passed exactly as koa-session passes it, and is informational
            (koa-redis ignores it): a store must always write the ``data`` it
            is given, never skip the write because ``changed`` is false.
        """
        ...

    def destroy(self, key: str) -> None:
        """Delete the entry of ``key``. An unknown key is not an error.

        :param key: the session id.
        """
        ...


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
        return None if text is None else decode_payload(text)

    def set(
        self,
        key: str,
        data: dict[str, t.Any],
        max_age: MaxAge,
        *,
        rolling: bool,
        changed: bool,
    ) -> None:
        ttl = ttl_seconds(max_age, self.session_ttl)
        self.write_text(key, dumps_json(data), ttl)

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
