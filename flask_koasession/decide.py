"""The save decision: whether a session is saved, and why.

A pure function of what came in (:class:`~flask_koasession.loading.Loaded`),
what the view asked (:class:`~flask_koasession.session_dict.Requested`), the
data at the end of the request, the options and the time. It mirrors
koa-session's ``commit()`` and ``_shouldSaveSession()`` and returns the same
named reasons, which the signals and the store's ``changed`` flag use.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from .loading import Loaded
    from .options import Options
    from .session_dict import Requested

#: Why a session is saved: ``"force"`` (the view asked: ``save()``,
#: ``regenerate()``, a new ``max_age``, ``modified = True``; or the cookie was
#: signed or sealed with an older key), ``"changed"`` (the data changed), ``"rolling"``
#: or ``"renew"`` (an unchanged session re-sent to push its expiry), or
#: ``None``: not saved.
Reason = t.Literal["force", "changed", "rolling", "renew"] | None


def decide(
    loaded: Loaded,
    requested: Requested,
    data_json: str | None,
    options: Options,
    now: int,
) -> Reason:
    """koa's save decision for one request, as a named reason.

    :param loaded: what came with the request.
    :param requested: what the view asked of the session.
    :param data_json: the session data at the end of the request, serialized
        as :meth:`Loaded.text <flask_koasession.loading.Loaded.text>` is, or
        ``None`` when it is known to be the data as loaded.
    :param options: the app's options (``rolling`` and ``renew``).
    :param now: the time, in epoch milliseconds.
    """
    resign = loaded.signature == "rotated" and not loaded.is_new
    if requested.save or requested.regenerate or requested.modified or resign:
        return "force"
    if loaded.is_new and data_json == "{}":
        return None  # new and not populated
    if data_changed(loaded, data_json):
        return "changed"
    if options.rolling:
        return "rolling"
    if options.renew and _half_expired(loaded, now):
        return "renew"
    return None


def data_changed(loaded: Loaded, data_json: str | None) -> bool:
    """Whether the data at the end of the request differs from the data as
    loaded (koa compares their texts; ``{}`` for a new session).

    :param data_json: as for :func:`decide`.
    """
    if data_json is None:
        return False
    if loaded.flat is not None:
        # Flat data as loaded was compared value by value: a text is a change.
        return True
    return data_json != (loaded.data_json or "{}")


def _half_expired(loaded: Loaded, now: int) -> bool:
    # koa renews once less than half of the max age is left.
    max_age = loaded.max_age
    if not loaded.expire or not isinstance(max_age, int):
        return False
    return loaded.expire - now < max_age / 2
