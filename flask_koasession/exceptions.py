"""Errors raised by flask-koasession.

Configuration mistakes raise :class:`ValueError` or :class:`TypeError` at set-up;
the classes here cover what can go wrong while serving a request.
"""

from __future__ import annotations


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
    :param operation: ``"get"``, ``"set"``, ``"destroy"``, ``"cleanup"`` or
        ``"create_table"``.
    :param key: the session id concerned, when there is one.
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
            " browsers keep (MAX_COOKIE_SIZE). Store less in the session, or use a"
            " server-side store (store=RedisStore(...) or SQLAlchemyStore(...))."
        )
