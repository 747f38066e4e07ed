"""The save decision: whether a session is saved, and why.

A pure function of what came in (:class:`Loaded`), what the view asked
(:class:`Requested`), how the data changed (:func:`detect_change`, the one
place changes are found), the options and the time. It mirrors koa-session's
``commit()`` and ``_shouldSaveSession()`` and returns the same named reasons,
which the signals and the store's ``changed`` flag use.
"""

from __future__ import annotations

import operator
import typing as t

from .codec import SCALARS, MaxAge, dumps_data, dumps_json

if t.TYPE_CHECKING:
    from .cookies import SignatureState
    from .options import Options

#: Why a session is saved: ``"force"`` (the view asked: ``save()``,
#: ``regenerate()``, a new ``max_age``, ``modified = True``; or the cookie was
#: signed or sealed with an older key), ``"changed"`` (the data changed),
#: ``"rolling"`` or ``"renew"`` (an unchanged session re-sent to push its
#: expiry), or ``None``: not saved.
Reason = t.Literal["force", "changed", "rolling", "renew"] | None


class Loaded(t.NamedTuple):
    """What came with the request, as loading found it.

    The data as it was loaded is kept as :attr:`flat` when every value is a
    scalar, which no request can change in place; otherwise as its text,
    :attr:`data_json`, since a view may change nested values in place. A
    change is found by comparing either with the data at the end of the
    request (koa's ``prevHash``); :meth:`text` gives the text in both cases.
    Flat data, the usual case, is not serialized at all by a request that
    does not change it.

    (A named tuple: immutable, and the cheapest record to make on every
    request that reads its session.)
    """

    #: No session came with the request (or none survived the checks).
    is_new: bool
    #: The session's max age: the one it was saved with (``_maxAge``), or the
    #: configured one for a new session.
    max_age: MaxAge
    #: Store mode: the id the session lives under, the one it came with or,
    #: for a new session, a new one (koa's ``externalKey``). Cookie mode:
    #: ``None``.
    store_id: str | None = None
    #: The data as loaded, serialized, when it holds nested values; ``None``
    #: for a new session or flat data.
    data_json: str | None = None
    #: When the session expires (its ``_expire``, epoch ms), if it says.
    expire: float | None = None
    #: What the cookie's signature said (see :data:`.cookies.SignatureState`);
    #: also ``"rotated"`` when its value was sealed under an older key.
    signature: SignatureState = "ok"
    #: Store mode with merged saves: the version of the entry, as the store's
    #: :meth:`~flask_koasession.stores.ConditionalStore.get_entry` gave it (for
    #: the built-in stores, its text as stored). The save writes only onto
    #: that version, or merges onto what replaced it. ``None`` otherwise.
    version: t.Any = None
    #: The data as loaded when every value is a ``str``, ``int``, ``float``,
    #: ``bool`` or ``None``: a private copy, never changed. ``None`` for a new
    #: session or nested data.
    flat: dict[str, t.Any] | None = None
    #: When the session was created (its ``$created``, epoch ms), if it says.
    created: float | None = None
    #: With ``user_id_key``: the user the session carried (as a ``str``) and
    #: its handle in the user index, if any.
    user: str | None = None
    handle: str | None = None

    def text(self) -> str | None:
        """The data as loaded, serialized as a save writes it (the same text
        as :func:`~flask_koasession.codec.dumps_json`); ``None`` for a new
        session."""
        if self.flat is not None:
            return dumps_json(self.flat)
        return self.data_json

    def restarted(self, store_id: str | None) -> Loaded:
        """The record of a new session started in place of this one
        (``destroy()``): the same max age and signature state, no data.

        :param store_id: the new session's store id (``None`` in cookie mode).
        """
        return self._replace(
            is_new=True,
            store_id=store_id,
            data_json=None,
            expire=None,
            version=None,
            flat=None,
            created=None,
            user=None,
            handle=None,
        )


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
    #: ``destroy()`` of a session in the user index: its user and handle,
    #: ended at the commit.
    ended: tuple[str, str] | None = None

    @property
    def asked_to_save(self) -> bool:
        """Whether the view asked for a save (``save()``, ``regenerate()``,
        ``modified = True``, a new max age)."""
        return self.save or self.regenerate or self.modified


class Change(t.NamedTuple):
    """How the data at the end of a request compares with the data as loaded."""

    #: Whether they differ, as koa finds it: their texts differ (``{}`` is
    #: the text of a new session).
    changed: bool
    #: The data's text (:func:`~flask_koasession.codec.dumps_data`), when
    #: finding the change made it; ``None`` when flat data was found the same
    #: without serializing it.
    text: str | None


def detect_change(loaded: Loaded, data: dict[str, t.Any], *, trusted: bool) -> Change:
    """Compare the data at the end of the request with the data as loaded.

    Flat data as loaded (:attr:`Loaded.flat`) is compared value by value, by
    type and value as JSON writes them (``1`` is not ``1.0``): an unchanged
    session is never serialized, and a changed one only once, to be saved.
    Other data is compared by its text.

    :param trusted: as for :func:`~flask_koasession.codec.dumps_data`.
    :raise TypeError: for a value that cannot be saved.
    :raise ValueError: for ``NaN`` or infinities.
    """
    flat = loaded.flat
    if flat is None:
        text = dumps_data(data, trusted=trusted)
        return Change(text != (loaded.data_json or "{}"), text)
    difference = _flat_difference(data, flat)
    if difference == "same":
        return Change(False, None)
    text = dumps_data(data, trusted=trusted)
    # Only the texts could tell (a str enum where a str was): the same text
    # is no change, as koa would find it.
    return Change(difference == "changed" or text != loaded.text(), text)


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
            return "changed" if kind in SCALARS else "texts"
        # -0.0 == 0.0, but their texts differ.
        if value != flat_value or (kind is float and repr(value) != repr(flat_value)):
            return "changed"
    return "same"


def decide(
    loaded: Loaded,
    requested: Requested,
    change: Change,
    options: Options,
    now: int,
) -> Reason:
    """koa's save decision for one request, as a named reason.

    :param loaded: what came with the request.
    :param requested: what the view asked of the session.
    :param change: how the data changed (:func:`detect_change`).
    :param options: the app's options (``rolling`` and ``renew``).
    :param now: the time, in epoch milliseconds.
    """
    resign = loaded.signature == "rotated" and not loaded.is_new
    if requested.asked_to_save or resign:
        return "force"
    if change.changed:
        return "changed"
    if loaded.is_new:
        return None  # new and not populated
    if options.rolling:
        return "rolling"
    if options.renew and _half_expired(loaded, now):
        return "renew"
    return None


def _half_expired(loaded: Loaded, now: int) -> bool:
    # koa renews once less than half of the max age is left.
    max_age = loaded.max_age
    if not loaded.expire or not isinstance(max_age, int):
        return False
    return loaded.expire - now < max_age / 2
