"""What the session page shows: the session as the server sees it."""

from __future__ import annotations

import base64
import binascii
import json
import typing as t
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import request

from flask_koasession import session

if t.TYPE_CHECKING:
    from flask_koasession.stores import SessionStore


@dataclass(frozen=True)
class SessionInfo:
    """One request's view of its session."""

    mode: str
    is_new: bool
    data: dict[str, t.Any]
    #: ``session.max_age``: seconds, or ``"session"``.
    max_age: float | str
    expires: datetime | None
    store_id: str | None
    previous_id: str | None
    cookies: dict[str, int]

    @property
    def max_age_text(self) -> str:
        if self.max_age == "session":
            return "until the browser closes (a browser-session cookie)"
        return f"{self.max_age} s ({timedelta(seconds=float(self.max_age))})"

    def as_json(self) -> dict[str, t.Any]:
        """For ``curl``: the same facts as plain JSON."""
        return {
            "mode": self.mode,
            "is_new": self.is_new,
            "data": self.data,
            "max_age": self.max_age,
            "expires": self.expires.isoformat() if self.expires else None,
            "store_id": self.store_id,
            "previous_id": self.previous_id,
            "cookies": self.cookies,
        }


def session_info(cookie_name: str, store: SessionStore | None) -> SessionInfo:
    """Look at this request's session without changing it.

    The expiry is the one that came with the request: the ``_expire`` field of
    the cookie payload (cookie mode) or of the store entry (store mode),
    which the session object keeps to itself.
    """
    is_new = session.is_new
    store_id = session.external_key
    expire_ms: object = None
    if not is_new:
        if store is not None and store_id is not None:
            # The store's max_age is informational, in koa's milliseconds.
            max_age = session.max_age
            koa_max_age = max_age if max_age == "session" else int(max_age * 1000)
            entry = store.get(store_id, koa_max_age, rolling=False)
            expire_ms = (entry or {}).get("_expire")
        else:
            expire_ms = _cookie_payload(request.cookies.get(cookie_name, "")).get(
                "_expire"
            )
    login = session.get("login")
    return SessionInfo(
        mode="cookie" if store is None else f"store ({type(store).__name__})",
        is_new=is_new,
        data=dict(session),
        max_age=session.max_age,
        expires=_datetime(expire_ms),
        store_id=store_id,
        previous_id=login.get("previous_id") if isinstance(login, dict) else None,
        cookies={
            name: len(value)
            for name, value in request.cookies.items()
            if name in (cookie_name, cookie_name + ".sig")
        },
    )


def _cookie_payload(value: str) -> dict[str, t.Any]:
    """koa-session's cookie payload: base64 of JSON (already verified by the
    extension when the session is not new); ``{}`` when it does not decode."""
    try:
        payload = json.loads(base64.b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _datetime(epoch_ms: object) -> datetime | None:
    """An ``_expire`` as a date; ``None`` when it is none (not a number, or
    beyond what a date can hold: the extension accepts any number)."""
    if not isinstance(epoch_ms, int | float):
        return None
    try:
        return datetime.fromtimestamp(epoch_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
