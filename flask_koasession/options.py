"""The extension's options, each declared once.

Every option is one field of :class:`Options`: its Python name, default,
koa-session name, check and a one-line description. That one declaration
drives the keyword arguments of ``KoaSession(...)`` and ``init_app(...)``, the
``app.config["KOA_SESSION"]`` dict, the error messages and the options table
of the documentation. Adding an option is adding a field.

Each value is checked on its own here; :mod:`.option_sources` merges the
places options come from and checks the options that depend on each other,
once, at set-up, so that a mistake raises there with a message naming the
option, the value given and what is accepted.
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
import inspect
import re
import typing as t

from . import codec
from .codec import DEFAULT_MAX_AGE, MaxAge, normalize_max_age
from .grammar import (
    COOKIE_ATTRIBUTE,
    COOKIE_NAME,
    COOKIE_OCTETS_IN_WORDS,
    MAX_PREFIX_LENGTH,
    UID_SAFE_24,
    UUID4,
    id_pattern,
    not_cookie_octets,
)

if t.TYPE_CHECKING:
    from flask import Request, Response
    from flask.sessions import SessionMixin

    from .stores.base import SessionStore

_SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}


class ExternalKey(t.Protocol):
    """Where the session id travels instead of the cookie (koa's ``externalKey``)."""

    def get(self, request: Request) -> str | None: ...

    def set(self, response: Response, key: str) -> None: ...


# -- checks ----------------------------------------------------------------------
#
# A check takes the option's Python name and the value given, and returns the
# value to keep (normalised) or raises through invalid().

Check = t.Callable[[str, t.Any], t.Any]


def invalid(
    name: str, value: object, accepted: str, kind: type[Exception] = ValueError
) -> t.NoReturn:
    """Raise the set-up error of option ``name`` given ``value``.

    :param accepted: what the option accepts, in a few words.
    :param kind: :class:`ValueError` for a value out of range,
        :class:`TypeError` for a value of the wrong type.
    """
    raise kind(f"KoaSession option {name}={value!r} is invalid: {accepted}.")


def _max_age(name: str, value: object) -> MaxAge:
    # Units follow the name: koa's maxAge counts milliseconds, max_age seconds.
    return normalize_max_age(value, name, unit="ms" if name == "maxAge" else "s")


def _boolean(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        invalid(name, value, "expected True or False", TypeError)
    return value


def _boolean_or_none(name: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        invalid(
            name, value, "expected True, False or None (None: when HTTPS)", TypeError
        )
    return value


def _cookie_name(name: str, value: object) -> str:
    accepted = "expected a cookie name: letters, digits and !#$%&'*+-.^_`|~: only"
    if not isinstance(value, str):
        invalid(name, value, accepted, TypeError)
    if not COOKIE_NAME.fullmatch(value):
        invalid(name, value, accepted)
    return value


def _attribute(name: str, value: object) -> object:
    if value is not None and (
        not isinstance(value, str) or not COOKIE_ATTRIBUTE.fullmatch(value)
    ):
        invalid(name, value, "expected a cookie attribute (no spaces or ';')")
    return value


def _same_site(name: str, value: object) -> str | None:
    # koa's cookies module: true means "strict", false no attribute.
    if value is None or value is False:
        return None
    if value is True:
        return "Strict"
    if not isinstance(value, str):
        invalid(
            name,
            value,
            "expected 'Lax', 'Strict', 'None', None, or True ('Strict') or False"
            " (None) as in koa",
            TypeError,
        )
    canonical = _SAME_SITE.get(value.lower())
    if canonical is None:
        invalid(name, value, "expected 'Lax', 'Strict' or 'None' (any case)")
    return canonical


def _string(*, optional: bool) -> Check:
    def check(name: str, value: object) -> object:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value:
            invalid(name, value, "expected a non-empty string", TypeError)
        return value

    return check


def _prefix(name: str, value: object) -> str | None:
    # Every id the default genid makes is this and a UUID4: it must be a
    # cookie value and a store key, or every session is lost or a 500.
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        invalid(name, value, "expected a non-empty string", TypeError)
    problem = not_cookie_octets(value)
    if problem is None and len(value) > MAX_PREFIX_LENGTH:
        problem = f"{len(value)} characters"
    if problem is not None:
        invalid(
            name,
            value,
            f"{problem}. The ids made from it travel in a cookie: at most"
            f" {MAX_PREFIX_LENGTH} characters (a UUID4 follows),"
            f" {COOKIE_OCTETS_IN_WORDS}",
        )
    return value


def _function(signature: str, default: t.Any = None) -> Check:
    """A function or ``None``; ``None`` gives ``default``."""

    def check(name: str, value: object) -> object:
        if value is None:
            return default
        if not callable(value):
            invalid(name, value, f"expected a function {signature} or None", TypeError)
        return value

    return check


def _methods(*methods: str) -> Check:
    """An object with these methods, or ``None``."""

    def check(name: str, value: object) -> object:
        if isinstance(value, type):
            # A class has the methods too, but they are not bound to an object.
            invalid(
                name,
                value,
                f"expected an instance, not the class: {value.__name__}()",
                TypeError,
            )
        missing = [m for m in methods if not callable(getattr(value, m, None))]
        if value is not None and missing:
            invalid(
                name,
                value,
                f"expected an object with methods {', '.join(methods)}"
                f" (missing: {', '.join(missing)})",
                TypeError,
            )
        return value

    return check


_store_object = _methods("get", "set", "destroy")


def _store(name: str, value: object) -> object:
    """A store, or a URL naming one (built once every option is checked:
    :func:`~flask_koasession.stores.store_from_url`)."""
    if isinstance(value, str):
        if not value:
            invalid(name, value, "expected a store or a store URL", TypeError)
        return value
    return _store_object(name, value)


def _compress(name: str, value: object) -> bool | str:
    if isinstance(value, bool):
        return value
    if value == "auto":
        return "auto"
    invalid(name, value, 'expected "auto", True or False', TypeError)


def _absolute_max_age(name: str, value: object) -> MaxAge | None:
    if value is None:
        return None
    if value == "session":
        invalid(name, value, "expected seconds or a datetime.timedelta, or None")
    return normalize_max_age(value, name, unit="s")


def _wire(name: str, value: object) -> str:
    if value == "koa" or value == "express-session":
        return str(value)
    invalid(name, value, 'expected "koa" or "express-session"')


def _migrate_from(name: str, value: object) -> str | None:
    if value is None or value == "flask":
        return value
    invalid(name, value, 'expected "flask" (Flask\'s built-in session) or None')


def _store_factory(name: str, value: object) -> object:
    if isinstance(value, type) and not _takes_a_request(value):
        # A store class whose constructor takes no request (MemoryStore): a
        # 500 on every request, not an error here. koa's ContextStore is a
        # class made with the context: one that takes the request is fine.
        invalid(
            name,
            value,
            f"expected store_factory(request) -> store, but the class"
            f" {value.__name__} cannot be made with the request: give"
            f" store={value.__name__}() for one store, or"
            f" store_factory=lambda request: {value.__name__}(...)",
            TypeError,
        )
    return _function("store_factory(request) -> store")(name, value)


def _takes_a_request(factory: type) -> bool:
    try:
        inspect.signature(factory).bind(None)
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): let it be
        return True
    return True


def _keys(name: str, value: object) -> tuple[str | bytes, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, t.Iterable):
        invalid(name, value, "expected a list of secret keys, newest first", TypeError)
    keys = tuple(value)
    if not keys or not all(isinstance(k, (str, bytes)) and k for k in keys):
        invalid(name, keys, "expected a non-empty list of non-empty str or bytes")
    return keys


def _digest(name: str, value: object) -> str:
    if not isinstance(value, str):
        invalid(name, value, "expected a hashlib name", TypeError)
    try:
        # Signing itself is tried, not just hashlib.new: hashlib knows hashes
        # that HMAC cannot use (shake_128, of variable output length).
        hmac.digest(b"key", b"", value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"KoaSession option {name}={value!r} is invalid: expected a hash"
            " algorithm this Python can make an HMAC with, such as 'sha1'"
            " (keygrip's default) or 'sha256'."
        ) from error
    return value


# -- the table -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Spec:
    """How one option is named, checked and documented: a field's metadata."""

    check: Check
    #: One line of reST for the options table of the documentation.
    doc: str
    #: koa-session's name; ``None`` when koa-session has no such option.
    koa: str | None
    #: How the documentation shows the default, when not as a literal.
    shown_default: str | None


#: ``koa=`` of an option whose koa name is its Python name (most of them).
_PYTHON_NAME = "(the Python name)"


def option(
    default: t.Any,
    check: Check,
    doc: str,
    *,
    koa: str | None = _PYTHON_NAME,
    shown_default: str | None = None,
) -> t.Any:
    """Declare an option: a field of :class:`Options` with its :class:`Spec`.

    :param default: the value when the option is not given.
    :param check: checks (and normalises) a value given.
    :param doc: one line of reST that says what the option means.
    :param koa: koa-session's name when it differs from the Python name;
        ``None`` when koa-session has no such option.
    :param shown_default: the default as the documentation shows it, when
        the value itself does not say it (a function, say).
    """
    spec = Spec(check, doc, koa, shown_default)
    return dataclasses.field(default=default, metadata={"spec": spec})


@dataclasses.dataclass(frozen=True)
class Options:
    """The validated options of one app. Read it from
    ``app.extensions["koasession"].options``; build it with ``parse_options()``.

    Each field is one option, declared with its default, koa-session's name,
    its check and the line that documents it.
    """

    key: str = option(
        "koa.sess",
        _cookie_name,
        'cookie name; the signature cookie is ``key + ".sig"``',
    )
    max_age: MaxAge = option(
        DEFAULT_MAX_AGE,
        _max_age,
        "seconds (``maxAge``: milliseconds), a :class:`~datetime.timedelta`, or"
        ' ``"session"`` for a browser-session cookie (see :ref:`option-max-age`)',
        koa="maxAge",
    )
    auto_commit: bool = option(
        True,
        _boolean,
        "write the session headers automatically at the end of the request",
        koa="autoCommit",
    )
    overwrite: bool = option(
        True,
        _boolean,
        "a later ``Set-Cookie`` of the same name replaces an earlier one",
    )
    http_only: bool = option(
        True,
        _boolean,
        "``HttpOnly`` attribute: scripts in the page cannot read the cookies",
        koa="httpOnly",
    )
    signed: bool = option(
        True,
        _boolean,
        "send and require the keygrip-compatible ``.sig`` cookie; ``False``"
        " lets anyone forge the session (see :ref:`option-signed`)",
    )
    rolling: bool = option(
        False,
        _boolean,
        "re-send the cookie, resetting its expiry, on every response of an"
        " existing session",
    )
    renew: bool = option(
        False, _boolean, "re-send the cookie when less than half of the max age remains"
    )
    secure: bool | None = option(
        None,
        _boolean_or_none,
        "``Secure`` attribute; ``None``: when the request is HTTPS",
    )
    same_site: str | None = option(
        None,
        _same_site,
        '``"Lax"``, ``"Strict"`` or ``"None"`` (any case; ``True`` is'
        ' ``"Strict"``, as in koa); ``None`` or ``False`` sends no ``SameSite``'
        " attribute",
        koa="sameSite",
    )
    domain: str | None = option(None, _attribute, "``Domain`` attribute")
    path: str = option("/", _attribute, "``Path`` attribute")
    partitioned: bool = option(False, _boolean, "``Partitioned`` attribute (CHIPS)")
    encode: t.Callable[[dict[str, t.Any]], str] = option(
        codec.encode,
        _function("encode(dict) -> str", codec.encode),
        "``encode(dict) -> str``: the cookie value of a session",
        shown_default="koa's base64 JSON",
    )
    decode: t.Callable[[str], t.Any] = option(
        codec.decode,
        _function("decode(str) -> dict", codec.decode),
        "``decode(str) -> dict``: the session of a cookie value",
        shown_default="koa's base64 JSON",
    )
    encrypt: bool = option(
        False,
        _boolean,
        "encrypt and authenticate the cookie value with AES-256-GCM under keys"
        " derived from the signing keys; needs ``flask-koasession[encrypt]``;"
        " cookie sessions only (see :doc:`sealed`)",
    )
    compress: bool | t.Literal["auto"] = option(
        "auto",
        _compress,
        '``"auto"``: deflate the cookie value only when it would not fit'
        " otherwise, so that a session Flask's own cookie holds fits here too;"
        " ``True``: whenever that makes it shorter; ``False``: never (see"
        " :doc:`sealed`)",
    )
    store: SessionStore | None = option(
        None,
        _store,
        "a server-side store (:doc:`stores`), or a URL naming one"
        ' (``"memory"``, ``"redis://..."``, ``"sqlite:///sessions.db"``,'
        ' ``"postgresql://..."``; see :ref:`store-from-url`); ``None``: cookie'
        " sessions",
    )
    store_factory: t.Callable[[Request], SessionStore] | None = option(
        None,
        _store_factory,
        "``store_factory(request) -> store``, called once per request",
        koa="ContextStore",
    )
    merge: bool = option(
        True,
        _boolean,
        "store mode: a save applies only this request's changes onto the entry"
        " as it is now, and never recreates one that is gone; ``False``: koa's"
        " whole-entry, last-writer-wins saves (see :doc:`concurrency`)",
        koa=None,
    )
    remove_empty: bool = option(
        True,
        _boolean,
        "remove a session that a request emptied (its cookies expired, its"
        " store entry deleted), as Flask does; ``False``: save it empty, as koa"
        " does",
        koa=None,
    )
    external_key: ExternalKey | None = option(
        None,
        _methods("get", "set"),
        "object with ``get(request) -> str | None`` and ``set(response, key)``:"
        " carry the store id somewhere other than the cookie",
        koa="externalKey",
    )
    genid: t.Callable[[Request], str] | None = option(
        None,
        _function("genid(request) -> str"),
        "``genid(request) -> str``: a new store id",
        shown_default="UUID4 string",
    )
    prefix: str | None = option(
        None,
        _prefix,
        "prepended to generated store ids (ignored with a custom ``genid``)",
    )
    valid: t.Callable[[Request, dict[str, t.Any]], bool] | None = option(
        None,
        _function("valid(request, data) -> bool"),
        "``valid(request, data) -> bool``; false gives a fresh session",
    )
    before_save: t.Callable[[Request, SessionMixin], None] | None = option(
        None,
        _function("before_save(request, session)"),
        "``before_save(request, session)``, called just before a save",
        koa="beforeSave",
    )
    keys: tuple[str | bytes, ...] | None = option(
        None,
        _keys,
        "signing keys, newest first (koa's ``app.keys``); ``None``:"
        " ``[SECRET_KEY, *SECRET_KEY_FALLBACKS]``",
    )
    digest: str = option(
        "sha1",
        _digest,
        "HMAC digest of the signature (keygrip's): a :mod:`hashlib` name HMAC can use",
    )
    flash_key: str = option(
        "flash",
        _string(optional=False),
        "session key used by :func:`~flask_koasession.set_flash` and"
        " :func:`~flask_koasession.pop_flash`",
        koa=None,
    )
    wire: t.Literal["koa", "express-session"] = option(
        "koa",
        _wire,
        '``"express-session"``: share sessions with an Express app that uses'
        " express-session and connect-redis (its ``connect.sid`` cookie, its"
        ' Redis entries; see :doc:`express`); ``"koa"``: koa-session\'s',
        koa=None,
    )
    migrate_from: t.Literal["flask"] | None = option(
        None,
        _migrate_from,
        '``"flask"``: a request with no session of ours but a valid Flask'
        " session cookie (same secret key) gets its data, saved in our format,"
        " and the old cookie expired (see :ref:`migrating <migrating-sessions>`)",
        koa=None,
    )
    user_id_key: str | None = option(
        None,
        _string(optional=True),
        'the session key that names the user (``"_user_id"`` for'
        " Flask-Login): keeps each user's sessions listed, to end them (see"
        " :doc:`users`); ``None``: off",
        koa=None,
    )
    registry: SessionStore | None = option(
        None,
        _store,
        "where ``user_id_key`` keeps its index: a store with"
        " :class:`~flask_koasession.stores.SessionIndex`, or its URL;"
        " ``None``: the session store (needed in cookie mode, see :doc:`users`)",
        koa=None,
    )
    track_ip: bool = option(
        False,
        _boolean,
        "with ``user_id_key``: keep each session's client IP address in the"
        " index (personal data: off by default)",
        koa=None,
    )
    absolute_max_age: MaxAge | None = option(
        None,
        _absolute_max_age,
        "seconds or a :class:`~datetime.timedelta`: a session ends this long"
        " after it was created, whatever ``rolling`` and ``renew`` do;"
        " ``None``: no absolute limit",
        koa=None,
    )

    def make_store(self, request: Request) -> SessionStore | None:
        """The store for this request: ``store``, or ``store_factory(request)``,
        or ``None`` in cookie mode."""
        if self.store_factory is not None:
            return self.store_factory(request)
        return self.store

    @functools.cached_property
    def id_pattern(self) -> re.Pattern[str]:
        """What a store id that comes with a request must match to be looked
        up (see :func:`.grammar.id_pattern`)."""
        if self.genid is not None:
            return id_pattern(self.prefix, None)
        made = UID_SAFE_24 if self.wire == "express-session" else UUID4
        return id_pattern(self.prefix, made)

    @property
    def default_codec(self) -> bool:
        """Whether the cookie value is koa's own base64 JSON (a fast path)."""
        return self.encode is codec.encode


@dataclasses.dataclass(frozen=True)
class OptionInfo:
    """One row of the options table."""

    name: str
    #: koa-session's name for the option, ``None`` when it has none.
    koa: str | None
    default: t.Any
    check: Check
    doc: str
    shown_default: str | None


def _row(field: dataclasses.Field[t.Any]) -> OptionInfo:
    spec: Spec = field.metadata["spec"]
    koa = field.name if spec.koa == _PYTHON_NAME else spec.koa
    return OptionInfo(
        field.name, koa, field.default, spec.check, spec.doc, spec.shown_default
    )


#: Every option, in the order of :class:`Options`.
OPTIONS: tuple[OptionInfo, ...] = tuple(map(_row, dataclasses.fields(Options)))
