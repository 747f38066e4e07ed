"""The session object that views see as :data:`flask.session`.

It is a ``dict`` that loads itself on first use, so a request that never
touches the session never decodes a cookie nor calls a store: every method
that reads or writes the data loads it first. Besides the data it records
what the view asks (:class:`Requested`); deciding and saving happen at the end
of the request, in :mod:`.interface`.
"""

from __future__ import annotations

import operator
import typing as t
from collections.abc import Iterator

from flask.sessions import SessionMixin

from . import codec, loading, payload
from .decide import data_changed
from .max_age import DEFAULT_MAX_AGE, MaxAge
from .options import normalize_max_age

if t.TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

    from .loading import Loaded
    from .scope import RequestScope

_MISSING: t.Any = object()
_LOADING = loading.Loaded(is_new=True, max_age=DEFAULT_MAX_AGE)


class Requested:
    """What the view asked of its session during the request.

    The defaults are class attributes: a request that asks nothing costs no
    more than an empty object.
    """

    #: ``save()``, or a new max age (koa's ``_requireSave``).
    save: bool = False
    #: ``regenerate()``: a new id (store mode) or a fresh cookie pair.
    regenerate: bool = False
    #: Flask's ``session.modified = True``: save it.
    modified: bool = False
    #: The max age assigned to ``session.max_age``, if any.
    max_age: MaxAge | None = None
    #: ``destroy()``: delete the session that came in, expire its cookies.
    destroy: bool = False
    #: The store id of the session ``destroy()`` deleted (``None`` in cookie
    #: mode, or when it was new).
    destroyed_id: str | None = None
    #: ``manually_commit()``: with ``auto_commit=False``, write this response.
    manual_commit: bool = False


