"""The session object that views see as :data:`flask.session`.

It is a ``dict`` that loads itself on first use, so a request that never
touches the session never decodes a cookie nor calls a store.
"""

from __future__ import annotations

import functools
import typing as t

from flask import has_request_context
from flask.sessions import SessionMixin

from .max_age import MaxAge
from .options import normalize_max_age

if t.TYPE_CHECKING:
    from .context import SessionContext


class KoaSessionDict(dict[str, t.Any], SessionMixin):
    """A session as koa-session models it, on top of Flask's session API.

    Any change to the data, nested values included, is saved at the end of the
    request: changes are found by comparing the serialized data, as koa does,
    so ``session.modified = True`` is never needed (it still forces a save).

    Keys ``_expire``, ``_maxAge``, ``_session`` and ``_tagged`` are reserved for
    bookkeeping and are not saved as data; other keys starting with ``_``
    (Flask's ``_flashes``, Flask-Login's ``_user_id``) are kept.
    """

    def __init__(self, context: SessionContext) -> None:
        super().__init__()
        self._context = context
        self._loaded = False
        self._modified = False

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            context = self._context
            try:
                if context.request_context is None or has_request_context():
                    context.load(self)
                else:
                    # Flask's test client session_transaction() uses the session
                    # outside the request context it was opened in: load inside
                    # it, so that stores, genid and valid see current_app,
                    # request and g as they do during a request.
                    with context.request_context:
                        context.load(self)
            except BaseException:
                # A session that could not be read (store down, no secret key)
                # is never written: the error is the request's outcome.
                self._context.committed = True
                raise

    @property
    def modified(self) -> bool:
        """Set to ``True`` to force a save, as with Flask's own session."""
        return self._modified

    @modified.setter
    def modified(self, value: bool) -> None:
        self._modified = bool(value)
        if value:
            self._load()  # saving needs the data (and the id) to save

    @property
    def accessed(self) -> bool:
        """Whether the session was loaded during this request."""
        return self._loaded

    @accessed.setter
    def accessed(self, value: bool) -> None:
        # Flask sets this whenever the ``flask.session`` proxy is touched; what
        # counts here is whether the data was read, which loading records.
        pass

    @property
    def is_new(self) -> bool:
        """True when no valid session came with the request (koa's ``isNew``)."""
        self._load()
        return self._context.is_new

    @property
    def new(self) -> bool:  # type: ignore[override]
        """Flask's name for :attr:`is_new`."""
        return self.is_new

    @property
    def max_age(self) -> MaxAge:
        """This session's max age in ms, or ``"session"`` for a browser-session
        cookie. Assigning it (ms, :class:`~datetime.timedelta` or ``"session"``)
        forces a save.
        """
        self._load()
        return self._context.max_age

    @max_age.setter
    def max_age(self, value: object) -> None:
        self._load()
        self._context.max_age = normalize_max_age(value, "session.max_age")
        self._context.require_save = True

    @property
    def permanent(self) -> bool:
        """Flask's flag, mapped onto :attr:`max_age`: ``False`` means a
        browser-session cookie (``max_age == "session"``); setting it back to
        ``True`` restores the configured max age (or
        ``PERMANENT_SESSION_LIFETIME`` when that is ``"session"`` too).
        """
        return self.max_age != "session"

    @permanent.setter
    def permanent(self, value: bool) -> None:
        if bool(value) == self.permanent:
            return
        self.max_age = self._context.permanent_max_age() if value else "session"

    @property
    def external_key(self) -> str | None:
        """The store id of this session in store mode, else ``None``."""
        self._load()
        return self._context.external_key

    @property
    def populated(self) -> bool:
        """Whether the session holds any data (koa's ``populated``)."""
        return len(self) > 0

    def save(self) -> None:
        """Save the session at the end of this request, changed or not."""
        self._load()
        self._context.require_save = True

    def regenerate(self) -> None:
        """Give the session a new id (store mode) or a fresh cookie, same data.

        The old store entry is deleted at the end of the request. Call it on
        login to prevent session fixation.
        """
        self._load()
        self._context.regenerate = True

    def destroy(self) -> None:
        """Delete the data, the store entry and the cookies (koa's
        ``ctx.session = null``). Writing afterwards starts a new session.
        """
        self._load()
        dict.clear(self)
        self._context.destroy()

    def manually_commit(self) -> None:
        """With ``auto_commit=False``, make this response carry the session."""
        self._context.commit_requested = True


def _loads_first(method: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    @functools.wraps(method)
    def wrapper(self: KoaSessionDict, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if not self._loaded:
            self._load()
        return method(self, *args, **kwargs)

    return wrapper


# Every way of reading or writing the data loads the session first.
for _name in (
    "__contains__",
    "__delitem__",
    "__eq__",
    "__getitem__",
    "__ior__",
    "__iter__",
    "__len__",
    "__ne__",
    "__or__",
    "__repr__",
    "__reversed__",
    "__ror__",
    "__setitem__",
    "clear",
    "copy",
    "get",
    "items",
    "keys",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "values",
):
    setattr(KoaSessionDict, _name, _loads_first(getattr(dict, _name)))
del _name
