"""koa-session's session model for Flask, wire-compatible with Koa.

A map of the modules, in the order a request meets them:

- ``extension``, ``options``, ``state``: set-up; each option declared once.
- ``interface``: Flask's session interface; ``commit()`` runs the steps below.
- ``scope``: the request's app, options, store and signer.
- ``loading``: read the cookie or store entry, check it, record what came in.
- ``session_dict``: the session a view sees, and what the view asked of it.
- ``decide``: the pure save decision (koa's named reasons).
- ``saving``: save or remove, to the cookie or the store.
- Cookie value layers, outermost first: ``cookies`` (Set-Cookie headers and
  signatures, with ``signing``), ``cookie_value`` (payload to cookie text),
  ``payload`` (data plus koa's bookkeeping fields), ``codec`` (koa's
  base64 JSON, with Flask's tagged values).
- ``stores``: server-side stores; ``signals``, ``flash``, ``cli``.
"""

from __future__ import annotations

import typing as t

import flask

from .exceptions import (
    KoaSessionConfigWarning,
    KoaSessionError,
    SessionContentionError,
    SessionStoreError,
    SessionTooLargeError,
)
from .extension import KoaSession
from .flash import pop_flash, set_flash
from .interface import KoaSessionInterface
from .option_types import KoaSessionOptions
from .options import Options
from .session_dict import KoaSessionDict
from .signals import (
    session_created,
    session_destroyed,
    session_dropped,
    session_expired,
    session_invalid,
    session_missed,
    session_regenerated,
    session_renewed,
)
from .state import KoaSessionState

#: :data:`flask.session`, typed as what this extension makes it: the same proxy,
#: so that type checkers know ``session.regenerate()``, ``session.destroy()``
#: and the rest of :class:`KoaSessionDict`.
session = t.cast(KoaSessionDict, flask.session)

__all__ = [
    "KoaSession",
    "KoaSessionConfigWarning",
    "KoaSessionDict",
    "KoaSessionError",
    "KoaSessionInterface",
    "KoaSessionOptions",
    "KoaSessionState",
    "Options",
    "SessionContentionError",
    "SessionStoreError",
    "SessionTooLargeError",
    "pop_flash",
    "session",
    "session_created",
    "session_destroyed",
    "session_dropped",
    "session_expired",
    "session_invalid",
    "session_missed",
    "session_regenerated",
    "session_renewed",
    "set_flash",
]
