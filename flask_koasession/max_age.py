"""A session's max age: how long it lasts after its last save.

koa-session counts it in milliseconds, or takes ``"session"`` for a cookie
without an expiry that the browser drops when it closes. The type and its
limits are defined here once, for the options, the session and the stores.
"""

from __future__ import annotations

import typing as t

#: Milliseconds, or ``"session"`` for a browser-session cookie (which has no
#: lifetime of its own).
MaxAge: t.TypeAlias = "int | t.Literal['session']"

#: koa-session's default: one day.
DEFAULT_MAX_AGE = 86_400_000
#: The longest max age (100 years): beyond it no cookie date can be written.
MAX_MAX_AGE = 100 * 365 * 86_400_000
#: What a store entry outlives its cookie by, as in koa-session.
STORE_GRACE_MS = 10_000


def store_ttl(max_age: MaxAge) -> MaxAge:
    """The time to live of a store entry for a session of ``max_age``: ten
    seconds more, so that the entry outlives the cookie (koa-session's rule).
    """
    return max_age + STORE_GRACE_MS if isinstance(max_age, int) else "session"
