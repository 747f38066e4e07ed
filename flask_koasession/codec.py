"""koa-session's payload and its codec: base64 of ``JSON.stringify(payload)``.

A payload is the session's data followed by koa's bookkeeping fields:
``_expire`` (epoch milliseconds) and ``_maxAge``, or ``"_session": true`` for
a browser-session cookie (see :data:`MaxAge`). Payloads holding tagged
values also carry ``"_tagged": true``. Those keys are never session data.

Plain JSON data is written byte for byte as koa writes it (compact separators,
non-ASCII raw, keys in insertion order). Values that JSON cannot hold (tuples,
bytes, datetimes, UUIDs, Markup) are written with Flask's tagged-JSON markers, so
Flask apps keep their types while koa sees ordinary JSON objects.

Such payloads also carry ``"_tagged": true``, and only payloads that carry it
are untagged when read. koa-session drops keys starting with ``_`` whenever it
writes, so data a Koa app wrote (perhaps JSON a client sent it) is always read
as plain JSON: ``{" m": "<script>"}`` from a Koa app never becomes ``Markup``.

Tags are trusted only in data that nobody else can write: signed cookies and
store entries. An unsigned cookie can be forged, so it is written and read
with ``tag=False`` / ``untag=False``: plain JSON both ways.

What a store or a custom cookie codec needs is public (``__all__``):
:func:`dumps_json` and :func:`decode_payload` for a store's text,
:func:`encode` and :func:`decode` for a cookie value, :func:`loads_json`.
"""

from __future__ import annotations

import binascii
import dataclasses
import datetime
import decimal
import json
import math
import re
import time
import typing as t

from flask.json.tag import TaggedJSONSerializer
from werkzeug.http import http_date

__all__ = ["decode", "decode_payload", "dumps_json", "encode", "loads_json"]

#: Written into a payload whose values were tagged: only those are untagged.
TAGGED = "_tagged"
#: koa's bookkeeping keys (and ``_tagged``): written anew by every save.
#: Where a regenerated session moved (merging's marker, never a session).
MOVED_KEY = "_movedTo"
BOOKKEEPING_KEYS = frozenset(("_expire", "_maxAge", "_session", TAGGED, MOVED_KEY))
#: When the session was created (epoch ms), written with ``absolute_max_age``
#: or ``user_id_key``. Not ``_``-prefixed: a Koa app that rewrites the
#: session keeps it, so it cannot extend the session's life silently.
CREATED_KEY = "$created"
#: The session's handle in the user index (``user_id_key``): opaque, never
#: its id.
HANDLE_KEY = "$handle"
#: The session's own keys, kept across saves (merged like data).
TRACKING_KEYS = frozenset((CREATED_KEY, HANDLE_KEY))
#: Keys that are never session data: a view never sees them.
RESERVED_KEYS = BOOKKEEPING_KEYS | TRACKING_KEYS

_tagger = TaggedJSONSerializer()
_TAG_KEYS = frozenset(_tagger.tags)
#: JSON's scalar types (not their subclasses): written as they are, untagged,
#: and no code can change one in place.
SCALARS = frozenset((str, int, float, bool, type(None)))
_STR = frozenset((str,))


