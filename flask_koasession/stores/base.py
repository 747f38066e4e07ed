"""The interface of a session store and what it promises.

In store mode the session cookie holds only an id; the data lives in a store.
A store is any object with the three methods of :class:`SessionStore`, the same
three that koa-session calls on its ``store`` option, so a store written for
Koa ports line by line. No base class is needed: the protocol is structural.
A store may have more: conditional writes (:class:`ConditionalStore`), and
moving an entry in one step (:class:`MovingStore`); :func:`capabilities`
finds which, once per class. Base classes that do the common part of stores
keeping JSON text are in :mod:`.text`.
"""

from __future__ import annotations

import typing as t

from ..codec import MaxAge

__all__ = [
    "CONDITIONAL_METHODS",
    "ConditionalStore",
    "Entry",
    "MaxAge",
    "MovingStore",
    "SessionIndex",
    "SessionStore",
    "StoreCapabilities",
    "Swapped",
    "capabilities",
    "create_then_delete",
    "is_conditional",
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

    A store may also have the optional methods of :class:`ConditionalStore`
    (conditional writes), with which concurrent requests of one session keep
    each other's changes and never bring back an entry that is gone. Without
    them a save replaces the whole entry, as in koa-session.
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


class Entry(t.NamedTuple):
    """A stored session, and the version by which a conditional write names
    it."""

    #: The payload, as :meth:`SessionStore.get` would return it.
    payload: dict[str, t.Any]
    #: Whatever tells the store that the entry is still the one it read
    #: (anything but ``None``); opaque to the extension, which only hands it
    #: back. The built-in stores use the entry's text as stored.
    version: t.Any


#: What a conditional write returns: ``True`` when it wrote (or deleted); the
#: :class:`Entry` as it is now when the entry is no longer the version given;
#: ``None`` when there is no entry any more (destroyed, expired, or its value
#: no longer decodes).
Swapped: t.TypeAlias = t.Literal[True] | Entry | None


@t.runtime_checkable
class ConditionalStore(SessionStore, t.Protocol):
    """The optional capability of a store: conditional writes.

    A store with these four methods lets the extension save only what a
    request changed, onto the entry as it is at save time, and never
    recreate an entry that is gone (see :doc:`/concurrency`). Each method is
    atomic with respect to the others and to :meth:`~SessionStore.destroy`,
    across every process sharing the store:

    - :meth:`get_entry` reads an entry with its version;
    - :meth:`create` writes a new entry only where there is none;
    - :meth:`compare_and_set` replaces an entry only if it is still the
      version read, and :meth:`compare_and_delete` deletes it on the same
      condition. When it is not, they return the entry as it is now (the
      extension applies the request's changes to it and tries again), or
      ``None`` when it is gone (the extension then drops the save).

    The extension detects the capability from the store's class when it is
    set up (:func:`is_conditional`); a store with some of the methods but not
    all is a set-up error. :class:`ConditionalTextStore` implements them for
    stores that keep JSON text, as the built-in stores do.
    """

    def get_entry(self, key: str, max_age: MaxAge, *, rolling: bool) -> Entry | None:
        """Return the entry of ``key`` with its version, or ``None`` as
        :meth:`~SessionStore.get` would.

        :param key: the session id.
        :param max_age: as for :meth:`~SessionStore.get`.
        :param rolling: as for :meth:`~SessionStore.get`.
        """
        ...

    def create(self, key: str, data: dict[str, t.Any], max_age: MaxAge) -> bool:
        """Store ``data`` under ``key`` only if ``key`` has no entry (an
        expired one counts as none).

        :param key: the new session's id.
        :param data: the whole payload, as for :meth:`~SessionStore.set`.
        :param max_age: the time to live, as for :meth:`~SessionStore.set`.
        :return: whether it was stored; ``False`` when the id is taken.
        """
        ...

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
        """Replace the entry of ``key`` with ``data`` if it is still at
        ``version``, with a new time to live.

        :param version: the version that :meth:`get_entry` (or an earlier
            :class:`Swapped` entry) gave.
        :param data: the whole payload, as for :meth:`~SessionStore.set`.
        :param max_age: the time to live, as for :meth:`~SessionStore.set`.
        :param rolling: as for :meth:`~SessionStore.set`.
        :param changed: as for :meth:`~SessionStore.set`.
        :return: ``True`` when replaced; else the entry as it is now, or
            ``None`` when there is none. Never creates an entry.
        """
        ...

    def compare_and_delete(self, key: str, version: t.Any) -> Swapped:
        """Delete the entry of ``key`` if it is still at ``version``.

        :return: ``True`` when deleted; else the entry as it is now, or
            ``None`` when there is none.
        """
        ...


#: The methods of :class:`ConditionalStore` beyond those of
#: :class:`SessionStore`.
CONDITIONAL_METHODS = ("get_entry", "create", "compare_and_set", "compare_and_delete")


@t.runtime_checkable
class MovingStore(ConditionalStore, t.Protocol):
    """The optional capability of a conditional store to move a session to a
    new id (a login's ``regenerate()``) in one round trip.

    Without it, the move takes two calls (:func:`create_then_delete`), to the
    same effect.
    """

    def create_and_delete(
        self,
        key: str,
        data: dict[str, t.Any],
        max_age: MaxAge,
        old_key: str,
        version: t.Any,
    ) -> Swapped | t.Literal[False]:
        """:meth:`~ConditionalStore.create` ``key``, then, only if that
        created it, :meth:`~ConditionalStore.compare_and_delete` ``old_key``
        at ``version``, as :func:`create_then_delete` does.

        :return: ``False`` when ``key`` is taken; else what
            ``compare_and_delete`` returns.
        """
        ...


@t.runtime_checkable
class SessionIndex(t.Protocol):
    """The optional capability of a store to index sessions by user, for the
    ``user_id_key`` option: a user's sessions listed and ended (see
    :doc:`/users`).

    A session is named here by its *handle*, an opaque token that is never
    its id. A *record* is a small JSON object that the extension writes and
    reads back as it is (``store_id``, ``created_at``, ``last_seen``,
    ``expires_at``, ``user_agent``, ``ip``). Each method is atomic with
    respect to the others, across every process sharing the store.
    """

    def index_session(
        self, user_id: str, handle: str, record: dict[str, t.Any], ttl: float | None
    ) -> bool:
        """Add or replace the record of the session ``handle`` of ``user_id``.

        :param ttl: seconds the record is kept (the session's time to live);
            ``None``: until the session is ended.
        :return: ``False``, storing nothing, when the handle was ended
            (:meth:`end_session`): an ended session is never indexed again,
            whatever request in flight still saves it.
        """
        ...

    def end_session(self, user_id: str, handle: str, ttl: float | None) -> bool:
        """End the session ``handle`` of ``user_id``: drop its record, and
        remember that it ended for ``ttl`` seconds (``None``: for good), so
        that a late :meth:`index_session` cannot bring it back.

        :return: whether it was active (indexed, not expired, not ended).
        """
        ...

    def indexed_sessions(self, user_id: str) -> dict[str, dict[str, t.Any]]:
        """The records of the active sessions of ``user_id``, by handle;
        expired and ended ones are left out (and may be pruned)."""
        ...

    def user_of(self, handle: str) -> str | None:
        """The user an active session is indexed under; ``None`` for a handle
        that is unknown, expired or ended."""
        ...


#: The methods of :class:`SessionIndex`.
INDEX_METHODS = ("index_session", "end_session", "indexed_sessions", "user_of")


class StoreCapabilities(t.NamedTuple):
    """What a store can do beyond :class:`SessionStore`."""

    #: It has the methods of :class:`ConditionalStore`.
    conditional: bool
    #: It has the method of :class:`MovingStore`.
    moves: bool
    #: It has the methods of :class:`SessionIndex`.
    indexes: bool = False


# Store class -> its capabilities (found once per class).
_capabilities: dict[type, StoreCapabilities] = {}


def capabilities(store: object) -> StoreCapabilities:
    """What ``store`` can do, found from its class, once per class.

    :raise TypeError: when the class has some of the methods of
        :class:`ConditionalStore` but not all, which would leave the
        capability half done, or ``create_and_delete`` without them.
    """
    kind = type(store)
    found = _capabilities.get(kind)
    if found is None:
        present = _all_or_none(
            kind,
            CONDITIONAL_METHODS,
            "a store with conditional writes needs all of {} (see"
            " ConditionalStore), or none of them for whole-entry saves",
        )
        moves = callable(getattr(kind, "create_and_delete", None))
        if moves and not present:
            raise TypeError(
                f"The store {kind.__name__} has create_and_delete but not"
                f" {', '.join(CONDITIONAL_METHODS)}: create_and_delete is a"
                " capability of stores with conditional writes (see MovingStore)."
            )
        indexes = _all_or_none(
            kind,
            INDEX_METHODS,
            "a store that indexes sessions by user needs all of {} (see SessionIndex)",
        )
        found = StoreCapabilities(present, moves, indexes)
        _capabilities[kind] = found
    return found


def _all_or_none(kind: type, methods: tuple[str, ...], needs: str) -> bool:
    """Whether the store class ``kind`` has ``methods``.

    :param needs: why all are needed, ``{}`` standing for their names.
    :raise TypeError: when it has some of them but not all, which would leave
        the capability half done.
    """
    present = [m for m in methods if callable(getattr(kind, m, None))]
    if present and len(present) < len(methods):
        missing = [name for name in methods if name not in present]
        raise TypeError(
            f"The store {kind.__name__} has {', '.join(present)} but not"
            f" {', '.join(missing)}: {needs.format(', '.join(methods))}."
        )
    return bool(present)


def is_conditional(store: object) -> t.TypeGuard[ConditionalStore]:
    """Whether ``store`` has the methods of :class:`ConditionalStore`
    (see :func:`capabilities`).

    :raise TypeError: as :func:`capabilities` does.
    """
    return capabilities(store).conditional


def create_then_delete(
    store: ConditionalStore,
    key: str,
    data: dict[str, t.Any],
    max_age: MaxAge,
    old_key: str,
    version: t.Any,
) -> Swapped | t.Literal[False]:
    """A login's two steps in two calls: :meth:`~ConditionalStore.create`
    ``key``, then, only if that created it,
    :meth:`~ConditionalStore.compare_and_delete` ``old_key``.

    :return: ``False`` when ``key`` is taken; else what
        ``compare_and_delete`` returns.
    """
    if not store.create(key, data, max_age):
        return False
    return store.compare_and_delete(old_key, version)
