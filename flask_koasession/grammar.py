"""What cookies and store ids may hold: the grammar every module checks against.

A leaf module: the options check values with it at set-up, the cookies and
the store ids at run time, and each names the same characters in its errors.
"""

from __future__ import annotations

import re

#: RFC 6265 cookie-octets, as a character class: what a cookie value can carry
#: so that every parser reads it back (Werkzeug 3.1.9+ drops a value with
#: spaces or quotes).
COOKIE_OCTET = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]"
_COOKIE_OCTETS = re.compile(COOKIE_OCTET + "+")
_NOT_COOKIE_OCTET = re.compile(r"[^\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]")

#: What a cookie value may hold, in words, for error messages.
COOKIE_OCTETS_IN_WORDS = (
    "ASCII letters, digits and !#$%&'()*+-./:<=>?@[]^_`{|}~, no spaces, double"
    " quotes, commas, semicolons, backslashes, controls or non-ASCII characters"
)

#: RFC 6265 token: what a cookie name may hold. (Matched with fullmatch: "$"
#: would let a final newline through, and every write would fail.)
COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z:]+")
#: What a path or domain attribute may hold (no separators, no controls).
COOKIE_ATTRIBUTE = re.compile(r"[\x21-\x3a\x3c-\x7e]+")

#: The prefix of the store keys that say where a regenerated session moved.
MOVED_PREFIX = "moved:"
#: The longest store id: what a SQL store's id column holds.
MAX_ID_LENGTH = 255
#: What a store id from a request may look like with a custom ``genid``:
#: cookie-octets (what a cookie value can carry unquoted), 1 to 255 of them.
#: Never ``moved:...``: those keys hold where a regenerated session went
#: (:func:`flask_koasession.merging.moved_key`), never a session.
ANY_ID = re.compile(f"(?!{MOVED_PREFIX}){COOKIE_OCTET}{{1,{MAX_ID_LENGTH}}}")
#: A UUID4 as :func:`uuid.uuid4` writes it: the default ``genid``'s ids.
UUID4 = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
#: An id of express-session's ``uid-safe(24)``: 32 base64url characters.
UID_SAFE_24 = "[A-Za-z0-9_-]{32}"
#: The longest ``prefix``: with a 36-character UUID4 it makes the longest id.
MAX_PREFIX_LENGTH = MAX_ID_LENGTH - 36


def not_cookie_octets(value: str) -> str | None:
    """Why ``value`` is no cookie value that every parser reads back, in a
    few words, or ``None`` when it is one."""
    if _COOKIE_OCTETS.fullmatch(value):
        return None
    bad = _NOT_COOKIE_OCTET.search(value)
    if bad is None:
        return "an empty value, which deletes the cookie"
    return f"character {bad.group()!r} at position {bad.start()} of {value!r:.60}"


def id_pattern(prefix: str | None, made: str | None) -> re.Pattern[str]:
    """What a store id that comes with a request must match to be looked up.

    With the default ``genid`` only ids it makes (``prefix`` and ``made``: a
    UUID4, or express-session's) qualify, so a client-chosen id can never
    name another key of a shared Redis; a custom ``genid`` allows any id of
    :data:`ANY_ID`'s shape.

    :param made: the pattern of the default ids; ``None`` with a custom
        ``genid``.
    """
    if made is not None:
        return re.compile(re.escape(prefix or "") + made)
    return ANY_ID
