"""Errors and warnings of flask-koasession.

Configuration mistakes raise :class:`ValueError` or :class:`TypeError` at set-up,
and a configuration that is valid but most likely not what was meant warns
with :class:`KoaSessionConfigWarning`; the error classes here cover what can go
wrong while serving a request.
"""

from __future__ import annotations

import os
import sys
import warnings


class KoaSessionConfigWarning(UserWarning):
    """A setting that is valid but most likely not what was meant: a
    ``max_age`` under a minute (milliseconds taken for seconds), or one of
    Flask's session settings changed after the extension read it.

    Its own class, so that an app that means it can filter it::

        warnings.filterwarnings("ignore", category=KoaSessionConfigWarning)
    """


def warn_config(message: str) -> None:
    """Warn with :class:`KoaSessionConfigWarning`, attributed to the first
    caller outside this package (the line that set the extension up)."""
    package = os.path.dirname(__file__) + os.sep
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame = frame.f_back
        level += 1
    warnings.warn(message, KoaSessionConfigWarning, stacklevel=level)


class KoaSessionError(Exception):
    """Base class of every error this extension raises while serving."""


class SessionStoreError(KoaSessionError):
    """A session store could not do what was asked (down, unreachable, refused).

    The message names the store and the operation; the original exception is
    chained as ``__cause__``. Register an error handler for this class to turn
    an outage into a ``503 Service Unavailable``::

        @app.errorhandler(SessionStoreError)
        def store_down(error):
            return "Sessions are unavailable, try again shortly.", 503

    That handler sees errors raised while the view loads the session. An
    error raised while the session is saved, after the view, reaches the
    ``InternalServerError`` handler as ``e.original_exception``: see
    :ref:`store-outages`.

    :param store: a short name of the store, e.g. ``"RedisStore"``.
    :param operation: ``"get"``, ``"set"``, ``"destroy"``, ``"cleanup"``,
        ``"create_table"``, one of the conditional writes: ``"create"``,
        ``"compare_and_set"``, ``"compare_and_delete"``, or of the user
        index: ``"index_session"``, ``"end_session"``,
        ``"indexed_sessions"``, ``"user_of"``.
    :param key: the session id concerned, when there is one; for the user
        index, the handle (the user id for ``"indexed_sessions"``).
    """

    def __init__(self, store: str, operation: str, key: str | None = None) -> None:
        self.store = store
        self.operation = operation
        self.key = key
        super().__init__(f"{store} could not {operation} a session")

    def __str__(self) -> str:
        cause = self.__cause__
        detail = f": {type(cause).__name__}: {cause}" if cause is not None else ""
        return f"{self.store} could not {self.operation} a session{detail}"


class SessionContentionError(SessionStoreError):
    """A merged save gave up: the session's store entry changed between each
    read and write, ``attempts`` times in a row.

    Each attempt fails only because another request of the same session
    saved in between, so this takes a burst of concurrent requests of one
    session far beyond what a browser sends (see :doc:`/concurrency`). As a
    :class:`SessionStoreError` it reaches the same handlers.

    :param store: a short name of the store.
    :param key: the session id.
    :param attempts: how many conditional writes were tried.
    """

    def __init__(self, store: str, key: str, attempts: int) -> None:
        self.attempts = attempts
        super().__init__(store, "save", key)

    def __str__(self) -> str:
        return (
            f"{self.store} could not save a session: its entry changed under each"
            f" of {self.attempts} attempts (too many concurrent requests of one"
            " session)"
        )


class SessionTooLargeError(KoaSessionError):
    """A cookie session grew past what browsers keep (``MAX_COOKIE_SIZE``).

    Raised at save time instead of sending a cookie that the browser would drop
    silently. Move large data to a server-side store, or keep less in the
    session.

    :param size: the size of the ``Set-Cookie`` value in bytes.
    :param limit: the configured limit (``app.config["MAX_COOKIE_SIZE"]``).
    """

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"The session cookie is {size} bytes, over the {limit}-byte limit that"
            " browsers keep (MAX_COOKIE_SIZE). Compress it (compress=True, or the"
            ' default compress="auto", which a custom encode turns off), store'
            " less in the session, or keep the data on the server with a store"
            ' (store="redis://...", "sqlite:///sessions.db" or'
            ' "postgresql://...").'
        )
