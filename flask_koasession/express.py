"""express-session's wire (``wire="express-session"``), with connect-redis.

A Flask app and an Express app that share their secrets and their Redis
share their sessions: what this module declares is everything in which that
wire differs from koa's, and nothing else in the package knows of it.

- **The id cookie** (:class:`ExpressSigner`): ``connect.sid`` holds
  ``s:`` + id + ``.`` + the base64 HMAC-SHA256 of the id under the first
  secret, without ``=`` padding (``cookie-signature``), URL-encoded; every
  secret verifies. No ``.sig`` cookie.
- **Ids** (:func:`new_id`): ``uid-safe``'s, 24 random bytes in base64url,
  32 characters.
- **Entries** (:class:`ExpressPayloads`): connect-redis's ``sess:<id>``,
  the session as JSON with its ``cookie`` object first
  (``originalMaxAge``, ``expires`` in ISO 8601, ``httpOnly``, ``path``...),
  in Redis for as long as the cookie lives (a day for a browser-session
  cookie). Inside, the package keeps koa's payload: the conversion happens
  here, at the store's edge.

:data:`DEFAULTS` are the options the wire changes, unless given.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import math
import os
import re
import typing as t
from urllib.parse import quote, unquote

from .codec import decode_payload, dumps_json, is_number, now_ms
from .cookies import SignedCookie, request_cookies
from .stores.redis import RedisStore

if t.TYPE_CHECKING:
    from flask import Request

    from .codec import MaxAge
    from .options import Options

#: The options ``wire="express-session"`` sets unless they are given.
DEFAULTS: dict[str, t.Any] = {"key": "connect.sid"}
#: connect-redis's key prefix.
PREFIX = "sess:"
#: connect-redis's time to live of an entry whose cookie has no expiry.
SESSION_TTL = 86_400
#: What an id from ``uid-safe`` (24 bytes) looks like.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")


def new_id() -> str:
    """A new session id, as express-session's ``uid-safe(24)`` makes it."""
    return base64.urlsafe_b64encode(os.urandom(24)).decode("ascii")


class ExpressSigner:
    """Signs a session id into its cookie value, as express-session does with
    ``cookie-signature``: the first secret signs, every one verifies.

    :param keys: the secrets, newest first.
    :param digest: unused: express-session signs with SHA-256.
    """

    def __init__(self, keys: t.Sequence[str | bytes], digest: str = "sha256") -> None:
        if not keys:
            raise ValueError("ExpressSigner needs at least one secret.")
        self.keys = [k.encode("utf-8") if isinstance(k, str) else k for k in keys]

    def _sign(self, key: bytes, value: str) -> str:
        mac = hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()
        return value + "." + base64.b64encode(mac).decode("ascii").rstrip("=")

    def read(self, request: Request, name: str) -> SignedCookie:
        """The id in the cookie ``name``: ``s:`` and a signature one of the
        secrets made, as ``cookie-signature``'s ``unsign`` checks it."""
        [raw] = request_cookies(request, name)
        if not raw:
            return SignedCookie(None, "ok")
        value = unquote(raw)  # the cookie module's decodeURIComponent
        if not value.startswith("s:"):
            return SignedCookie(None, "ok", "unsigned")
        signed = value[2:]
        tentative = signed[: signed.rfind(".")]
        # As bytes: compare_digest refuses str that is not ASCII.
        given = signed.encode("utf-8", "surrogatepass")
        for position, key in enumerate(self.keys):
            expected = self._sign(key, tentative).encode("utf-8", "surrogatepass")
            if hmac.compare_digest(expected, given):
                return SignedCookie(tentative, "rotated" if position else "ok")
        # No .sig cookie to expire: express-session just starts anew.
        return SignedCookie(None, "ok", "signature")

    def cookies(self, name: str, value: str) -> list[tuple[str, str]]:
        """The one cookie that carries ``value`` signed (none to remove)."""
        if not value:
            return [(name, "")]
        # encodeURIComponent: ":" "/" "+" "=" escaped; the id's base64url
        # letters and "-" "_" "." as they are.
        return [(name, quote("s:" + self._sign(self.keys[0], value), safe="-_.!~*'()"))]


