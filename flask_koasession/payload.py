"""A session payload as koa-session writes it: the data, then bookkeeping.

koa-session appends ``_expire`` (epoch milliseconds) and ``_maxAge`` to the
data, or ``"_session": true`` for a browser-session cookie; payloads holding
tagged values also carry ``"_tagged": true`` (see :mod:`.codec`). Those keys
are bookkeeping, never session data.
"""

from __future__ import annotations

import time
import typing as t

from .codec import TAGGED, dumps_json
from .max_age import MAX_MAX_AGE, MaxAge

#: Keys that hold bookkeeping in a payload; never session data.
RESERVED_KEYS = frozenset(("_expire", "_maxAge", "_session", TAGGED))


def now_ms() -> int:
    """The time as koa's ``Date.now()`` gives it: epoch milliseconds."""
    return int(time.time() * 1000)


def data_of(session: dict[str, t.Any]) -> dict[str, t.Any]:
    """The data to save of a session: every key but the bookkeeping ones.

    The session itself when it holds none of them (the usual case: no copy).
    """
    # dict.keys: the session's own keys() is a Python method.
    keys = dict.keys(session)
    if RESERVED_KEYS.isdisjoint(keys):
        return session
    return {k: v for k, v in session.items() if k not in RESERVED_KEYS}


def dumps_data(data: dict[str, t.Any], *, trusted: bool) -> str:
    """The text of session data, as it is compared and saved.

    Tagged values (tuples, bytes, datetimes, Markup) are kept only where
    nobody else can have written the data (``trusted``: a signed cookie or a
    store entry). Anyone can forge an unsigned cookie, so it is plain JSON
    both ways, and a value JSON cannot hold is an error there.

    :raise TypeError: for a value that cannot be saved.
    :raise ValueError: for ``NaN`` or infinities.
    """
    if trusted:
        return dumps_json(data)
    try:
        return dumps_json(data, tag=False)
    except TypeError as error:
        raise TypeError(
            f"{error}. With signed=False the session cookie holds plain JSON"
            " only: anyone can forge an unsigned cookie, so its data is never"
            " turned back into Python types. Keep JSON values in the session"
            " (str, int, float, bool, None, lists, dicts; tuples become"
            " lists), or sign the cookie (signed=True), or use a store."
        ) from error


def is_number(value: object) -> bool:
    """Whether ``value`` is a JSON number (``bool`` is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def stored_max_age(payload: t.Mapping[str, t.Any], default: MaxAge) -> MaxAge | None:
    """The max age a payload carries (koa restores it per session).

    :param default: the configured max age, for a payload without ``_maxAge``.
    :return: the max age, or ``None`` when the payload's bookkeeping is
        damaged (a ``_maxAge`` that is no max age).
    """
    if payload.get("_session") is True:
        return "session"
    stored = payload.get("_maxAge")
    if stored is None:
        return default
    if is_number(stored) and 1 <= stored <= MAX_MAX_AGE:
        return int(stored)
    return None


def bookkeeping(max_age: MaxAge, now: int) -> dict[str, t.Any]:
    """The fields koa-session appends to a payload saved ``now`` with this
    max age."""
    if max_age == "session":
        return {"_session": True}
    return {"_expire": now + max_age, "_maxAge": max_age}


def append_bookkeeping(data_json: str, extra: dict[str, t.Any]) -> str:
    """Append bookkeeping fields to serialized data without serializing twice.

    ``data_json`` is the text of a JSON object; the result is the text of that
    object with ``extra``'s fields added at the end, as ``JSON.stringify``
    writes ``{...data, ...extra}``.
    """
    if len(extra) == 2:  # the usual {"_expire": int, "_maxAge": int}, formatted fast
        tail = f'"_expire":{extra["_expire"]},"_maxAge":{extra["_maxAge"]}}}'
    else:
        tail = dumps_json(extra)[1:]
    if data_json == "{}":
        return "{" + tail
    return data_json[:-1] + "," + tail
