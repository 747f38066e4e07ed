"""Writing a session to its store entry: the one place every store write goes
through.

Without merged saves (``merge=False``, or a store without conditional
writes) a save replaces the whole entry, as koa-session does. With them
(:class:`~flask_koasession.stores.ConditionalStore`), a save writes the whole
entry when it is still the one the request loaded (the usual case, and the
cheapest); when another request of the same session saved in between, it
writes this request's changes onto that other save instead (the
:class:`ChangeSet`, found only then), and it never recreates an entry that
is gone (see :doc:`/concurrency`).
"""

from __future__ import annotations

import contextlib
import hashlib
import typing as t

from .codec import (
    MOVED_KEY,
    RESERVED_KEYS,
    TRACKING_KEYS,
    bookkeeping,
    dumps_json,
    loads_json,
    store_ttl,
)
from .codec import stored_max_age as entry_max_age
from .exceptions import SessionContentionError
from .grammar import MOVED_PREFIX
from .stores.base import create_then_delete

if t.TYPE_CHECKING:
    from .codec import MaxAge
    from .decide import Loaded
    from .stores.base import (
        ConditionalStore,
        Entry,
        MovingStore,
        SessionStore,
        StoreCapabilities,
        Swapped,
    )

#: Why a save was dropped (the ``reason`` of
#: :data:`~flask_koasession.signals.session_dropped`): ``"gone"``, the entry
#: the request loaded no longer exists (destroyed, regenerated away, expired,
#: cleaned up); ``"taken"``, a new session's id already has an entry.
DropReason = t.Literal["gone", "taken", "moved"]

#: How many conditional writes one save tries before it gives up with
#: :class:`~flask_koasession.exceptions.SessionContentionError`. Each retry
#: means that another request of the session saved in between, so a burst of
#: N concurrent requests costs a save at most N tries.
MAX_ATTEMPTS = 100


class Dropped(Exception):
    """The save is not made: the session's entry is gone (or a new one's id
    is taken)."""

    def __init__(self, reason: DropReason) -> None:
        super().__init__(reason)
        self.reason: DropReason = reason


class StoreSave(t.NamedTuple):
    """One save of a session to its store: what each step of it needs."""

    store: SessionStore
    #: What the store can do (:func:`~flask_koasession.stores.base.capabilities`).
    capabilities: StoreCapabilities
    #: What came with the request (the entry as it was loaded).
    loaded: Loaded
    #: The id to save under: the loaded one, or a new one after ``regenerate()``.
    store_id: str
    #: The session data at the end of the request.
    data: dict[str, t.Any]
    max_age: MaxAge
    #: The time of the save, in epoch milliseconds.
    now: int
    #: The ``merge`` option.
    merge: bool
    #: Whether this request assigned ``max_age``; when not, a merged save
    #: keeps the max age the entry has.
    max_age_assigned: bool
    #: ``regenerate()`` was called: the session moves to ``store_id`` and its
    #: old entry is deleted.
    regenerate: bool
    #: The ``rolling`` option, for the store (informational).
    rolling: bool
    #: Whether the save is due to a change of the data (the store's flag).
    changed: bool
    #: The session's own keys (``$created``, ``$handle``), after the
    #: bookkeeping.
    own: dict[str, t.Any]
    #: Whether this request set them (a new handle at a login): then they win
    #: over the entry's on a merge; else the entry keeps its own.
    own_changed: bool

    def payload(
        self,
        data: dict[str, t.Any],
        max_age: MaxAge,
        own: dict[str, t.Any] | None = None,
    ) -> dict[str, t.Any]:
        """The whole payload to write: ``data``, koa's bookkeeping, then the
        session's own keys (:attr:`own`, unless given)."""
        return {
            **data,
            **bookkeeping(max_age, self.now),
            **(self.own if own is None else own),
        }

    def swap(
        self,
        store: ConditionalStore,
        key: str,
        version: t.Any,
        data: dict[str, t.Any],
        max_age: MaxAge,
        own: dict[str, t.Any],
    ) -> Swapped:
        """One conditional write of this save: ``data`` onto the entry
        ``key`` if it is still at ``version``."""
        return store.compare_and_set(
            key,
            version,
            self.payload(data, max_age, own),
            store_ttl(max_age),
            rolling=self.rolling,
            changed=self.changed,
        )


