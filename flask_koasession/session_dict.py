"""The session that views see as :data:`flask.session`.

A dict that loads itself on first use (:class:`LazyDict`), so a request that
never touches the session never decodes a cookie nor calls a store; with
koa-session's session API on top of Flask's (:class:`KoaSessionDict`). It is
a thin face on the request's
:class:`~flask_koasession.context.SessionContext`, which loads it, records
what the view asks and commits it at the end of the request.
"""

from __future__ import annotations

import datetime
import typing as t
from collections.abc import Callable, Iterator

from flask.sessions import SessionMixin

from .codec import normalize_max_age

if t.TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

    from .codec import MaxAge
    from .context import SessionContext

_MISSING: t.Any = object()


class LazyDict(dict[str, t.Any]):
    """A ``dict`` whose data is loaded by ``load()`` on first use.

    :param load: fills the dict (with ``dict.update``); called once, before
        the first read or write. Should it raise, the dict stays as it is.
    """

    def __init__(self, load: Callable[[], object]) -> None:
        # No dict.__init__: the dict is empty until it loads.
        self._load: Callable[[], object] | None = load

    def _first_use(self) -> None:
        load, self._load = self._load, None
        assert load is not None
        load()

    def __getitem__(self, key: str) -> t.Any:
        if self._load is not None:
            self._first_use()
        return dict.__getitem__(self, key)

    def __setitem__(self, key: str, value: t.Any) -> None:
        if self._load is not None:
            self._first_use()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        if self._load is not None:
            self._first_use()
        dict.__delitem__(self, key)

    def __contains__(self, key: object) -> bool:
        if self._load is not None:
            self._first_use()
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        if self._load is not None:
            self._first_use()
        return dict.__iter__(self)

    def __reversed__(self) -> Iterator[str]:
        if self._load is not None:
            self._first_use()
        return dict.__reversed__(self)

    def __len__(self) -> int:
        if self._load is not None:
            self._first_use()
        return dict.__len__(self)

    def __eq__(self, other: object) -> bool:
        if self._load is not None:
            self._first_use()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        if self._load is not None:
            self._first_use()
        return dict.__ne__(self, other)

    def __repr__(self) -> str:
        # Not loaded for a repr (a debugger's, a log line's): loading may
        # cost a store round trip, and a repr must not change what is saved.
        if self._load is not None:
            return f"<{type(self).__name__} (not loaded yet)>"
        return dict.__repr__(self)

    def __or__(self, other: dict[t.Any, t.Any], /) -> dict[t.Any, t.Any]:
        if self._load is not None:
            self._first_use()
        return dict.__or__(self, other)

    def __ror__(self, other: dict[t.Any, t.Any], /) -> dict[t.Any, t.Any]:
        if self._load is not None:
            self._first_use()
        return dict.__ror__(self, other)

    # mypy checks |= against |, whose overloads return a new dict.
    def __ior__(self, other: t.Any, /) -> t.Self:  # type: ignore[misc,override]
        if self._load is not None:
            self._first_use()
        return dict.__ior__(self, other)

    def get(self, key: str, default: t.Any = None) -> t.Any:
        if self._load is not None:
            self._first_use()
        return dict.get(self, key, default)

    def keys(self) -> dict_keys[str, t.Any]:
        if self._load is not None:
            self._first_use()
        return dict.keys(self)

    def values(self) -> dict_values[str, t.Any]:
        if self._load is not None:
            self._first_use()
        return dict.values(self)

    def items(self) -> dict_items[str, t.Any]:
        if self._load is not None:
            self._first_use()
        return dict.items(self)

    def copy(self) -> dict[str, t.Any]:
        if self._load is not None:
            self._first_use()
        return dict.copy(self)

    def setdefault(self, key: str, default: t.Any = None) -> t.Any:
        if self._load is not None:
            self._first_use()
        return dict.setdefault(self, key, default)

    def pop(self, key: str, default: t.Any = _MISSING) -> t.Any:
        if self._load is not None:
            self._first_use()
        if default is _MISSING:
            return dict.pop(self, key)
        return dict.pop(self, key, default)

    def popitem(self) -> tuple[str, t.Any]:
        if self._load is not None:
            self._first_use()
        return dict.popitem(self)

    def update(self, *args: t.Any, **kwargs: t.Any) -> None:
        if self._load is not None:
            self._first_use()
        dict.update(self, *args, **kwargs)

    def clear(self) -> None:
        if self._load is not None:
            self._first_use()
        dict.clear(self)


#: A max age as Python code reads it: seconds, or ``"session"``.
Seconds = int | float | t.Literal["session"]


