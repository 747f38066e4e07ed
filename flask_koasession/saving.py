"""Saving and removing a session: the last steps of koa-session's commit.

:func:`save` writes the payload (the data and koa's bookkeeping) to the cookie
or to the store; every store write goes through :func:`save_to_store`.
:func:`remove` deletes a store entry and expires the cookies.

In store mode, with the ``merge`` option (the default) and a store that has
conditional writes (:class:`~flask_koasession.stores.ConditionalStore`), a
save applies this request's changes onto the entry as it is at save time,
and never recreates an entry that is gone (see :doc:`/concurrency`).
Otherwise it replaces the whole entry, as koa-session does.
"""

from __future__ import annotations

import typing as t

from .exceptions import SessionContentionError
from .max_age import store_ttl
from .merging import ChangeSet
from .payload import bookkeeping, stored_max_age
from .stores.base import create_then_delete, is_conditional

if t.TYPE_CHECKING:
    from flask import Response

    from .cookies import CookieWriter
    from .loading import Loaded
    from .max_age import MaxAge
    from .scope import RequestScope
    from .stores.base import ConditionalStore, Entry, SessionStore, Swapped

#: Why a save was dropped (the ``reason`` of
#: :data:`~flask_koasession.signals.session_dropped`): ``"gone"``, the entry
#: the request loaded no longer exists (destroyed, regenerated away, expired,
#: cleaned up); ``"taken"``, a new session's id already has an entry.
DropReason = t.Literal["gone", "taken"]

#: How many conditional writes one save tries before it gives up with
#: :class:`~flask_koasession.exceptions.SessionContentionError`. Each retry
#: means that another request of the session saved in between, so a burst of
#: N concurrent requests costs a save at most N tries.
MAX_ATTEMPTS = 100


class Dropped(Exception):
    """The save is not made: the session's entry is gone (or a new one's id
    is taken). Raised by :func:`save_to_store`, turned into a return value by
    :func:`save`."""

    def __init__(self, reason: DropReason) -> None:
        super().__init__(reason)
        self.reason: DropReason = reason


def save(
    scope: RequestScope,
    writer: CookieWriter,
    response: Response,
    *,
    loaded: Loaded,
    store_id: str | None,
    data: dict[str, t.Any],
    data_json: str,
    max_age: MaxAge,
    max_age_assigned: bool,
    now: int,
    changed: bool,
    regenerate: bool,
) -> DropReason | None:
    """Save a session: to the cookie, or to the store and its id to the
    cookie (or to the ``external_key``).

    :param loaded: what came with the request.
    :param store_id: the id to save under (store mode): the loaded one, or a
        new one after ``regenerate()``.
    :param data: the session data; ``data_json`` is its serialized text.
    :param max_age: the session's max age.
    :param max_age_assigned: whether this request assigned ``max_age``;
        when not, a merged save keeps the max age the entry has.
    :param now: the time of the save, in epoch milliseconds.
    :param changed: whether the save is due to a change of the data (the
        store's ``changed`` flag).
    :param regenerate: ``regenerate()`` was called: in store mode the
        session moves to ``store_id`` and its old entry is deleted.
    :return: ``None`` when saved; why not when the save was dropped, in
        which case the response carries no session cookie.
    """
    store = scope.store
    if store is None:
        extra = bookkeeping(max_age, now)
        value = scope.state.cookie_codec.dumps(data, data_json, extra, scope.sealer)
        writer.set(value, extra.get("_expire"))
        return None
    assert store_id is not None
    options = scope.options
    try:
        max_age = save_to_store(
            store,
            loaded,
            store_id,
            data,
            max_age,
            now,
            merge=options.merge,
            max_age_assigned=max_age_assigned,
            regenerate=regenerate,
            rolling=options.rolling,
            changed=changed,
        )
    except Dropped as dropped:
        return dropped.reason
    if regenerate:
        writer.remove()  # koa expires the old cookie first
    if options.external_key is not None:
        options.external_key.set(response, store_id)
    else:
        writer.set(store_id, bookkeeping(max_age, now).get("_expire"))
    return None


def save_to_store(
    store: SessionStore,
    loaded: Loaded,
    store_id: str,
    data: dict[str, t.Any],
    max_age: MaxAge,
    now: int,
    *,
    merge: bool,
    max_age_assigned: bool,
    regenerate: bool,
    rolling: bool,
    changed: bool,
) -> MaxAge:
    """Write a session to its store entry: the one place every store write
    goes through.

    Merged (``merge`` and a conditional store): a new session is created
    only where no entry has its id; an existing one is written only onto
    the entry as it is now, which must still exist; ``regenerate`` creates
    the entry under ``store_id`` and deletes the loaded one, and what
    another request saved to the loaded one meanwhile moves along. Else the
    whole entry is replaced, as koa-session does, and after ``regenerate``
    the loaded one deleted.

    :param loaded: what came with the request (the entry as it was loaded).
    :param data: the session data at the end of the request.
    :return: the max age the entry was saved with: ``max_age``, or the
        entry's own when a merged save kept it.
    :raise Dropped: when a merged save finds the entry gone, or the new id
        taken.
    :raise SessionContentionError: when the entry changed under each of
        :data:`MAX_ATTEMPTS` tries.
    """
    old_id = None if loaded.is_new else loaded.store_id
    # An existing session was loaded with a version only for a merged save
    # (see loading); a new one is created conditionally on the same terms.
    if old_id is None:
        conditional = merge and is_conditional(store)
    else:
        conditional = loaded.version is not None
    if not conditional:
        payload = {**data, **bookkeeping(max_age, now)}
        ttl = store_ttl(max_age)
        store.set(store_id, payload, ttl, rolling=rolling, changed=changed)
        if regenerate and old_id is not None:
            # Only once the data is safe under its new id: a store that fails
            # to save must not have lost the old entry already.
            store.destroy(old_id)
        return max_age
    store = t.cast("ConditionalStore", store)
    if old_id is None or regenerate:
        payload = {**data, **bookkeeping(max_age, now)}
        if old_id is None:
            if not store.create(store_id, payload, store_ttl(max_age)):
                raise Dropped("taken")
            return max_age
        moved = _create_and_delete(
            store, store_id, payload, store_ttl(max_age), old_id, loaded.version
        )
        if moved is False:
            raise Dropped("taken")
        return _move(
            store,
            loaded,
            moved,
            old_id,
            store_id,
            data,
            max_age,
            now,
            keep_max_age=not max_age_assigned,
            rolling=rolling,
            changed=changed,
        )
    return _update(
        store,
        loaded,
        data,
        max_age,
        now,
        keep_max_age=not max_age_assigned,
        rolling=rolling,
        changed=changed,
    )


