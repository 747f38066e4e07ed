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

from .codec import store_ttl

if t.TYPE_CHECKING:
    from flask import Request

    from .codec import MaxAge
    from .state import KoaSessionState
    from .stores.base import SessionIndex

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

    def due(self, handle: str, now: int) -> bool:
        """Whether ``handle``'s ``last_seen`` is due to be written ``now``
        (and, if so, it is taken as written)."""
        with self._lock:
            last = self._times.get(handle)
            if last is not None and now - last < SEEN_INTERVAL_MS:
                return False
            if len(self._times) >= self.limit:
                self._times.clear()
            self._times[handle] = now
        return True


def sessions_of(
    state: KoaSessionState, user_id: str, current: str | None
) -> list[ActiveSession]:
    """The active sessions of ``user_id``, the most recently seen first.

    :param current: the handle of the request's session, if any.
    """
    index = _index(state)
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


def revoke(state: KoaSessionState, handle: str) -> str | None:
    """End the session ``handle``: its store entry deleted, its handle
    ended in the index.

    :return: the user it belonged to, or ``None`` when it was not active.
    """
    index = _index(state)
    user_id = index.user_of(handle)
    if user_id is None:
        return None
    _end(state, index, user_id, handle, index.indexed_sessions(user_id).get(handle))
    return user_id


def revoke_user(state: KoaSessionState, user_id: str, keep: str | None) -> list[str]:
    """End every active session of ``user_id`` but ``keep``.

    :return: the handles ended.
    """
    index = _index(state)
    ended = []
    for handle, found in index.indexed_sessions(str(user_id)).items():
        if handle != keep:
            _end(state, index, str(user_id), handle, found)
            ended.append(handle)
    return ended


def _end(
    state: KoaSessionState,
    index: SessionIndex,
    user_id: str,
    handle: str,
    found: dict[str, t.Any] | None,
) -> None:
    """The handle ended first (no request indexes it again), then its entry
    deleted (no request loads it again)."""
    index.end_session(user_id, handle, ttl(state.options.max_age))
    store = state.options.store
    store_id = None if found is None else found.get("store_id")
    if store is not None and isinstance(store_id, str):
        store.destroy(store_id)


def _index(state: KoaSessionState) -> SessionIndex:
    index = state.registry
    if index is None:
        raise RuntimeError(
            "KoaSession keeps no index of users' sessions on this app: set the"
            ' option user_id_key (e.g. user_id_key="_user_id" for Flask-Login).'
        )
    return index


def _time(epoch_ms: object) -> datetime.datetime | None:
    if not isinstance(epoch_ms, (int, float)) or isinstance(epoch_ms, bool):
        return None
    return datetime.datetime.fromtimestamp(epoch_ms / 1000, datetime.UTC)
