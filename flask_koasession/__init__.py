"""koa-session's session model for Flask, wire-compatible with Koa."""

from __future__ import annotations

from .exceptions import KoaSessionError, SessionStoreError, SessionTooLargeError
from .extension import KoaSession, KoaSessionState
from .flash import pop_flash, set_flash
from .interface import KoaSessionInterface
from .options import Options
from .session import KoaSessionDict
from .signals import (
    session_created,
    session_destroyed,
    session_expired,
    session_invalid,
    session_missed,
    session_regenerated,
    session_renewed,
)

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
    "session_created",
    "session_destroyed",
    "session_expired",
    "session_invalid",
    "session_missed",
    "session_regenerated",
    "session_renewed",
    "set_flash",
]