def as_seconds(max_age: MaxAge) -> Seconds:
    """A max age in koa's milliseconds as Python's seconds (an ``int`` when
    whole)."""
    if max_age == "session":
        return "session"
    seconds = max_age / 1000
    return int(seconds) if seconds.is_integer() else seconds


class KoaSessionDict(LazyDict, SessionMixin):
    """A session as koa-session models it, on top of Flask's session API.

    Any change to the data, nested values included, is saved at the end of the
    request: changes are found by comparing the serialized data, as koa does,
    so ``session.modified = True`` is never needed (it still forces a save).

    Keys ``_expire``, ``_maxAge``, ``_session`` and ``_tagged`` are reserved for
    bookkeeping and are not saved as data; other keys starting with ``_``
    (Flask's ``_flashes``, Flask-Login's ``_user_id``) are kept.

    :param context: the request's session context; the session binds itself
        to it.
    """

    def __init__(self, context: SessionContext) -> None:
        # LazyDict's __init__, inline: one is made per request.
        self._load = context.load
        #: The request's :class:`~flask_koasession.context.SessionContext`:
        #: what came in, what was asked, the commit.
        self.context = context
        context.session = self

    # -- koa's session API ---------------------------------------------------

    @property
    def is_new(self) -> bool:
        """True when no valid session came with the request (koa's ``isNew``)."""
        return self.context.load().is_new

    @property
    def new(self) -> bool:  # type: ignore[override]
        """Flask's name for :attr:`is_new`."""
        return self.is_new

    @property
    def max_age(self) -> Seconds:
        """This session's max age in seconds, or ``"session"`` for a
        browser-session cookie. Assigning it (seconds, a
        :class:`~datetime.timedelta` or ``"session"``) forces a save.

        (On the wire, and in a Koa app's ``ctx.session.maxAge``, it is in
        milliseconds.)
        """
        loaded = self.context.load()
        assigned = self.context.requested.max_age
        return as_seconds(loaded.max_age if assigned is None else assigned)

    @max_age.setter
    def max_age(self, value: int | float | datetime.timedelta | str) -> None:
        context = self.context
        context.load()
        context.requested.max_age = normalize_max_age(value, "session.max_age")
        context.requested.save = True

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
        if value:
            max_age = as_seconds(self.context.permanent_max_age())
            self.max_age = max_age
        else:
            self.max_age = "session"

    @property
    def external_key(self) -> str | None:
        """The store id of this session in store mode, else ``None``. After
        ``regenerate()`` it is still the one the request came with until the
        commit draws the new one, as koa's ``externalKey``."""
        return self.context.load().store_id

    @property
    def populated(self) -> bool:
        """Whether the session holds any data (koa's ``populated``)."""
        return len(self) > 0

    def save(self) -> None:
        """Save the session at the end of this request, changed or not."""
        self.context.load()
        self.context.requested.save = True

    def regenerate(self) -> None:
        """Give the session a new id (store mode) or a fresh cookie, same data.

        The old store entry is deleted at the end of the request. Call it on
        login to prevent session fixation.
        """
        self.context.load()
        self.context.requested.regenerate = True

    def destroy(self) -> None:
        """Delete the data, the store entry and the cookies (koa's
        ``ctx.session = null``).

        Keys written earlier in the same request are dropped with the rest of
        the data: they are neither saved nor seen by code that runs later,
        ``after_request`` functions included (Flask-Login's ``logout_user()``
        marker for its remember-me cookie among them, so call ``destroy()``
        first on logout). Keys written after it, in the view or later, start
        a new session, saved as any new one: when it still holds data at the
        end of the request, the response carries it instead of the removal;
        when it is empty again by then, nothing is saved.
        """
        self.context.destroy()

    def manually_commit(self) -> None:
        """With ``auto_commit=False``, make this response carry the session."""
        self.context.requested.manual_commit = True

    # -- Flask's SessionMixin ------------------------------------------------

    @property
    def modified(self) -> bool:
        """Whether this request changed the data (nested values included) or
        destroyed the session. Set it to ``True`` to force a save, as with
        Flask's own session.
        """
        context = self.context
        requested = context.requested
        if requested.modified or context.loaded is None:
            return requested.modified
        if requested.destroy:
            return True
        try:
            return context.change().changed
        except (RecursionError, ValueError, TypeError):
            return True  # unlike what was loaded, which could be written

    @modified.setter
    def modified(self, value: bool) -> None:
        self.context.requested.modified = bool(value)
        if value:
            self.context.load()  # saving needs the data (and the id) to save

    @property
    def accessed(self) -> bool:
        """Whether the session was loaded during this request."""
        return self.context.loaded is not None

    @accessed.setter
    def accessed(self, value: bool) -> None:
        # Flask sets this whenever the ``flask.session`` proxy is touched; what
        # counts here is whether the data was read, which loading records.
        pass