def _as_flask_writes(value: t.Any) -> t.Any:
    """A value that neither JSON nor Flask's tags hold, as Flask's own session
    writes it (``flask.json.provider.DefaultJSONProvider``): a ``date`` as an
    HTTP date, a ``Decimal`` as its text, a dataclass as a dict. What Flask's
    session stores, this one does. (The tagged types, datetimes and UUIDs
    among them, stay an error where tags are off: see :func:`dumps_json`.)
    """
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return http_date(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_encoder = json.JSONEncoder(
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
    default=_as_flask_writes,
)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> t.NoReturn:
    # JSON.parse rejects NaN and Infinity; so do we.
    raise ValueError(f"{name} is not valid JSON")


def _untag(obj: dict[str, t.Any]) -> t.Any:
    if len(obj) == 1:
        key = next(iter(obj))
        if key in _TAG_KEYS:
            try:
                return _tagger.tags[key].to_python(obj[key])
            except Exception:  # a forged or damaged marker: keep it as data
                return obj
    return obj


_plain_decoder = json.JSONDecoder(parse_constant=_reject_constant)
_tag_decoder = json.JSONDecoder(object_hook=_untag, parse_constant=_reject_constant)


def to_json_ready(value: t.Any) -> t.Any:
    """Return ``value`` with non-JSON values replaced by tagged markers.

    Plain JSON structures are returned as the same objects (no copy), so the
    common case costs one walk and no allocation.
    """
    kind = type(value)
    if kind in SCALARS:
        return value
    if kind is dict or isinstance(value, dict):  # the session is a dict subclass
        if len(value) == 1 and next(iter(value)) in _TAG_KEYS:
            return _tagger.tag(value)  # escape a dict that looks like a marker
        return _dict_ready(value)
    if kind is list:
        if all(type(item) in SCALARS for item in value):
            return value
        items = [to_json_ready(item) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items
    return _tagger.tag(value)


#: What :func:`data_shape` finds.
DataShape = t.Literal["flat", "nested", "unwritable"]


def data_shape(data: dict[str, t.Any]) -> DataShape:
    """``"flat"`` when every key of ``data`` is a ``str`` and every value a
    JSON scalar (:data:`SCALARS`); ``"unwritable"`` when such a value is a
    float JSON has no form for (infinite or NaN); ``"nested"`` otherwise
    (a custom ``decode`` may also give keys of other types, which only
    serializing tells apart).
    """
    # The types at C speed: 0.2 µs against 0.6 for a loop in Python.
    types = set(map(type, data.values()))
    if not types <= SCALARS or not set(map(type, data)) <= _STR:
        return "nested"
    if float in types and not all(
        math.isfinite(value) for value in data.values() if type(value) is float
    ):
        return "unwritable"
    return "flat"


def _dict_ready(value: dict[t.Any, t.Any]) -> dict[t.Any, t.Any]:
    out: dict[t.Any, t.Any] | None = None
    # dict.items: the session subclass's own items() goes through a wrapper.
    for key, item in dict.items(value):
        # Scalars, the usual case, are checked here without a call.
        ready = item if type(item) in SCALARS else to_json_ready(item)
        if ready is not item and out is None:
            out = dict(dict.items(value))
        if out is not None:
            out[key] = ready
    return value if out is None else out


def dumps_json(payload: dict[str, t.Any], *, tag: bool = True) -> str:
    """Serialize a payload like ``JSON.stringify``, tagging values JSON cannot
    hold; a payload with tagged values gets ``"_tagged": true`` at its end.

    The payload itself is never escaped as a whole: it always holds more than
    a marker's single key once koa's bookkeeping is added.

    :param tag: ``False`` for a payload that will be read back without
        untagging (an unsigned cookie): nothing is tagged, tuples become
        arrays as :func:`json.dumps` writes them, and other values JSON
        cannot hold raise :class:`TypeError`.
    :raise TypeError: for a value that neither JSON nor the tags can hold.
    :raise ValueError: for ``NaN`` or infinities, which JSON has no form for.
    """
    # The walk runs with tag=False too, so that both bound nesting alike.
    ready = _dict_ready(payload)
    if ready is not payload:
        if tag:
            ready[TAGGED] = True
        else:
            ready = payload
    text = _encoder.encode(ready)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be written raw: JSON.stringify escapes it,
        # and only it, as \uXXXX. Pairs of surrogates are joined first.
        text = text.encode("utf-16-le", "surrogatepass").decode(
            "utf-16-le", "surrogatepass"
        )
        text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def loads_json(text: str, *, untag: bool = True) -> t.Any:
    """Parse like ``JSON.parse``; restore tagged values in a payload that
    carries ``"_tagged": true`` (and drop that key).

    :param untag: ``False`` for text anyone could have written (an unsigned
        cookie): it is read as plain JSON, whatever it carries.
    :raise ValueError: for text that is not JSON (or nests too deeply).
    """
    try:
        value = _parse(_plain_decoder, text)
        if untag and isinstance(value, dict) and value.get(TAGGED) is True:
            value = _parse(_tag_decoder, text)
            del value[TAGGED]
    except RecursionError as error:
        raise ValueError("JSON nests too deeply") from error
    return value


def _parse(decoder: json.JSONDecoder, text: str) -> t.Any:
    # raw_decode, the C scanner alone, measured 0.5 µs against 0.9 for
    # decode(), which matches whitespace around it with two regexes. Text it
    # does not take whole (whitespace around, garbage, not JSON) goes to
    # decode(), which judges it as JSON.parse does.
    try:
        value, end = decoder.raw_decode(text)
    except ValueError:
        return decoder.decode(text)
    return value if end == len(text) else decoder.decode(text)


def decode_payload(text: str | bytes) -> dict[str, t.Any] | None:
    """Parse a stored JSON text; ``None`` when it is not a session payload.

    For stores: a damaged or foreign entry reads as "no session", as in
    koa-redis (which swallows ``JSON.parse`` errors), rather than failing
    every request that carries its id. That covers any failure of the
    decoding, not only text that is not JSON: a tagged marker with a value of
    the wrong type (e.g. ``{" t": 5}`` or ``{" b": 5}``, written by something
    other than this package) makes Flask's tag classes raise ``TypeError``,
    ``AttributeError`` or others. Bytes are decoded as UTF-8 with U+FFFD for
    invalid sequences, as Node's ``buffer.toString()`` does.

    :param text: the stored value.
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        payload = loads_json(text)
    except Exception:  # whatever failed, this is not a session
        return None
    return payload if isinstance(payload, dict) else None


_URLSAFE = str.maketrans("-_", "+/")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")


def b64decode_lenient(value: str) -> bytes:
    """Decode base64 as Node's ``Buffer.from(value, "base64")`` does.

    Both alphabets are accepted, padding may be missing and characters outside
    the alphabet are skipped; this never raises.
    """
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    cleaned = _NOT_BASE64.sub("", value.split("=", 1)[0].translate(_URLSAFE))
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]  # a lone trailing sextet carries no whole byte
    cleaned += "=" * (-len(cleaned) % 4)
    return binascii.a2b_base64(cleaned)


def encode(payload: dict[str, t.Any]) -> str:
    """koa-session's default ``encode``: base64 of the JSON text."""
    return encode_text(dumps_json(payload))


def encode_text(json_text: str) -> str:
    """Base64 of the UTF-8 bytes of already serialized JSON."""
    return binascii.b2a_base64(json_text.encode("utf-8"), newline=False).decode("ascii")


def decode(value: str, *, untag: bool = True) -> t.Any:
    """koa-session's default ``decode``: lenient base64, then ``JSON.parse``.

    Invalid UTF-8 becomes U+FFFD, as in Node.

    :param untag: as for :func:`loads_json`.
    :raise ValueError: when the text is not JSON.
    """
    text = b64decode_lenient(value).decode("utf-8", "replace")
    return loads_json(text, untag=untag)


# -- max age and bookkeeping ---------------------------------------------------

#: A session's max age: how long it lasts after its last save, in
#: milliseconds as koa counts it, or ``"session"`` for a cookie without an
#: expiry that the browser drops when it closes.
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


#: Browsers keep a cookie 400 days at most (RFC 6265bis): a longer max age
#: given as a number can only be a slip of units.
MAX_COOKIE_DAYS = 400
_DAY_MS = 86_400_000
#: The names a max age is given under, with the unit each counts in.
_UNITS = {"s": ("seconds", 1000), "ms": ("milliseconds", 1)}


def normalize_max_age(
    value: object, name: str = "max_age", *, unit: t.Literal["s", "ms"] = "s"
) -> MaxAge:
    """Return a max age as whole milliseconds (koa's wire unit), or ``"session"``.

    Units follow the name: Python's names (``max_age``, ``session.max_age``)
    count in seconds, koa's (``maxAge``) in milliseconds; both take a
    :class:`~datetime.timedelta`.

    :param value: a number in ``unit``, a :class:`~datetime.timedelta` or
        ``"session"``.
    :param name: what to call it in an error message.
    :param unit: ``"s"`` or ``"ms"``: what a number counts.
    :raise TypeError: for a value that is neither a number, a timedelta nor
        ``"session"``.
    :raise ValueError: for a max age under a millisecond, over 100 years, or
        a number of seconds over 400 days (milliseconds given as seconds: the
        message names koa's spelling).
    """
    words, factor = _UNITS[unit]
    if value == "session":
        return "session"
    if isinstance(value, datetime.timedelta):
        ms = value / datetime.timedelta(milliseconds=1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ms = value * factor
        # Milliseconds given as seconds make a huge max age, never the reverse.
        if unit == "s" and math.isfinite(ms) and ms > MAX_COOKIE_DAYS * _DAY_MS:
            raise ValueError(
                f"KoaSession option {name}={value!r} is {ms / _DAY_MS:,.0f} days,"
                f" longer than the {MAX_COOKIE_DAYS} days browsers keep a cookie:"
                f" {name} counts seconds, as Python does (a day is 86_400). If you"
                f" meant milliseconds, as in koa, write maxAge={value!r}; for a long"
                " life give a datetime.timedelta."
            )
    else:
        raise TypeError(
            f"KoaSession option {name}={value!r} is invalid: expected {words}"
            ' (int or float), a datetime.timedelta or "session".'
        )
    if not (math.isfinite(ms) and 1 <= ms <= MAX_MAX_AGE):
        raise ValueError(
            f"KoaSession option {name}={value!r} is invalid: expected a max age"
            f" of at least a millisecond and at most 100 years, in {words} or as"
            " a datetime.timedelta."
        )
    return int(ms)


def now_ms() -> int:
    """The time as koa's ``Date.now()`` gives it: epoch milliseconds."""
    return int(time.time() * 1000)


def data_of(session: dict[str, t.Any]) -> dict[str, t.Any]:
    """The data to save of a session: every key but the bookkeeping ones.

    The session itself when it holds none of them (the usual case: no copy).
    """
    # dict.keys: the session's own keys() is a Python method.
    keys = dict.keys(session)
    if RESERVED_KEYS.isdisjoint(keys):
        return session
    return {k: v for k, v in session.items() if k not in RESERVED_KEYS}


def dumps_data(data: dict[str, t.Any], *, trusted: bool) -> str:
    """The text of session data, as it is compared and saved.

    Tagged values (tuples, bytes, datetimes, Markup) are kept only where
    nobody else can have written the data (``trusted``: a signed cookie or a
    store entry). Anyone can forge an unsigned cookie, so it is plain JSON
    both ways, and a value JSON cannot hold is an error there.

    :raise TypeError: for a value that cannot be saved.
    :raise ValueError: for ``NaN`` or infinities.
    """
    if trusted:
        return dumps_json(data)
    try:
        return dumps_json(data, tag=False)
    except TypeError as error:
        raise TypeError(
            f"{error}. With signed=False the session cookie holds plain JSON"
            " only: anyone can forge an unsigned cookie, so its data is never"
            " turned back into Python types. Keep JSON values in the session"
            " (str, int, float, bool, None, lists, dicts; tuples become"
            " lists), or sign the cookie (signed=True), or use a store."
        ) from error


def is_number(value: object) -> bool:
    """Whether ``value`` is a JSON number (``bool`` is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def stored_max_age(payload: t.Mapping[str, t.Any], default: MaxAge) -> MaxAge | None:
    """The max age a payload carries (koa restores it per session).

    :param default: the configured max age, for a payload without ``_maxAge``.
    :return: the max age, or ``None`` when the payload's bookkeeping is
        damaged (a ``_maxAge`` that is no max age).
    """
    if payload.get("_session") is True:
        return "session"
    stored = payload.get("_maxAge")
    if stored is None:
        return default
    if is_number(stored) and 1 <= stored <= MAX_MAX_AGE:
        return int(stored)
    return None


def bookkeeping(max_age: MaxAge, now: int) -> dict[str, t.Any]:
    """The fields koa-session appends to a payload saved ``now`` with this
    max age."""
    if max_age == "session":
        return {"_session": True}
    return {"_expire": now + max_age, "_maxAge": max_age}


def append_bookkeeping(data_json: str, extra: dict[str, t.Any]) -> str:
    """Append bookkeeping fields to serialized data without serializing twice.

    ``data_json`` is the text of a JSON object; the result is the text of that
    object with ``extra``'s fields added at the end, as ``JSON.stringify``
    writes ``{...data, ...extra}``.
    """
    if len(extra) == 2 and "_expire" in extra:  # the usual: formatted fast
        tail = f'"_expire":{extra["_expire"]},"_maxAge":{extra["_maxAge"]}}}'
    else:
        tail = dumps_json(extra)[1:]
    if data_json == "{}":
        return "{" + tail
    return data_json[:-1] + "," + tail