class ExpressPayloads:
    """The layout of express-session's entries, for a text store
    (:class:`~flask_koasession.stores.text.TextStore`): a payload of koa's
    shape is written as express-session writes a session, and read back.

    :param options: the app's options, for the cookie's attributes that
        express-session keeps in the entry.
    """

    session_ttl: int | None

    def bind_cookie(self, options: Options) -> None:
        """Take the cookie's attributes from the app's ``options``."""
        cookie: dict[str, t.Any] = {}
        if options.secure is not None:
            cookie["secure"] = options.secure
        cookie["httpOnly"] = options.http_only
        if options.domain:
            cookie["domain"] = options.domain
        cookie["path"] = options.path
        if options.same_site:
            cookie["sameSite"] = options.same_site  # as configured: "Lax"...
        self._cookie = cookie

    def encode_entry(
        self, data: dict[str, t.Any], max_age: MaxAge
    ) -> tuple[str, float | None]:
        """The session as express-session writes it, and its time to live as
        connect-redis sets it (from the cookie's expiry, not ``max_age``)."""
        payload = dict(data)
        expire = payload.pop("_expire", None)
        kept = payload.pop("_maxAge", None)
        payload.pop("_session", None)
        cookie: dict[str, t.Any] = {
            "originalMaxAge": kept,
            "expires": None if expire is None else _iso(expire),
            **getattr(self, "_cookie", {"httpOnly": True, "path": "/"}),
        }
        text = dumps_json({"cookie": cookie, **payload})
        if expire is None:
            return text, float(self.session_ttl or SESSION_TTL)
        remaining = expire - now_ms()
        if remaining <= 0:
            # Written expired (merging's way from a moved id): it lives its
            # time to live, ``max_age``, and never loads as a session.
            kept = max_age if isinstance(max_age, int) else SESSION_TTL * 1000
            return text, kept / 1000
        return text, float(max(1, math.ceil(remaining / 1000)))

    def decode_entry(self, text: str | bytes) -> dict[str, t.Any] | None:
        """A session as express-session wrote it, as a koa payload.

        Its max age is the entry's ``cookie.originalMaxAge`` (which
        express-session lets drift a millisecond or two below the app's).
        Its stored ``cookie.expires`` is not an expiry: express-session
        pushes the key's TTL forward on every read (connect-redis's
        ``touch``) and leaves the text as it was, so only Redis's TTL ends
        a session, on both sides.
        """
        stored = decode_payload(text)
        if stored is None:
            return None
        cookie = stored.pop("cookie", None)
        if not isinstance(cookie, dict):
            return stored  # no cookie: the configured max age
        kept = cookie.get("originalMaxAge")
        if kept is None:
            return {**stored, "_session": True}
        if is_number(kept) and t.cast(float, kept) >= 1:
            return {**stored, "_maxAge": int(t.cast(float, kept))}
        return stored  # damaged bookkeeping: the configured max age


class ExpressRedisStore(ExpressPayloads, RedisStore):
    """A :class:`~flask_koasession.stores.RedisStore` that reads and writes
    connect-redis's entries (``sess:<id>``, express-session's JSON), for
    ``wire="express-session"``.

    :param client: a redis-py client, as for ``RedisStore``.
    :param prefix: connect-redis's key prefix (its default ``"sess:"``).
    """

    def __init__(self, client: t.Any, prefix: str = PREFIX, **options: t.Any) -> None:
        super().__init__(client, prefix=prefix, **options)


def _iso(epoch_ms: float) -> str:
    """``Date.prototype.toISOString()``: UTC, milliseconds, ``Z``."""
    moment = datetime.datetime.fromtimestamp(epoch_ms / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