def save(op: StoreSave) -> MaxAge:
    """Write a session to its store entry.

    Merged (``merge`` and a conditional store): a new session is created
    only where no entry has its id; an existing one is written only onto
    the entry as it is now, which must still exist; ``regenerate`` creates
    the entry under ``store_id`` and deletes the loaded one, and what
    another request saved to the loaded one meanwhile moves along. Else the
    whole entry is replaced, and after ``regenerate`` the loaded one deleted.

    :return: the max age the entry was saved with: ``op.max_age``, or the
        entry's own when a merged save kept it.
    :raise Dropped: when a merged save finds the entry gone, or the new id
        taken.
    :raise SessionContentionError: when the entry changed under each of
        :data:`MAX_ATTEMPTS` tries.
    """
    loaded, store = op.loaded, op.store
    old_id = None if loaded.is_new else loaded.store_id
    # An existing session was loaded with a version only for a merged save;
    # a new one is created conditionally on the same terms.
    if old_id is None:
        conditional = op.merge and op.capabilities.conditional
    else:
        conditional = loaded.version is not None
    if conditional and old_id is not None and not op.regenerate:
        return _update(t.cast("ConditionalStore", store), op)
    payload = op.payload(op.data, op.max_age)
    ttl = store_ttl(op.max_age)
    if not conditional:
        store.set(op.store_id, payload, ttl, rolling=op.rolling, changed=op.changed)
        if op.regenerate and old_id is not None:
            # Only once the data is safe under its new id: a store that fails
            # to save must not have lost the old entry already.
            with _deleted_on_failure(store, op.store_id, kept_when_dropped=True):
                store.destroy(old_id)
        return op.max_age
    store = t.cast("ConditionalStore", store)
    if old_id is None:
        if not store.create(op.store_id, payload, ttl):
            raise Dropped("taken")
        return op.max_age
    # First the way from the old id to the new one: a request that loaded the
    # session before this move saves onto the new entry (_forward), and a
    # logout that loaded it ends the new one too (destroy). Written before
    # the old entry goes, so that no moment lacks both.
    _mark_moved(store, old_id, op.store_id)
    with (
        _deleted_on_failure(store, moved_key(old_id), kept_when_dropped=False),
        _deleted_on_failure(store, op.store_id, kept_when_dropped=True),
    ):
        if op.capabilities.moves:
            # Both steps in one round trip (RedisStore's script).
            moved = t.cast("MovingStore", store).create_and_delete(
                op.store_id, payload, ttl, old_id, loaded.version
            )
        else:
            moved = create_then_delete(
                store, op.store_id, payload, ttl, old_id, loaded.version
            )
        if moved is False:
            raise Dropped("taken")
        return _move(store, op, moved, old_id)


#: How long, in seconds, a regenerated session's old id forwards the saves of
#: requests that loaded it before (a login in another tab) to its new id.
MOVE_WINDOW = 60


def moved_key(old_id: str) -> str:
    """The store key of the way from ``old_id`` to where its session moved.

    No request loads a session from it: it matches no generated id, and its
    payload is expired.
    """
    return MOVED_PREFIX + hashlib.sha256(old_id.encode("utf-8")).hexdigest()


def _mark_moved(store: SessionStore, old_id: str, new_id: str) -> None:
    payload = {MOVED_KEY: new_id, "_expire": 0, "_maxAge": MOVE_WINDOW * 1000}
    store.set(
        moved_key(old_id), payload, MOVE_WINDOW * 1000, rolling=False, changed=False
    )


def _forwarded(store: SessionStore, old_id: str) -> str | None:
    """Where the session of ``old_id`` moved in the last :data:`MOVE_WINDOW`
    seconds, if it did."""
    found = store.get(moved_key(old_id), MOVE_WINDOW * 1000, rolling=False)
    moved_to = None if found is None else found.get(MOVED_KEY)
    return moved_to if isinstance(moved_to, str) else None


def destroy(store: SessionStore, key: str, *, merged: bool) -> None:
    """Delete the entry ``key`` (a logout); with merged saves, also the entry
    its session moved to in the last :data:`MOVE_WINDOW` seconds: a logout
    that loaded the session before a login moved it stays a logout."""
    store.destroy(key)
    if merged:
        moved_to = _forwarded(store, key)
        if moved_to is not None:
            store.destroy(moved_to)
            store.destroy(moved_key(key))


@contextlib.contextmanager
def _deleted_on_failure(
    store: SessionStore, key: str, *, kept_when_dropped: bool
) -> t.Iterator[None]:
    """Delete ``key`` (best effort) when the block fails, then raise: a
    login's new entry, so that none outlives the failure under an id that no
    browser has, and its way from the old id.

    :param kept_when_dropped: keep ``key`` when the block raises
        :class:`Dropped`: a new id taken by another session is not ours to
        delete (and a move that finds the old entry gone deletes the new one
        itself).
    """
    try:
        yield
    except BaseException as error:
        if not (kept_when_dropped and isinstance(error, Dropped)):
            with contextlib.suppress(Exception):
                store.destroy(key)
        raise


class ChangeSet(t.NamedTuple):
    """The top-level keys that a request added, changed or deleted."""

    #: Keys added or changed (a nested mutation changes its key), with their
    #: values at the end of the request.
    changed: dict[str, t.Any]
    #: Keys that were loaded and are gone at the end of the request.
    deleted: tuple[str, ...]

    @classmethod
    def between(cls, loaded_json: str | None, data: dict[str, t.Any]) -> ChangeSet:
        """The changes from the data as loaded to ``data``.

        :param loaded_json: the data as loaded, serialized
            (:meth:`Loaded.text <flask_koasession.decide.Loaded.text>`);
            ``None`` for a new session.
        :param data: the data at the end of the request.
        """
        loaded: dict[str, t.Any] = loads_json(loaded_json) if loaded_json else {}
        changed = {
            key: value
            for key, value in data.items()
            if key not in loaded or _text(value) != _text(loaded[key])
        }
        deleted = tuple(key for key in loaded if key not in data)
        return cls(changed, deleted)

    def apply(self, stored: dict[str, t.Any]) -> dict[str, t.Any]:
        """The data of a stored payload with these changes made to it.

        Keys keep their order in ``stored``; added ones come last. The
        payload's bookkeeping is left out: the save writes its own.
        """
        deleted = self.deleted
        merged = {
            key: value
            for key, value in stored.items()
            if key not in RESERVED_KEYS and key not in deleted
        }
        merged.update(self.changed)
        return merged