class _Merge:
    """This request's changes onto entries as another request left them;
    the change set is found on first use only."""

    def __init__(
        self,
        loaded: Loaded,
        data: dict[str, t.Any],
        max_age: MaxAge,
        *,
        keep_max_age: bool,
    ) -> None:
        self.loaded = loaded
        self.data = data
        self.max_age = max_age
        self.keep_max_age = keep_max_age
        self.changes: ChangeSet | None = None

    def onto(self, entry: Entry) -> tuple[dict[str, t.Any], MaxAge]:
        """The data and max age to write in place of ``entry``."""
        changes = self.changes
        if changes is None:
            changes = self.changes = ChangeSet.between(self.loaded.text(), self.data)
        max_age = self.max_age
        if self.keep_max_age:
            max_age = stored_max_age(entry.payload, max_age) or max_age
        return changes.apply(entry.payload), max_age


def _update(
    store: ConditionalStore,
    loaded: Loaded,
    data: dict[str, t.Any],
    max_age: MaxAge,
    now: int,
    *,
    keep_max_age: bool,
    rolling: bool,
    changed: bool,
) -> MaxAge:
    """Write onto the loaded entry as it is now, if it still exists.

    The first try writes the whole data against the version loaded: if the
    entry is still that one, that is this request's changes applied to it.
    """
    key = loaded.store_id
    assert key is not None
    merge: _Merge | None = None
    version = loaded.version
    for _ in range(MAX_ATTEMPTS):
        payload = {**data, **bookkeeping(max_age, now)}
        outcome = store.compare_and_set(
            key, version, payload, store_ttl(max_age), rolling=rolling, changed=changed
        )
        if outcome is True:
            return max_age
        if outcome is None:
            raise Dropped("gone")
        if merge is None:
            merge = _Merge(loaded, data, max_age, keep_max_age=keep_max_age)
        data, max_age = merge.onto(outcome)
        version = outcome.version
    raise SessionContentionError(type(store).__name__, key, MAX_ATTEMPTS)


def _create_and_delete(
    store: ConditionalStore,
    new_id: str,
    payload: dict[str, t.Any],
    ttl: MaxAge,
    old_id: str,
    version: t.Any,
) -> Swapped | t.Literal[False]:
    """Create the entry ``new_id``, then try to delete the loaded one: the
    first try of a merged regenerate. ``False`` when ``new_id`` is taken.

    A store may do both in one round trip, with a method
    ``create_and_delete(new_id, payload, ttl, old_id, version)`` of the same
    meaning (``RedisStore`` has one).
    """
    combined = getattr(store, "create_and_delete", None)
    if combined is not None:
        outcome: Swapped | t.Literal[False] = combined(
            new_id, payload, ttl, old_id, version
        )
        return outcome
    return create_then_delete(store, new_id, payload, ttl, old_id, version)


def _move(
    store: ConditionalStore,
    loaded: Loaded,
    outcome: Swapped,
    old_id: str,
    new_id: str,
    data: dict[str, t.Any],
    max_age: MaxAge,
    now: int,
    *,
    keep_max_age: bool,
    rolling: bool,
    changed: bool,
) -> MaxAge:
    """Finish moving the session to ``new_id``, whose entry exists, given
    what the first try to delete the loaded entry gave: while that entry is
    no longer the version loaded, rewrite the new entry with this request's
    changes on the old one as it is now, and try again.

    The new id is in no browser yet, so the new entry is written plainly.
    When the old entry is gone (a logout raced this login), so is the new
    one: nothing carries the session on.
    """
    merge: _Merge | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if outcome is True:
            return max_age
        if outcome is None:
            store.destroy(new_id)
            raise Dropped("gone")
        if attempt == MAX_ATTEMPTS:
            break
        if merge is None:
            merge = _Merge(loaded, data, max_age, keep_max_age=keep_max_age)
        data, max_age = merge.onto(outcome)
        payload = {**data, **bookkeeping(max_age, now)}
        store.set(new_id, payload, store_ttl(max_age), rolling=rolling, changed=changed)
        outcome = store.compare_and_delete(old_id, outcome.version)
    store.destroy(new_id)
    raise SessionContentionError(type(store).__name__, old_id, MAX_ATTEMPTS)


def remove_entry(scope: RequestScope, store_id: str | None) -> None:
    """Delete the store entry ``store_id``, when there is one."""
    if store_id is not None and scope.store is not None:
        scope.store.destroy(store_id)
