"""Time-to-live arithmetic and checks shared by the built-in stores."""

from __future__ import annotations

from .base import MaxAge


def check_max_age(max_age: object) -> MaxAge:
    """Validate the ``max_age`` a store method received and return it.

    :raise ValueError: when it is neither a positive ``int`` of milliseconds
        nor ``"session"``.
    """
    if max_age == "session":
        return "session"
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0:
        raise ValueError(
            "A store's max_age must be a positive int of milliseconds or"
            f" 'session', got {max_age!r}."
        )
    return max_age


def check_session_ttl(session_ttl: object) -> int | None:
    """Validate a store's ``session_ttl`` parameter and return it.

    :raise ValueError: when it is neither ``None`` nor a positive ``int``.
    """
    if session_ttl is None:
        return None
    if (
        isinstance(session_ttl, bool)
        or not isinstance(session_ttl, int)
        or session_ttl <= 0
    ):
        raise ValueError(
            "session_ttl must be None (no expiry for 'session' entries) or a"
            f" positive int of seconds, got {session_ttl!r}."
        )
    return session_ttl


def ttl_whole_seconds(max_age: object, session_ttl: int | None) -> int | None:
    """The time to live in whole seconds, for stores that count in seconds.

    Milliseconds round up, as koa-redis does (``Math.ceil(ttl / 1000)``), so an
    entry never expires before its cookie.

    :param max_age: milliseconds, or ``"session"``.
    :param session_ttl: the seconds to use for ``"session"``; ``None`` for no
        expiry.
    :return: a positive number of seconds, or ``None`` for no expiry.
    :raise ValueError: for an invalid ``max_age``.
    """
    checked = check_max_age(max_age)
    if checked == "session":
        return session_ttl
    return -(-checked // 1000)


def ttl_seconds(max_age: object, session_ttl: int | None) -> float | None:
    """The time to live in seconds, to the millisecond.

    :param max_age: milliseconds, or ``"session"``.
    :param session_ttl: the seconds to use for ``"session"``; ``None`` for no
        expiry.
    :return: a positive number of seconds, or ``None`` for no expiry.
    :raise ValueError: for an invalid ``max_age``.
    """
    checked = check_max_age(max_age)
    if checked == "session":
        return None if session_ttl is None else float(session_ttl)
    return checked / 1000