def _text(value: t.Any) -> str:
    # The text a value is saved as: equal texts are equal values to a store
    # (and to a Koa app reading it), whatever Python's == says of 1 and 1.0.
    return dumps_json({"": value})


class _Merge:
    """This request's changes onto entries as another request left them;
    the change set is found on first use only."""

    def __init__(self, op: StoreSave) -> None:
        self.op = op
        self.changes: ChangeSet | None = None

    def onto(
        self, entry: Entry, *, keep_own: bool = False
    ) -> tuple[dict[str, t.Any], MaxAge, dict[str, t.Any]]:
        """The data, max age and own keys to write in place of ``entry``.

        :param keep_own: keep the entry's own keys (``$created``,
            ``$handle``), whatever this request set.
        """
        op = self.op
        changes = self.changes
        if changes is None:
            changes = self.changes = ChangeSet.between(op.loaded.text(), op.data)
        max_age = op.max_age
        if not op.max_age_assigned:
            max_age = entry_max_age(entry.payload, max_age) or max_age
        own = op.own
        if keep_own or not op.own_changed:
            # Another request's login wrote them: they stay.
            stored = entry.payload
            own = {key: stored[key] for key in TRACKING_KEYS if key in stored} or own
        return changes.apply(entry.payload), max_age, own


def _update(store: ConditionalStore, op: StoreSave) -> MaxAge:
    """Write onto the loaded entry as it is now, if it still exists.

    The first try writes the whole data against the version loaded: if the
    entry is still that one, that is this request's changes applied to it.
    """
    key = op.loaded.store_id
    assert key is not None
    merge: _Merge | None = None
    data, max_age, version = op.data, op.max_age, op.loaded.version
    own = op.own
    for _ in range(MAX_ATTEMPTS):
        outcome = op.swap(store, key, version, data, max_age, own)
        if outcome is True:
            return max_age
        if outcome is None:
            moved_to = _forwarded(store, key)
            if moved_to is None:
                raise Dropped("gone")
            _forward(store, op, moved_to)
        if merge is None:
            merge = _Merge(op)
        data, max_age, own = merge.onto(outcome)
        version = outcome.version
    raise SessionContentionError(type(store).__name__, key, MAX_ATTEMPTS)


def _forward(store: ConditionalStore, op: StoreSave, new_id: str) -> t.NoReturn:
    """Save this request's changes onto the entry the session moved to (a
    ``regenerate()`` made by another request since this one loaded it).

    No cookie carries the new id to this request: it went only to the
    request that made it, or a request that loaded the session before a
    login could hand a fixated id's new one to whoever fixated it.

    :raise Dropped: ``"moved"`` once saved there; ``"gone"`` when that
        entry is gone too.
    """
    merge = _Merge(op)
    entry = store.get_entry(new_id, op.max_age, rolling=op.rolling)
    for _ in range(MAX_ATTEMPTS):
        if entry is None:
            raise Dropped("gone")
        data, max_age, own = merge.onto(entry, keep_own=True)
        outcome = op.swap(store, new_id, entry.version, data, max_age, own)
        if outcome is True:
            raise Dropped("moved")
        entry = outcome
    raise SessionContentionError(type(store).__name__, new_id, MAX_ATTEMPTS)


def _move(
    store: ConditionalStore, op: StoreSave, outcome: Swapped, old_id: str
) -> MaxAge:
    """Finish moving the session to ``op.store_id``, whose entry exists,
    given what the first try to delete the loaded entry gave: while that
    entry is no longer the version loaded, rewrite the new entry with this
    request's changes on the old one as it is now, and try again.

    The new id is in no browser yet, so the new entry is written plainly.
    When the old entry is gone (a logout raced this login), so is the new
    one: nothing carries the session on.
    """
    merge: _Merge | None = None
    max_age = op.max_age
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if outcome is True:
            return max_age
        if outcome is None:
            store.destroy(op.store_id)
            raise Dropped("gone")
        if attempt == MAX_ATTEMPTS:
            break
        if merge is None:
            merge = _Merge(op)
        data, max_age, own = merge.onto(outcome)
        store.set(
            op.store_id,
            op.payload(data, max_age, own),
            store_ttl(max_age),
            rolling=op.rolling,
            changed=op.changed,
        )
        outcome = store.compare_and_delete(old_id, outcome.version)
    store.destroy(op.store_id)
    raise SessionContentionError(type(store).__name__, old_id, MAX_ATTEMPTS)
