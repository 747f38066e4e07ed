"""Blinker signals for the life of a session.

The sender is always the Flask application object, never the ``current_app``
proxy. Connect with ``session_created.connect(receiver, app)``.
"""

from __future__ import annotations

import typing as t

from blinker import Namespace

if t.TYPE_CHECKING:
    from blinker import NamedSignal
    from flask import Flask

_signals = Namespace()

#: A new session was saved for the first time. Kwargs: ``session``.
session_created = _signals.signal("session-created")
#: An unchanged session's expiry was pushed forward. Kwargs: ``session``,
#: ``reason`` (``"rolling"`` or ``"renew"``).
session_renewed = _signals.signal("session-renewed")
#: :meth:`~flask_koasession.KoaSessionDict.regenerate` took effect. Kwargs:
#: ``session``, ``old_key``, ``new_key`` (store ids, ``None`` in cookie mode).
session_regenerated = _signals.signal("session-regenerated")
#: :meth:`~flask_koasession.KoaSessionDict.destroy` took effect. Kwargs: ``key``
#: (the store id, ``None`` in cookie mode).
session_destroyed = _signals.signal("session-destroyed")
#: An expired session came with a request. Kwargs: ``key``, ``value``.
session_expired = _signals.signal("session-expired")
#: A session was rejected. Kwargs: ``key``, ``value`` (the decoded data, or
#: ``None``), ``reason``: ``"unsigned"``, ``"signature"``, ``"too_large"``,
#: ``"decode"``, ``"bookkeeping"``, ``"valid"`` or ``"malformed_id"``; for a
#: sealed cookie also :class:`~flask_koasession.sealing.SealError`'s reasons.
session_invalid = _signals.signal("session-invalid")
#: A store id that the store does not know. Kwargs: ``key``.
session_missed = _signals.signal("session-missed")
#: Store mode, merged saves: a save was dropped and the response sets no
#: session cookie. Kwargs: ``session``, ``reason`` and ``key``: ``"gone"``
#: when the entry ``key`` was destroyed, expired or cleaned up since the
#: request loaded it; ``"taken"`` when the id ``key`` of a new session
#: already has an entry; ``"moved"`` when another request regenerated the
#: session meanwhile: this request's changes were saved onto its new id, but
#: no cookie is sent (the new id goes only to the request that made it).
session_dropped = _signals.signal("session-dropped")
#: Sessions were ended by :meth:`~flask_koasession.KoaSession.revoke` or
#: :meth:`~flask_koasession.KoaSession.revoke_user`. Kwargs: ``user_id``,
#: ``handles`` (the list of the handles ended).
session_revoked = _signals.signal("session-revoked")


def send(signal: NamedSignal, app: Flask, **kwargs: t.Any) -> None:
    """Send ``signal`` from ``app`` with ``kwargs``, if anyone listens (the
    common case of no receiver then costs one attribute read)."""
    if signal.receivers:
        signal.send(app, **kwargs)
