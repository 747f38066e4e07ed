"""The interface of a session store, and what it promises.

In store mode the session cookie holds only an id; the data lives in a store.
A store is any object with the three methods of :class:`SessionStore`, the same
three that koa-session calls on its ``store`` option, so a store written for
Koa ports line by line. No base class is needed: the protocol is structural.

A complete, if naive, custom store::

    import time

    from flask_koasession import codec

    class DictStore:
        def __init__(self):
            self.entries = {}  # id -> (json text, deadline or None)

        def get(self, key, max_age, *, rolling):
            text, deadline = self.entries.get(key, (None, None))
            if text is None or (deadline is not None and deadline <= time.time()):
                return None
            return codec.loads_json(text)

        def set(self, key, data, max_age, *, rolling, changed):
            deadline = None if max_age == "session" else time.time() + max_age / 1000
            self.entries[key] = (codec.dumps_json(data), deadline)

        def destroy(self, key):
            self.entries.pop(key, None)

Pass it as ``KoaSession(app, store=DictStore())``. The built-in stores,
:class:`~flask_koasession.stores.MemoryStore`,
:class:`~flask_koasession.stores.RedisStore` and
:class:`~flask_koasession.stores.SQLAlchemyStore`, follow the same pattern.
"""

from __future__ import annotations

import typing as t

#: A store's view of a session's lifetime: milliseconds, or ``"session"`` for a
#: browser-session cookie (which has no lifetime of its own).
MaxAge: t.TypeAlias = "int | t.Literal['session']"


@t.runtime_checkable
class SessionStore(t.Protocol):
    """What the extension needs from a server-side session store.

    The extension calls :meth:`get` once per request that carries a session id,
    :meth:`set` when the session must be saved, and :meth:`destroy` when it is
    destroyed or regenerated. Keys are opaque strings (a UUID4 by default,
    possibly with the ``prefix`` option prepended), sent by the browser: a
    store must treat them as data, never as part of a query or a path.

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
      :func:`~flask_koasession.codec.loads_json`. Persist that JSON text: it is
      exactly what koa-session's stores write, so a Koa app reading the same
      store sees plain JSON, and tuples, bytes or datetimes set by a Flask app
      come back as such.
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
        self, key: str, max_age: int | t.Literal["session"], *, rolling: bool
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
        max_age: int | t.Literal["session"],
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
