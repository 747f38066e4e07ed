"""A user's sessions (the ``user_id_key`` option): listed, and ended.

With ``user_id_key``, each session that carries a user gets a *handle*, an
opaque token that is never its id, kept in the session itself
(:data:`~flask_koasession.codec.HANDLE_KEY`) and in an index by user (a
store with :class:`~flask_koasession.stores.SessionIndex`: the session store,
or the ``registry`` option). The index keeps a small record per session
(:func:`record`): where it lives, when it was created and last seen, when it
expires, its browser.

Ending a session (:func:`revoke`) deletes its store entry, and marks its
handle ended in the index, for as long as the session could live, so that no
request in flight indexes it again. In store mode the deleted entry is the
end of it: a merged save never recreates an entry. In cookie mode, and with
``store_factory``, where no entry can be deleted for good, each request that
brings a session with a user asks the index whether its handle is still
active (one round trip: :meth:`~flask_koasession.stores.SessionIndex.user_of`).
"""

from __future__ import annotations

import dataclasses
import datetime
import secrets
import threading
import typing as t

from . import merging
from .codec import CREATED_KEY, HANDLE_KEY, store_ttl

if t.TYPE_CHECKING:
    from flask import Request

    from .codec import MaxAge
    from .decide import Loaded
    from .options import Options
    from .stores.base import SessionIndex, SessionStore

#: How often at most one process writes a session's ``last_seen``: a read
#: costs no index write more than once a minute.
SEEN_INTERVAL_MS = 60_000


@dataclasses.dataclass(frozen=True)
class ActiveSession:
    """One of a user's sessions, as :meth:`KoaSession.sessions_of
    <flask_koasession.KoaSession.sessions_of>` lists it."""

    #: Names the session to :meth:`~flask_koasession.KoaSession.revoke`:
    #: opaque, never its id, never usable as a cookie.
    handle: str
    created_at: datetime.datetime | None
    last_seen: datetime.datetime | None
    #: ``None`` for a browser-session cookie (``max_age="session"``).
    expires_at: datetime.datetime | None
    user_agent: str | None
    #: Only with ``track_ip=True``.
    ip: str | None
    #: Whether it is the session of the request being served.
    current: bool


def new_handle() -> str:
    """A new handle: 24 URL-safe characters, 144 random bits."""
    return secrets.token_urlsafe(18)


def record(
    request: Request,
    *,
    store_id: str | None,
    created: float | None,
    now: int,
    expires_at: float | None,
    track_ip: bool,
) -> dict[str, t.Any]:
    """The index record of a session seen ``now``."""
    return {
        "store_id": store_id,
        "created_at": created,
        "last_seen": now,
        "expires_at": expires_at,
        "user_agent": request.headers.get("User-Agent"),
        "ip": request.remote_addr if track_ip else None,
    }


def ttl(max_age: MaxAge) -> float | None:
    """How long an index entry of a session of ``max_age`` is kept, in
    seconds: as long as the session could live (a store entry's time to
    live); ``None`` for a browser-session cookie, which has no end."""
    kept = store_ttl(max_age)
    return None if kept == "session" else kept / 1000


