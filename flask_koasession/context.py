"""Per-request session logic, after koa-session's ``context.ts``.

Load (read the cookie or the store, validate), then at the end of the request
decide whether to save, and save or remove. The decision returns a named reason
(``"force"``, ``"changed"``, ``"rolling"``, ``"renew"`` or ``None``) that the
signals and the tests use.
"""

from __future__ import annotations

import time
import typing as t
import uuid

from . import codec, cookies, signals
from .max_age import DEFAULT_MAX_AGE, MAX_MAX_AGE, MaxAge

if t.TYPE_CHECKING:
    from flask import Flask, Request, Response
    from flask.ctx import RequestContext

    from .extension import KoaSessionState
    from .session_dict import KoaSessionDict
    from .signing import Keygrip
    from .stores.base import SessionStore

Reason = t.Literal["force", "changed", "rolling", "renew"] | None


def _now_ms() -> int:
    return int(time.time() * 1000)


class SessionContext:
    """The session machinery of one request."""

    def __init__(
        self,
        app: Flask,
        request: Request,
        state: KoaSessionState,
        request_context: RequestContext | None = None,
    ) -> None:
        self.app = app
        self.request = request
        #: The request context the session was opened in, if any.
        self.request_context = request_context
        self.state = state
        self.options = state.options
        self.store: SessionStore | None = None
        #: The store id (store mode), else ``None``.
        self.external_key: str | None = None
        self.is_new = True
        self.max_age: MaxAge = self.options.max_age
        self.expire: float | None = None
        #: The serialized data as loaded; ``None`` for a new session.
        self.loaded_json: str | None = None
        self.require_save = False
        self.regenerate = False
        #: Store id to delete and cookies to expire, set by ``destroy()``.
        self.destroyed = False
        self.destroyed_key: str | None = None
        self.commit_requested = False
        self.committed = False
        self.bad_signature = False
        self._signer: Keygrip | None = None
        self._signer_read = False
        #: The cookie was signed with an older key: re-sign it with the current one.
        self.rotated = False

    # -- loading -----------------------------------------------------------

    def load(self, session: KoaSessionDict) -> None:
        """Fill ``session`` from the request (cookie or store)."""
        options = self.options
        self.store = options.make_store(self.request)
        if self.store is not None:
            self._load_from_store(session)
        else:
            self._load_from_cookie(session)

    def _read_key(self) -> str | None:
        """The signed cookie value (payload or store id), or ``None``."""
        result = cookies.read(self.request, self.options, self._keygrip())
        if result.problem == "rotated":
            self.rotated = True
        elif result.problem is not None:
            self.bad_signature = result.problem == "signature"
            self._send(
                signals.session_invalid, key=None, value=None, reason=result.problem
            )
        return result.value

    def _load_from_cookie(self, session: KoaSessionDict) -> None:
        raw = self._read_key()
        if raw is None:
            return
        if len(raw) > cookies.MAX_INCOMING_VALUE:
            self._send(
                signals.session_invalid, key=None, value=None, reason="too_large"
            )
            return
        try:
            payload = self.options.decode(raw)
        except Exception:  # any failure of a codec on hostile input is a bad cookie
            self._send(signals.session_invalid, key=None, value=None, reason="decode")
            return
        self._accept(session, payload, None)

    def _load_from_store(self, session: KoaSessionDict) -> None:
        options = self.options
        if options.external_key is not None:
            key = options.external_key.get(self.request)
        else:
            key = self._read_key()
        if key and not options.id_pattern.fullmatch(key):
            self._send(
                signals.session_invalid, key=None, value=None, reason="malformed_id"
            )
            key = None
        if key:
            assert self.store is not None
            payload = self.store.get(key, options.max_age, rolling=options.rolling)
            if payload is None:
                self._send(signals.session_missed, key=key)
            elif self._accept(session, payload, key):
                self.external_key = key
                return
        self.external_key = self._generate_id()

    def _accept(self, session: KoaSessionDict, payload: t.Any, key: str | None) -> bool:
        """Validate a decoded payload; on success fill ``session`` with it."""
        if not isinstance(payload, dict):
            self._send(signals.session_invalid, key=key, value=None, reason="decode")
            return False
        expire = payload.get("_expire")
        max_age = self._stored_max_age(payload)
        if max_age is None or (expire is not None and not _is_number(expire)):
            self._send(
                signals.session_invalid, key=key, value=payload, reason="bookkeeping"
            )
            return False
        if expire is not None and expire < _now_ms():
            self._send(signals.session_expired, key=key, value=payload)
            return False
        valid = self.options.valid
        if valid is not None and not valid(self.request, payload):
            self._send(signals.session_invalid, key=key, value=payload, reason="valid")
            return False
        # A copy: a store may hand out an object it keeps.
        data = {k: v for k, v in payload.items() if k not in codec.RESERVED_KEYS}
        try:
            loaded_json = codec.dumps_json(data)
        except (RecursionError, ValueError, TypeError):
            # Decodable but not writable again (nested too deeply, a number
            # beyond a double such as 1e999): as bad as undecodable.
            self._send(signals.session_invalid, key=key, value=None, reason="decode")
            return False
        dict.update(session, data)
        self.is_new = False
        self.expire = expire
        self.max_age = max_age
        self.loaded_json = loaded_json
        return True

    def _stored_max_age(self, payload: dict[str, t.Any]) -> MaxAge | None:
        """The max age a payload carries (koa restores it per session)."""
        if payload.get("_session") is True:
            return "session"
        stored = payload.get("_maxAge")
        if stored is None:
            return self.options.max_age
        if _is_number(stored) and 1 <= stored <= MAX_MAX_AGE:
            return int(stored)
        return None

    # -- what views call ---------------------------------------------------

    def destroy(self) -> None:
        self.destroyed = True
        if self.external_key is not None and not self.is_new:
            self.destroyed_key = self.external_key
        self.is_new = True
        self.loaded_json = None
        self.regenerate = False
        self.require_save = False
        if self.store is not None:
            self.external_key = self._generate_id()

    def permanent_max_age(self) -> MaxAge:
        if self.options.max_age != "session":
            return self.options.max_age
        lifetime = self.app.permanent_session_lifetime
        return int(lifetime.total_seconds() * 1000) or DEFAULT_MAX_AGE

    # -- committing --------------------------------------------------------

    def commit(self, session: KoaSessionDict, response: Response) -> None:
        """Write what this request changed: cookies, store entries, signals."""
        if not session.accessed:
            return
        # The response depends on the cookie whenever the session was read,
        # even when nothing is written (auto_commit off, or a failed load).
        cookies.vary_on_cookie(response)
        if self.committed:
            return
        if not self.options.auto_commit and not self.commit_requested:
            return
        self.committed = True
        writer = cookies.CookieWriter(
            response,
            self.request,
            self.options,
            self._keygrip(),
            self.app.config.get("MAX_COOKIE_SIZE", 4093),
        )
        if self.bad_signature:
            writer.remove_signature()
        if self.destroyed:
            self._remove(writer, self.destroyed_key)
            self._send(signals.session_destroyed, key=self.destroyed_key)
        # The id a request came with; a new session's generated id was never stored.
        old_key = None if self.is_new else self.external_key
        if self.regenerate:
            writer.remove()
            if self.store is not None:
                self.external_key = self._generate_id()

        data = _without_reserved(session)
        data_json = codec.dumps_json(data)
        reason = self.decide(session, data_json)
        if reason is None:
            return
        if self.options.before_save is not None:
            self.options.before_save(self.request, session)
            data = _without_reserved(session)
            data_json = codec.dumps_json(data)
        self._save(writer, data, data_json, reason == "changed", response)
        if self.regenerate and old_key is not None and self.store is not None:
            # Only once the data is safe under its new id: a store that fails
            # to save must not have lost the old entry already.
            self.store.destroy(old_key)

        if self.is_new:
            self._send(signals.session_created, session=session)
        if self.regenerate:
            self._send(
                signals.session_regenerated,
                session=session,
                old_key=old_key,
                new_key=self.external_key,
            )
        if reason in ("rolling", "renew"):
            self._send(signals.session_renewed, session=session, reason=reason)

    def decide(self, session: KoaSessionDict, data_json: str) -> Reason:
        """koa's save decision for this request, as a named reason."""
        rotated = self.rotated and not self.is_new
        if self.require_save or self.regenerate or session.modified or rotated:
            return "force"
        if self.loaded_json is None and data_json == "{}":
            return None
        if data_json != self.loaded_json:
            return "changed"
        if self.is_new:
            return None
        if self.options.rolling:
            return "rolling"
        if self.options.renew and self._half_expired():
            return "renew"
        return None

    def _half_expired(self) -> bool:
        # koa renews once less than half of the max age is left.
        max_age = self.max_age
        if not self.expire or not isinstance(max_age, int):
            return False
        return self.expire - _now_ms() < max_age / 2

    def _save(
        self,
        writer: cookies.CookieWriter,
        data: dict[str, t.Any],
        data_json: str,
        changed: bool,
        response: Response,
    ) -> None:
        options = self.options
        extra = codec.bookkeeping(self.max_age, _now_ms())
        expire = extra.get("_expire")
        if self.store is not None:
            key = self.external_key
            assert key is not None
            ttl: MaxAge = (
                self.max_age + 10_000 if isinstance(self.max_age, int) else "session"
            )
            self.store.set(
                key, {**data, **extra}, ttl, rolling=options.rolling, changed=changed
            )
            if options.external_key is not None:
                options.external_key.set(response, key)
                return
            value = key
        elif options.default_codec:
            value = codec.encode_text(codec.append_bookkeeping(data_json, extra))
        else:
            value = options.encode({**data, **extra})
        writer.set(value, expire)

    def _remove(self, writer: cookies.CookieWriter, key: str | None) -> None:
        if key is not None and self.store is not None:
            self.store.destroy(key)
        writer.remove()

    # -- helpers -----------------------------------------------------------

    def _keygrip(self) -> Keygrip | None:
        # Read once per request: the keys come from the config on every call.
        if not self._signer_read:
            self._signer = self.state.keygrip(self.app)
            self._signer_read = True
        return self._signer

    def _generate_id(self) -> str:
        options = self.options
        if options.genid is not None:
            return options.genid(self.request)
        return (options.prefix or "") + str(uuid.uuid4())

    def _send(self, signal: t.Any, **kwargs: t.Any) -> None:
        if signal.receivers:
            signal.send(self.app, **kwargs)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _without_reserved(session: KoaSessionDict) -> dict[str, t.Any]:
    if codec.RESERVED_KEYS.isdisjoint(session.keys()):
        return session
    return {k: v for k, v in session.items() if k not in codec.RESERVED_KEYS}