class KoaSessionDict(dict[str, t.Any], SessionMixin):
    """A session as koa-session models it, on top of Flask's session API.

    Any change to the data, nested values included, is saved at the end of the
    request: changes are found by comparing the serialized data, as koa does,
    so ``session.modified = True`` is never needed (it still forces a save).

    Keys ``_expire``, ``_maxAge``, ``_session`` and ``_tagged`` are reserved for
    bookkeeping and are not saved as data; other keys starting with ``_``
    (Flask's ``_flashes``, Flask-Login's ``_user_id``) are kept.
    """

    #: The commit's removals (a rejected ``.sig``, ``destroy()``) are to be
    #: sent again on the error response of a commit that failed after them.
    _resend_removals = False

    def __init__(self, scope: RequestScope) -> None:
        # No dict.__init__: the dict is empty until it loads.
        self._scope = scope
        #: What came in; ``None`` until the first use loads it.
        self._loaded: Loaded | None = None
        #: Loading raised: the session reads as new and is never saved.
        self._load_failed = False
        self._requested = Requested()
        #: Set by the commit, which happens once per request.
        self._committed = False

    def _load(self) -> Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        scope = self._scope
        # While loading, what reads the session (a valid() that looks at
        # flask.session, say) finds it new and empty.
        self._loaded = _LOADING
        try:
            loaded, data = loading.load(scope)
        except BaseException:
            # A session that could not be read (store down, no secret key)
            # reads as new and is never written: the error is the outcome.
            self._loaded = loading.Loaded(is_new=True, max_age=scope.options.max_age)
            self._load_failed = True
            raise
        dict.update(self, data)
        self._loaded = loaded
        return loaded

    def _data_json(self, data: dict[str, t.Any]) -> str | None:
        """The text of ``data``, the data to save of this session now, or
        ``None`` when it is the data as loaded (flat, and unchanged).

        Flat data as loaded (:attr:`.Loaded.flat`) is compared value by value,
        by type and value as JSON writes them (``1`` is not ``1.0``): an
        unchanged session is never serialized, and a changed one only once,
        to be saved. Other values (nested, or subclasses of the scalar types)
        are compared by their text. So with flat data as loaded, a text means
        a change (:func:`.decide.data_changed` relies on it).

        :raise TypeError: for a value that cannot be saved.
        :raise ValueError: for ``NaN`` or infinities.
        """
        loaded = self._loaded
        flat = None if loaded is None else loaded.flat
        if flat is None or loaded is None:
            return payload.dumps_data(data, trusted=self._scope.trusted)
        difference = _flat_difference(data, flat)
        if difference == "same":
            return None
        text = payload.dumps_data(data, trusted=self._scope.trusted)
        if difference == "texts" and text == loaded.text():
            return None  # the same text: unchanged, as koa would find it
        return text

    def _moved(self, store_id: str | None) -> None:
        """Regenerated and saved: the session now lives under ``store_id``,
        which :attr:`external_key` reports from then on."""
        assert self._loaded is not None
        self._loaded = self._loaded._replace(store_id=store_id)

    # -- koa's session API ---------------------------------------------------

    @property
    def is_new(self) -> bool:
        """True when no valid session came with the request (koa's ``isNew``)."""
        return self._load().is_new

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
        loaded = self._load()
        assigned = self._requested.max_age
        return loaded.max_age if assigned is None else assigned

    @max_age.setter
    def max_age(self, value: object) -> None:
        self._load()
        self._requested.max_age = normalize_max_age(value, "session.max_age")
        self._requested.save = True

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
        self.max_age = self._permanent_max_age() if value else "session"

    def _permanent_max_age(self) -> MaxAge:
        configured = self._scope.options.max_age
        if configured != "session":
            return configured
        lifetime = self._scope.app.permanent_session_lifetime
        return int(lifetime.total_seconds() * 1000) or DEFAULT_MAX_AGE

    @property
    def external_key(self) -> str | None:
        """The store id of this session in store mode, else ``None``."""
        return self._load().store_id

    @property
    def populated(self) -> bool:
        """Whether the session holds any data (koa's ``populated``)."""
        return len(self) > 0

    def save(self) -> None:
        """Save the session at the end of this request, changed or not."""
        self._load()
        self._requested.save = True

    def regenerate(self) -> None:
        """Give the session a new id (store mode) or a fresh cookie, same data.

        The old store entry is deleted at the end of the request. Call it on
        login to prevent session fixation.
        """
        self._load()
        self._requested.regenerate = True

    def destroy(self) -> None:
        """Delete the data, the store entry and the cookies (koa's
        ``ctx.session = null``). Writing afterwards starts a new session.
        """
        loaded = self._load()
        dict.clear(self)
        requested = self._requested
        requested.destroy = True
        if not loaded.is_new:
            requested.destroyed_id = loaded.store_id
        # What was asked of the destroyed session is void.
        requested.save = requested.regenerate = False
        scope = self._scope
        new_id = scope.new_id() if scope.store is not None else None
        self._loaded = loaded.restarted(new_id)

    def manually_commit(self) -> None:
        """With ``auto_commit=False``, make this response carry the session."""
        self._requested.manual_commit = True

    # -- Flask's SessionMixin ------------------------------------------------

    @property
    def modified(self) -> bool:
        """Whether this request changed the data (nested values included) or
        destroyed the session. Set it to ``True`` to force a save, as with
        Flask's own session.
        """
        requested, loaded = self._requested, self._loaded
        if requested.modified or loaded is None:
            return requested.modified
        if requested.destroy:
            return True
        try:
            data_json = self._data_json(payload.data_of(self))
        except (RecursionError, ValueError, TypeError):
            return True  # unlike what was loaded, which could be written
        return data_changed(loaded, data_json)

    @modified.setter
    def modified(self, value: bool) -> None:
        self._requested.modified = bool(value)
        if value:
            self._load()  # saving needs the data (and the id) to save

    @property
    def accessed(self) -> bool:
        """Whether the session was loaded during this request."""
        return self._loaded is not None

    @accessed.setter
    def accessed(self, value: bool) -> None:
        # Flask sets this whenever the ``flask.session`` proxy is touched; what
        # counts here is whether the data was read, which loading records.
        pass

    # -- the dict: every way of reading or writing the data loads it first ----

    def __getitem__(self, key: str) -> t.Any:
        if self._loaded is None:
            self._load()
        return dict.__getitem__(self, key)

    def __setitem__(self, key: str, value: t.Any) -> None:
        if self._loaded is None:
            self._load()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        if self._loaded is None:
            self._load()
        dict.__delitem__(self, key)

    def __contains__(self, key: object) -> bool:
        if self._loaded is None:
            self._load()
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        if self._loaded is None:
            self._load()
        return dict.__iter__(self)

    def __reversed__(self) -> Iterator[str]:
        if self._loaded is None:
            self._load()
        return dict.__reversed__(self)

    def __len__(self) -> int:
        if self._loaded is None:
            self._load()
        return dict.__len__(self)

    def __eq__(self, other: object) -> bool:
        if self._loaded is None:
            self._load()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        if self._loaded is None:
            self._load()
        return dict.__ne__(self, other)

    def __repr__(self) -> str:
        if self._loaded is None:
            self._load()
        return dict.__repr__(self)

    def __or__(self, other: dict[t.Any, t.Any], /) -> dict[t.Any, t.Any]:
        if self._loaded is None:
            self._load()
        return dict.__or__(self, other)

    def __ror__(self, other: dict[t.Any, t.Any], /) -> dict[t.Any, t.Any]:
        if self._loaded is None:
            self._load()
        return dict.__ror__(self, other)

    # mypy checks |= against |, whose overloads return a new dict.
    def __ior__(self, other: t.Any, /) -> t.Self:  # type: ignore[misc,override]
        if self._loaded is None:
            self._load()
        return dict.__ior__(self, other)

    def get(self, key: str, default: t.Any = None) -> t.Any:
        if self._loaded is None:
            self._load()
        return dict.get(self, key, default)

    def keys(self) -> dict_keys[str, t.Any]:
        if self._loaded is None:
            self._load()
        return dict.keys(self)

    def values(self) -> dict_values[str, t.Any]:
        if self._loaded is None:
            self._load()
        return dict.values(self)

    def items(self) -> dict_items[str, t.Any]:
        if self._loaded is None:
            self._load()
        return dict.items(self)

    def copy(self) -> dict[str, t.Any]:
        if self._loaded is None:
            self._load()
        return dict.copy(self)

    def setdefault(self, key: str, default: t.Any = None) -> t.Any:
        if self._loaded is None:
            self._load()
        return dict.setdefault(self, key, default)

    def pop(self, key: str, default: t.Any = _MISSING) -> t.Any:
        if self._loaded is None:
            self._load()
        if default is _MISSING:
            return dict.pop(self, key)
        return dict.pop(self, key, default)

    def popitem(self) -> tuple[str, t.Any]:
        if self._loaded is None:
            self._load()
        return dict.popitem(self)

    def update(self, *args: t.Any, **kwargs: t.Any) -> None:
        if self._loaded is None:
            self._load()
        dict.update(self, *args, **kwargs)

    def clear(self) -> None:
        if self._loaded is None:
            self._load()
        dict.clear(self)