class SeenTimes:
    """When this process last wrote each session's ``last_seen``, for the
    last 10 000 sessions seen: :data:`SEEN_INTERVAL_MS` apart at most."""

    limit = 10_000

    def __init__(self) -> None:
        self._times: dict[str, int] = {}
        self._lock = threading.Lock()

    def due(self, handle: str, now: int, max_age: MaxAge) -> bool:
        """Whether ``handle``'s ``last_seen`` is due to be written ``now``
        (and, if so, it is taken as written): once a minute, or twice a max
        age when that is shorter, so that the record, which lives a max age,
        never lapses while the session is in use."""
        interval = SEEN_INTERVAL_MS
        if isinstance(max_age, int):
            interval = min(interval, max_age // 2)
        with self._lock:
            last = self._times.get(handle)
            if last is not None and now - last < interval:
                return False
            if len(self._times) >= self.limit:
                self._times.clear()
            self._times[handle] = now
        return True


class OwnKeys(t.NamedTuple):
    """The session's own keys, as a save writes them (:func:`own_keys`)."""

    #: ``$created`` and ``$handle``, written after koa's bookkeeping.
    fields: dict[str, t.Any]
    #: The user the session carries now (``user_id_key``), as a ``str``.
    user: str | None
    #: Its handle in the user index.
    handle: str | None
    #: Whether they differ from the ones loaded: a save is due.
    changed: bool


def own_keys(
    loaded: Loaded, data: dict[str, t.Any], now: int, user_id_key: str | None
) -> OwnKeys:
    """The session's own keys to save (:data:`~.codec.TRACKING_KEYS`): when
    it was created, and its handle in the user index."""
    created = now if loaded.created is None else loaded.created
    fields: dict[str, t.Any] = {CREATED_KEY: created}
    # An existing session saved without them gets them.
    changed = loaded.created is None and not loaded.is_new
    user = handle = None
    if user_id_key is not None:
        found = data.get(user_id_key)
        if found is not None:
            user = str(found)
            # A new user (a login, another user) means a new handle.
            handle = loaded.handle if loaded.user == user else None
            if handle is None:
                handle = new_handle()
                changed = changed or not loaded.is_new
            fields[HANDLE_KEY] = handle
        elif loaded.handle is not None:
            changed = True  # logged out by popping the user's key
    return OwnKeys(fields, user, handle, changed)


def indexed_user(
    decoded: dict[str, t.Any], options: Options, registry: SessionIndex | None
) -> tuple[str | None, str | None] | None:
    """The user a loaded payload carries and its handle; ``None`` when that
    session was ended (revoked, logged out).

    Where no store entry can be deleted for good (cookie mode,
    ``store_factory``), the index is asked whether the handle is still
    active: one round trip, for sessions that carry a user only.
    """
    found = decoded.get(t.cast(str, options.user_id_key))
    if found is None:
        return None, None
    user, handle = str(found), decoded.get(HANDLE_KEY)
    if not isinstance(handle, str):
        if options.store is None:
            # Cookie mode (or store_factory): a session with a user and no
            # handle could never be revoked, and each replay of its cookie
            # would get a new handle. Its user logs in again, once.
            return None
        return user, None  # indexed at its next save
    assert registry is not None
    if options.store is None and registry.user_of(handle) != user:
        return None
    return user, handle


def update_index(
    registry: SessionIndex,
    seen_times: SeenTimes,
    request: Request,
    loaded: Loaded,
    own: OwnKeys,
    *,
    store_id: str | None,
    expires: float | None,
    now: int,
    max_age: MaxAge,
    track_ip: bool,
) -> bool:
    """Keep the user index in step with what a request did: the session it
    loaded ended when its user changed or left; its own record written when
    new, moved, or last seen over a minute ago.

    :return: ``False`` when the session was ended meanwhile (revoked while
        this request ran): what it saved is to go.
    """
    if (
        loaded.user is not None
        and loaded.handle is not None
        and (own.user, own.handle) != (loaded.user, loaded.handle)
    ):
        end(registry, loaded.user, loaded.handle, loaded.max_age)
    if own.user is None or own.handle is None:
        return True
    moved = own.handle != loaded.handle or store_id != loaded.store_id
    due = seen_times.due(own.handle, now, max_age)  # and taken as seen
    if moved or due:
        found = record(
            request,
            store_id=store_id,
            created=own.fields.get(CREATED_KEY),
            now=now,
            expires_at=expires,
            track_ip=track_ip,
        )
        return registry.index_session(own.user, own.handle, found, ttl(max_age))
    return True


def end(registry: SessionIndex | None, user: str, handle: str, max_age: MaxAge) -> None:
    """End a session in the user index (a logout), if there is one."""
    if registry is not None:
        registry.end_session(user, handle, ttl(max_age))


def sessions_of(
    index: SessionIndex, user_id: str, current: str | None
) -> list[ActiveSession]:
    """The active sessions of ``user_id``, the most recently seen first.

    :param current: the handle of the request's session, if any.
    """
    listed = [
        ActiveSession(
            handle=handle,
            created_at=_time(found.get("created_at")),
            last_seen=_time(found.get("last_seen")),
            expires_at=_time(found.get("expires_at")),
            user_agent=found.get("user_agent"),
            ip=found.get("ip"),
            current=handle == current,
        )
        for handle, found in index.indexed_sessions(str(user_id)).items()
    ]
    epoch = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    listed.sort(key=lambda session: session.last_seen or epoch, reverse=True)
    return listed


class Revoker(t.NamedTuple):
    """What ending sessions needs: the index, the store of their entries
    (``None`` in cookie mode) and how long a session may live."""

    registry: SessionIndex
    store: SessionStore | None
    max_age: MaxAge

    def revoke(self, handle: str, user_id: str | None = None) -> str | None:
        """End the session ``handle``: its handle ended in the index, its
        store entry deleted.

        :param user_id: when given, end it only if it is that user's.
        :return: the user it belonged to, or ``None`` when it was not active
            (or not ``user_id``'s).
        """
        owner = self.registry.user_of(handle)
        if owner is None or (user_id is not None and owner != user_id):
            return None
        user_id = owner
        self._end(user_id, handle, self.registry.indexed_sessions(user_id).get(handle))
        return user_id

    def revoke_user(self, user_id: str, keep: str | None) -> list[str]:
        """End every active session of ``user_id`` but ``keep``.

        :return: the handles ended.
        """
        ended = []
        for handle, found in self.registry.indexed_sessions(user_id).items():
            if handle != keep:
                self._end(user_id, handle, found)
                ended.append(handle)
        return ended

    def _end(self, user_id: str, handle: str, found: dict[str, t.Any] | None) -> None:
        # The handle ended first (no request indexes it again), then its
        # entry deleted (no request loads it again).
        self.registry.end_session(user_id, handle, ttl(self.max_age))
        store_id = None if found is None else found.get("store_id")
        if self.store is not None and isinstance(store_id, str):
            # And where a login moved it meanwhile: the record may be older.
            merging.destroy(self.store, store_id, merged=True)


def _time(epoch_ms: object) -> datetime.datetime | None:
    if not isinstance(epoch_ms, (int, float)) or isinstance(epoch_ms, bool):
        return None
    return datetime.datetime.fromtimestamp(epoch_ms / 1000, datetime.UTC)
