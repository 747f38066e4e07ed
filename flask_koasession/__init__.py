"""koa-session's session model for Flask, wire-compatible with Koa."""

from __future__ import annotations

import typing as t

import flask

from .exceptions import KoaSessionError, SessionStoreError, SessionTooLargeError
from .extension import KoaSession
from .flash import pop_flash, set_flash
from .interface import KoaSessionInterface
from .options import Options
from .session_dict import KoaSessionDict
from .signals import (
    session_created,
    session_destroyed,
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
    "KoaSessionDict",
    "KoaSessionError",
    "KoaSessionInterface",
    "KoaSessionState",
    "Options",
    "SessionStoreError",
    "SessionTooLargeError",
    "pop_flash",
    "session",
    "session_created",
    "session_destroyed",
    "session_expired",
    "session_invalid",
    "session_missed",
    "session_regenerated",
    "session_renewed",
    "set_flash",
]