def _flat_difference(
    data: dict[str, t.Any], flat: dict[str, t.Any]
) -> t.Literal["same", "changed", "texts"]:
    """How ``data`` compares with ``flat``, data as loaded whose values are
    all scalars (:data:`.codec.SCALARS`): ``"same"`` (the same keys in the
    same order, each value the same object, the usual read, or a scalar of
    the same type and value), ``"changed"`` (their texts differ), or
    ``"texts"`` when only their texts can tell (a value of another type that
    is no scalar: a ``str`` enum where a ``str`` was, say)."""
    if len(data) != len(flat):
        return "changed"
    # The usual read first, at C speed: the very objects loaded, in order.
    if all(map(operator.is_, dict.values(data), flat.values())) and all(
        map(operator.is_, dict.keys(data), flat)
    ):
        return "same"
    for (key, value), (flat_key, flat_value) in zip(
        dict.items(data), flat.items(), strict=True
    ):
        kind = type(value)
        if key != flat_key:
            # 1 where "1" was is written as the same key.
            return "changed" if type(key) is str else "texts"
        if kind is not type(flat_value):
            # Two scalar types never write the same text (1, 1.0, true, "1").
            return "changed" if kind in codec.SCALARS else "texts"
        # -0.0 == 0.0, but their texts differ.
        if value != flat_value or (kind is float and repr(value) != repr(flat_value)):
            return "changed"
    return "same"
