"""koa-session's session model for Flask, wire-compatible with Koa.

A map of the modules, in the order a request meets them:

- ``extension``, ``state``: set-up, and what each app keeps;
  ``options`` declares each option once, ``option_sources`` merges where
  they come from (with ``flask_settings``, Flask's own settings),
  ``option_types`` types them for editors and mypy.
- ``interface``: Flask's session interface: opens a request's
  ``context`` and calls its commit.
- ``context``: one request's session (koa's ``ContextSession``): loads it
  on first use, records what the view asks, decides and commits.
- ``session_dict``: the session a view sees, a thin face on the context.
- ``decide``: what came in, what was asked, the one change detection and
  the pure save decision (koa's named reasons).
- ``merging``: every write to a store entry (merged saves, moves).
- ``cookies``: the session cookies (keys, keygrip signatures, the cookie
  value, ``Set-Cookie``); ``codec``: koa's payload, its bookkeeping and its
  base64 JSON; ``sealing``: encrypted and compressed values; ``grammar``:
  what cookies and ids may hold.
- ``users``: a user's sessions (``user_id_key``), listed and ended;
  ``migration``: Flask's built-in sessions carried over.
- ``stores``: server-side stores; ``signals``, ``flash``, ``cli``,
  ``null_session``, ``exceptions``.
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
    session_revoked,
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
    "session_revoked",
    "set_flash",
]
