"""The extension's options: one validated object, under Python and koa names.

Every option is checked once, at set-up, so that a mistake raises there with a
message naming the option, the value given and what is accepted, instead of
surfacing as a broken request later.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import functools
import re
import typing as t

from . import codec
from .signing import check_digest

if t.TYPE_CHECKING:
    from flask import Request, Response

    from .session_dict import KoaSessionDict
    from .stores.base import SessionStore

MaxAge = int | t.Literal["session"]

DEFAULT_MAX_AGE = 86_400_000
#: The longest max age (100 years): beyond it no cookie date can be written.
MAX_MAX_AGE = 100 * 365 * 86_400_000

#: koa-session's option names, mapped to ours.
KOA_NAMES = {
    "key": "key",
    "maxAge": "max_age",
    "autoCommit": "auto_commit",
    "overwrite": "overwrite",
    "httpOnly": "http_only",
    "signed": "signed",
    "rolling": "rolling",
    "renew": "renew",
    "secure": "secure",
    "sameSite": "same_site",
    "domain": "domain",
    "path": "path",
    "partitioned": "partitioned",
    "encode": "encode",
    "decode": "decode",
    "store": "store",
    "ContextStore": "store_factory",
    "externalKey": "external_key",
    "genid": "genid",
    "prefix": "prefix",
    "valid": "valid",
    "beforeSave": "before_save",
    "keys": "keys",
    "digest": "digest",
}

#: What a store id from a request may look like with a custom ``genid``:
#: printable ASCII without spaces, quotes, commas, semicolons or backslashes
#: (what a cookie value can carry unquoted), at most 255 characters.
ANY_ID = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,255}")
_UUID4 = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

_SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
# RFC 6265 token: what a cookie name may hold.
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z:]+$")
# What a path or domain attribute may hold (no separators, no controls).
_ATTRIBUTE = re.compile(r"^[\x21-\x3a\x3c-\x7e]+$")


class ExternalKey(t.Protocol):
    """Where the session id travels instead of the cookie (koa's ``externalKey``)."""

    def get(self, request: Request) -> str | None: ...

    def set(self, response: Response, key: str) -> None: ...


@dataclasses.dataclass(frozen=True)
class Options:
    """The validated options of one app. Read it from
    ``app.extensions["koasession"].options``; build it with ``parse_options()``.
    """

    key: str = "koa.sess"
    max_age: MaxAge = DEFAULT_MAX_AGE
    auto_commit: bool = True
    overwrite: bool = True
    http_only: bool = True
    signed: bool = True
    rolling: bool = False
    renew: bool = False
    secure: bool | None = None
    same_site: str | None = None
    domain: str | None = None
    path: str = "/"
    partitioned: bool = False
    encode: t.Callable[[dict[str, t.Any]], str] = codec.encode
    decode: t.Callable[[str], t.Any] = codec.decode
    store: SessionStore | None = None
    store_factory: t.Callable[[Request], SessionStore] | None = None
    external_key: ExternalKey | None = None
    genid: t.Callable[[Request], str] | None = None
    prefix: str | None = None
    valid: t.Callable[[Request, dict[str, t.Any]], bool] | None = None
    before_save: t.Callable[[Request, KoaSessionDict], None] | None = None
    keys: tuple[str | bytes, ...] | None = None
    digest: str = "sha1"
    flash_key: str = "flash"

    def make_store(self, request: Request) -> SessionStore | None:
        """The store for this request: ``store``, or ``store_factory(request)``,
        or ``None`` in cookie mode."""
        if self.store_factory is not None:
            return self.store_factory(request)
        return self.store

    @functools.cached_property
    def id_pattern(self) -> re.Pattern[str]:
        """What a store id that comes with a request must match to be looked
        up. With the default ``genid`` only ids it makes (``prefix`` and a
        UUID4) qualify, so a client-chosen id can never name another key of a
        shared Redis; a custom ``genid`` allows any id of :data:`ANY_ID`'s shape.
        """
        if self.genid is None:
            return re.compile(re.escape(self.prefix or "") + _UUID4)
        return ANY_ID

    @property
    def default_codec(self) -> bool:
        """Whether the cookie value is koa's own base64 JSON (a fast path)."""
        return self.encode is codec.encode


PYTHON_NAMES = frozenset(f.name for f in dataclasses.fields(Options))


def _fail(
    name: str, value: object, accepted: str, kind: type = ValueError
) -> t.NoReturn:
    raise kind(f"KoaSession option {name}={value!r} is invalid: {accepted}.")


def normalize_max_age(value: object, name: str = "max_age") -> MaxAge:
    """Return a max age as whole milliseconds, or ``"session"``.

    :raise TypeError: for a value that is neither a number, a timedelta nor
        ``"session"``.
    :raise ValueError: for a max age that is not positive.
    """
    accepted = (
        f"expected milliseconds (0 < int <= {MAX_MAX_AGE}, 100 years),"
        ' a datetime.timedelta or "session"'
    )
    if value == "session":
        return "session"
    if isinstance(value, datetime.timedelta):
        value = int(value.total_seconds() * 1000)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(name, value, accepted, TypeError)
    if not 0 < value <= MAX_MAX_AGE:
        _fail(name, value, accepted)
    return value


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        _fail(name, value, "expected True or False", TypeError)


def _check_callable(name: str, value: object, signature: str) -> None:
    if value is not None and not callable(value):
        _fail(name, value, f"expected a function {signature} or None", TypeError)


def _check_methods(name: str, value: object, methods: t.Sequence[str]) -> None:
    missing = [m for m in methods if not callable(getattr(value, m, None))]
    if value is not None and missing:
        _fail(
            name,
            value,
            f"expected an object with methods {', '.join(methods)}"
            f" (missing: {', '.join(missing)})",
            TypeError,
        )


def _check_string(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        _fail(name, value, "expected a non-empty string", TypeError)


def _canonical_name(name: str) -> str:
    if name in PYTHON_NAMES:
        return name
    if name in KOA_NAMES:
        return KOA_NAMES[name]
    known = sorted(PYTHON_NAMES | set(KOA_NAMES))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"Unknown KoaSession option {name!r}.{hint} Known options: {', '.join(known)}."
    )


def _canonical(source: t.Mapping[str, t.Any], where: str) -> dict[str, t.Any]:
    result: dict[str, t.Any] = {}
    for name, value in source.items():
        canonical = _canonical_name(name)
        if canonical in result:
            raise ValueError(
                f"KoaSession option {canonical!r} is given twice in {where}"
                f" (as {canonical!r} and a koa alias); give it once."
            )
        result[canonical] = value
    return result


def check_options(*sources: tuple[t.Mapping[str, t.Any], str]) -> dict[str, t.Any]:
    """Merge option sources (later ones win) and check each option on its own.

    Options that depend on each other are left to :func:`parse_options`: they
    may come from different places (``KoaSession(...)``, ``init_app``).

    :param sources: ``(mapping, description)`` pairs, lowest priority first;
        the description names the source in error messages.
    :return: the options under their Python names, values normalised.
    :raise ValueError: for an unknown option or a value out of range.
    :raise TypeError: for a value of the wrong type.
    """
    merged: dict[str, t.Any] = {}
    for mapping, where in sources:
        if not isinstance(mapping, t.Mapping):
            raise TypeError(f"{where} must be a dict of options, got {mapping!r}.")
        merged.update(_canonical(mapping, where))
    _check_each(merged)
    return merged


def parse_options(*sources: tuple[t.Mapping[str, t.Any], str]) -> Options:
    """Merge every option source of an app and validate the whole.

    :param sources: as for :func:`check_options`.
    :raise ValueError: for an unknown option, a value out of range or options
        that exclude or need each other.
    :raise TypeError: for a value of the wrong type.
    """
    merged = check_options(*sources)
    _check_together(merged)
    return Options(**merged)


def _check_each(values: dict[str, t.Any]) -> None:
    """Check every option on its own, normalising values in place."""
    if "max_age" in values:
        values["max_age"] = normalize_max_age(values["max_age"])
    for name in (
        "auto_commit",
        "overwrite",
        "http_only",
        "signed",
        "rolling",
        "renew",
        "partitioned",
    ):
        if name in values:
            _check_bool(name, values[name])
    if values.get("secure") is not None:
        _check_bool("secure", values["secure"])
    _check_key(values.get("key", "koa.sess"))
    _check_same_site(values)
    for name in ("domain", "path"):
        value = values.get(name)
        if value is not None and (
            not isinstance(value, str) or not _ATTRIBUTE.match(value)
        ):
            _fail(name, value, "expected a cookie attribute (no spaces or ';')")
    _check_string("prefix", values.get("prefix"), optional=True)
    _check_string("flash_key", values.get("flash_key", "flash"), optional=False)
    _check_callable("encode", values.get("encode"), "encode(dict) -> str")
    _check_callable("decode", values.get("decode"), "decode(str) -> dict")
    _check_callable("genid", values.get("genid"), "genid(request) -> str")
    _check_callable("valid", values.get("valid"), "valid(request, data) -> bool")
    _check_callable(
        "before_save", values.get("before_save"), "before_save(request, session)"
    )
    _check_callable(
        "store_factory", values.get("store_factory"), "store_factory(request) -> store"
    )
    _check_methods("store", values.get("store"), ("get", "set", "destroy"))
    _check_methods("external_key", values.get("external_key"), ("get", "set"))
    for name in ("encode", "decode"):
        if values.get(name) is None:
            values.pop(name, None)
    _check_keys(values)
    if "digest" in values:
        if not isinstance(values["digest"], str):
            _fail("digest", values["digest"], "expected a hashlib name", TypeError)
        check_digest(values["digest"])


def _check_together(values: dict[str, t.Any]) -> None:
    """Check the options that depend on each other."""
    if values.get("store") is not None and values.get("store_factory") is not None:
        raise ValueError(
            "KoaSession options store and store_factory (ContextStore) exclude each"
            " other: give one."
        )
    if values.get("external_key") is not None and not (
        values.get("store") is not None or values.get("store_factory") is not None
    ):
        raise ValueError(
            "KoaSession option external_key needs a store: the external key is a"
            " store id. Add store=... (or store_factory=...)."
        )


def _check_key(value: object) -> None:
    if not isinstance(value, str) or not _COOKIE_NAME.match(value):
        _fail(
            "key",
            value,
            "expected a cookie name: letters, digits and !#$%&'*+-.^_`|~: only",
        )


def _check_same_site(values: dict[str, t.Any]) -> None:
    value = values.get("same_site")
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, str):
        _fail("same_site", value, "expected 'Lax', 'Strict', 'None' or None", TypeError)
    canonical = _SAME_SITE.get(value.lower())
    if canonical is None:
        _fail("same_site", value, "expected 'Lax', 'Strict' or 'None' (any case)")
    values["same_site"] = canonical


def _check_keys(values: dict[str, t.Any]) -> None:
    keys = values.get("keys")
    if keys is None:
        return
    if isinstance(keys, (str, bytes)) or not isinstance(keys, t.Iterable):
        _fail("keys", keys, "expected a list of secret keys, newest first", TypeError)
    keys = tuple(keys)
    if not keys or not all(isinstance(k, (str, bytes)) and k for k in keys):
        _fail("keys", keys, "expected a non-empty list of non-empty str or bytes")
    values["keys"] = keys
