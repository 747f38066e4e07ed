"""One request's session, from its first use to its commit.

koa-session's ``ContextSession``: :class:`SessionContext` loads the cookie or
the store entry on first use, records what the view asks of the session
(:class:`~flask_koasession.decide.Requested`), and at the end of the request
decides (:func:`~flask_koasession.decide.decide`) and commits: removals, then
the save to the cookie, or to the store (:mod:`.merging`) and its id to the
cookie. The session a view sees (:class:`~flask_koasession.KoaSessionDict`)
is a thin face on it.
"""

from __future__ import annotations

import typing as t

from . import codec, cookies, merging, migration, signals, users
from .codec import MaxAge
from .decide import Loaded, Requested, decide, detect_change
from .exceptions import SessionTooLargeError
from .flask_settings import warn_if_strong_protection_is_void
from .grammar import COOKIE_OCTETS_IN_WORDS, MAX_ID_LENGTH, not_cookie_octets
from .sealing import SealError
from .state import CONFIG_KEY
from .stores.base import capabilities

if t.TYPE_CHECKING:
    from blinker import NamedSignal
    from flask import Flask, Request, Response
    from flask.sessions import SessionMixin

    from .cookies import CookieWriter, SignatureState, Signer
    from .decide import Change, Reason
    from .options import Options
    from .sealing import Sealer
    from .state import KoaSessionState
    from .stores.base import ConditionalStore, SessionStore, StoreCapabilities

#: The data of a request, as loading gives it.
Data = dict[str, t.Any]
#: What loading found: the record of what came in, and the data to start from.
Found = tuple[Loaded, Data]

_UNSET: t.Any = object()


class SessionContext:
    """The session of one request: what came in, what the view asked, and
    the commit.

    :param app: the app of the request.
    :param request: the request.
    :param state: the app's :class:`~flask_koasession.KoaSessionState`.

    The dict the view sees as :data:`flask.session` binds itself as
    :attr:`session` when it is made: loading fills it, the commit saves what
    it holds.
    """

    # Slots and hand-made lazy properties: one is made per request, and
    # functools.cached_property takes a lock on Python 3.11.
    #: The session dict of the request (see above).
    session: Data

    __slots__ = (
        "_capabilities",
        "_sealer",
        "_signer",
        "_store",
        "app",
        "committed",
        "load_failed",
        "loaded",
        "migrated",
        "options",
        "request",
        "requested",
        "resend_removals",
        "session",
        "state",
    )

    def __init__(self, app: Flask, request: Request, state: KoaSessionState) -> None:
        self.app = app
        self.request = request
        self.state = state
        self.options: Options = state.options
        #: What came in; ``None`` until the first use loads it.
        self.loaded: Loaded | None = None
        #: Loading raised: the session reads as new and is never saved.
        self.load_failed = False
        #: The data came from Flask's own session cookie (``migrate_from``),
        #: which the commit expires once the data is saved.
        self.migrated = False
        #: What the view asked of the session.
        self.requested = Requested()
        #: The commit happens once per request.
        self.committed = False
        #: The commit's removals (a rejected ``.sig``, ``destroy()``) are to
        #: be sent again on the error response of a commit that failed
        #: after them.
        self.resend_removals = False
        # Each found on first use.
        self._store: t.Any = _UNSET
        self._capabilities: t.Any = _UNSET
        self._signer: t.Any = _UNSET
        self._sealer: t.Any = _UNSET

    # -- what the request's session work needs, each found once ---------------

    @property
    def store(self) -> SessionStore | None:
        """The store of this request (``store_factory`` is called once), or
        ``None`` in cookie mode."""
        store: SessionStore | None = self._store
        if store is _UNSET:
            options = self.options
            if options.store_factory is not None:
                store = options.store_factory(self.request)
            else:
                store = options.store
            self._store = store
        return store

    @property
    def store_capabilities(self) -> StoreCapabilities:
        """What the store can do (store mode only)."""
        found: StoreCapabilities = self._capabilities
        if found is _UNSET:
            found = self.state.store_capabilities or capabilities(self.store)
            self._capabilities = found
        return found

    @property
    def signer(self) -> Signer | None:
        """The signer of the session cookie (koa's keygrip, or
        express-session's), ``None`` when cookies are unsigned. The keys are
        read from the config once per request.

        :raise RuntimeError: when signing is on and no key is configured.
        """
        signer: Signer | None = self._signer
        if signer is _UNSET:
            signer = self._signer = self.state.key_ring.signer(self.app)
        return signer

    @property
    def sealer(self) -> Sealer | None:
        """The sealer of the cookie value, ``None`` unless ``encrypt`` or
        ``compress=True`` is on (``compress="auto"`` uses
        :meth:`compressor`, only when it must).

        :raise RuntimeError: when encryption is on and no key is configured.
        """
        sealer: Sealer | None = self._sealer
        if sealer is _UNSET:
            sealer = self.state.sealer(self.app, compress=self.options.compress is True)
            self._sealer = sealer
        return sealer

    def compressor(self) -> Sealer | None:
        """With ``compress="auto"``, the sealer that deflates: for a value
        that would not fit plain, and to open such a value. ``None`` when the
        cookie holds no koa payload to deflate (a custom codec, a store)."""
        options = self.options
        if (
            options.compress != "auto"
            or not options.default_codec
            or self.store is not None
        ):
            return None
        return self.state.sealer(self.app, compress=True)

    @property
    def trusted(self) -> bool:
        """Whether only this app (or one holding its keys) can have written
        the session data: a signed or encrypted cookie (AES-GCM authenticates
        it), or a store entry. Tagged types are restored from such data
        only."""
        options = self.options
        return options.signed or options.encrypt or self.store is not None

    def new_id(self) -> str:
        """A new store id: ``genid(request)``, or ``prefix`` and a UUID4.

        :raise TypeError: when ``genid`` returns something else than a ``str``.
        :raise ValueError: when it returns an id no cookie can carry.
        """
        genid = self.options.genid
        if genid is None:
            # Nothing to check: prefix was at set-up, and a UUID's 36
            # characters (or express-session's 32) are cookie-safe.
            return (self.options.prefix or "") + str(self.state.make_id())
        return check_new_id(genid(self.request))

    # -- loading (koa's initFromCookie and initFromExternal) ------------------

    def load(self) -> Loaded:
        """Load the session on first use: read the cookie or the store entry,
        check it, and fill the session dict with its data.

        A session that does not survive a check becomes a new one, and a
        signal says why.

        :raise SessionStoreError: when the store fails.
        :raise RuntimeError: when signing is on and no secret key is set.
        """
        loaded = self.loaded
        if loaded is not None:
            return loaded
        # While loading, what reads the session (a valid() that looks at
        # flask.session, say) finds it new and empty.
        self.loaded = _LOADING
        try:
            # Flask's settings (and KOA_SESSION) changed since the options were
            # made: made again, as Flask reads its settings on every request.
            # Compared by C code alone (flask_settings.Watch), about 0.2 µs.
            state, config = self.state, self.app.config
            if not state.login_checked:  # once, at the first load
                state.login_checked = True
                warn_if_strong_protection_is_void(self.app, state.options.max_age)
            watch = state.watch
            try:
                changed = watch.read(config) != watch.seen or (
                    config.get(CONFIG_KEY) != state.config_options
                )
            except KeyError:  # a watched setting was deleted
                changed = True
            if changed or (
                watch.lacking and any(map(config.__contains__, watch.lacking))
            ):
                state.reconfigure(config)
                self.options = state.options
            if self.store is not None:
                loaded, data = self._from_store()
            else:
                loaded, data = self._from_cookie()
        except BaseException:
            # A session that could not be read (store down, no secret key)
            # reads as new and is never written: the error is the outcome.
            self.loaded = Loaded(is_new=True, max_age=self.options.max_age)
            self.load_failed = True
            raise
        dict.update(self.session, data)
        self.loaded = loaded
        return loaded

    def _from_cookie(self) -> Found:
        cookie = self._read_cookie()
        if cookie.value is not None:
            accepted = self._from_cookie_value(cookie.value, cookie.signature)
            if accepted is not None:
                return accepted
        fresh = Loaded(
            is_new=True, max_age=self.options.max_age, signature=cookie.signature
        )
        return fresh, self._carried_over()

    def _from_cookie_value(self, raw: str, signature: SignatureState) -> Found | None:
        """The session in a cookie's value; ``None`` (and a signal) when
        there is none."""
        limit = cookies.incoming_limit(cookies.max_cookie_size(self.app))
        if limit is not None and len(raw) > limit:
            self._invalid(None, None, "too_large")
            return None
        options = self.options
        # The sealer only when there is one: the property costs on every read.
        if options.encrypt or options.compress is True:
            sealer = self.sealer
        elif raw.startswith("A") and options.compress == "auto":
            # Deflated by compress="auto" (koa's plain values start with "e").
            sealer = self.compressor()
        else:
            sealer = None
        try:
            decoded, stale_key = self.state.cookie_codec.loads(raw, sealer)
        except SealError as error:  # a sealed value that does not open
            self._invalid(None, None, error.reason)
            return None
        except Exception:  # any failure of a codec on hostile input is a bad cookie
            self._invalid(None, None, "decode")
            return None
        # Sealed under an older key: rewritten as a .sig made by one is.
        return self._accept(decoded, None, "rotated" if stale_key else signature)

    def _from_store(self) -> Found:
        options = self.options
        signature: SignatureState = "ok"
        if options.external_key is not None:
            key = options.external_key.get(self.request)
        else:
            cookie = self._read_cookie()
            key, signature = cookie.value, cookie.signature
        if key and not options.id_pattern.fullmatch(key):
            self._invalid(None, None, "malformed_id")
            key = None
        if key:
            store = self.store
            assert store is not None
            version = None
            if options.merge and self.store_capabilities.conditional:
                entry = t.cast("ConditionalStore", store).get_entry(
                    key, options.max_age, rolling=options.rolling
                )
                stored, version = (None, None) if entry is None else entry
            else:
                stored = store.get(key, options.max_age, rolling=options.rolling)
            if stored is None:
                self._send(signals.session_missed, key=key)
            else:
                accepted = self._accept(stored, key, signature, version)
                if accepted is not None:
                    return accepted
        # koa's create(): a new session draws a new id at once.
        fresh = Loaded(
            is_new=True,
            max_age=options.max_age,
            store_id=self.new_id(),
            signature=signature,
        )
        return fresh, self._carried_over()

    def _carried_over(self) -> Data:
        """A new session's data: none, or with ``migrate_from="flask"`` what
        a valid Flask session cookie of the request holds."""
        if self.options.migrate_from is None:
            return {}
        data = migration.flask_session_data(self.app, self.request)
        if data is None:
            return {}
        self.migrated = True
        return data

    def _read_cookie(self) -> cookies.SignedCookie:
        """The signed cookie (payload or store id); a rejected one is signalled."""
        cookie = cookies.read(self.request, self.options.key, self.signer)
        if cookie.rejected is not None:
            self._invalid(None, None, cookie.rejected)
        return cookie

    def _accept(
        self,
        decoded: t.Any,
        key: str | None,
        signature: SignatureState,
        version: t.Any = None,
    ) -> Found | None:
        """Check a decoded payload; ``None`` (and a signal) when it is no
        session.

        :param version: the store entry's version (merged saves).
        """
        if not isinstance(decoded, dict):
            self._invalid(key, None, "decode")
            return None
        expire = decoded.get("_expire")
        max_age = codec.stored_max_age(decoded, self.options.max_age)
        if max_age is None or (expire is not None and not codec.is_number(expire)):
            self._invalid(key, decoded, "bookkeeping")
            return None
        if expire is not None and expire < codec.now_ms():
            self._send(signals.session_expired, key=key, value=decoded)
            return None
        valid = self.options.valid
        if valid is not None and not valid(self.request, decoded):
            self._invalid(key, decoded, "valid")
            return None
        options = self.options
        created = user = handle = None
        if options.absolute_max_age is not None or options.user_id_key is not None:
            created = decoded.get(codec.CREATED_KEY)
            if not codec.is_number(created):
                created = None
            absolute = options.absolute_max_age
            if (
                absolute is not None
                and created is not None
                and codec.now_ms() - created > absolute
            ):
                # Past its absolute age, whatever rolling or renew did.
                self._send(signals.session_expired, key=key, value=decoded)
                return None
            if options.user_id_key is not None:
                indexed = users.indexed_user(decoded, options, self.state.registry)
                if indexed is None:
                    self._invalid(key, decoded, "revoked")
                    return None
                user, handle = indexed
        # A copy: a store may hand out an object it keeps. Only the reserved
        # keys it holds are popped (an intersection at C speed: there are 8).
        data = decoded.copy()
        for reserved in codec.RESERVED_KEYS.intersection(data):
            del data[reserved]
        flat: Data | None = None
        data_json: str | None = None
        shape = codec.data_shape(data)
        if shape == "unwritable":
            # A float beyond a double (1e999) cannot be written back: as bad
            # as undecodable.
            self._invalid(key, None, "decode")
            return None
        if shape == "flat":
            # Kept as it is, not serialized: a read-only request never needs
            # its text (measured -3 µs a request).
            flat = data.copy()  # the session's data is its own to change
        else:
            try:
                data_json = codec.dumps_json(data, tag=self.trusted)
            except (RecursionError, ValueError, TypeError):
                # Decodable but not writable again (nested too deeply): as
                # bad as undecodable.
                self._invalid(key, None, "decode")
                return None
        loaded = Loaded(
            is_new=False,
            max_age=max_age,
            store_id=key,
            data_json=data_json,
            expire=expire,
            signature=signature,
            version=version,
            flat=flat,
            created=created,
            user=user,
            handle=handle,
        )
        return loaded, data

    def _invalid(self, key: str | None, value: t.Any, reason: str) -> None:
        self._send(signals.session_invalid, key=key, value=value, reason=reason)

    def _send(self, signal: NamedSignal, **kwargs: t.Any) -> None:
        # Sent from the app, only when anyone listens: the common case of no
        # receiver costs one attribute read.
        if signal.receivers:
            signal.send(self.app, **kwargs)

    # -- what the view asks ----------------------------------------------------

    def data(self) -> Data:
        """The data to save of the session: every key but the bookkeeping ones."""
        return codec.data_of(self.session)

    def change(self) -> Change:
        """How the data now compares with the data as loaded.

        :raise TypeError: for a value that cannot be saved.
        :raise ValueError: for ``NaN`` or infinities.
        """
        return detect_change(self.load(), self.data(), trusted=self.trusted)

    def destroy(self) -> None:
        """Delete the data, the store entry and the cookies at the commit; a
        write afterwards starts a new session."""
        loaded = self.load()
        dict.clear(self.session)
        requested = self.requested
        requested.destroy = True
        if not loaded.is_new:
            requested.destroyed_id = loaded.store_id
        if loaded.user is not None and loaded.handle is not None:
            requested.ended = (loaded.user, loaded.handle)
        # What was asked of the destroyed session is void.
        requested.save = requested.regenerate = False
        self.loaded = loaded.restarted(None if self.store is None else self.new_id())

    def permanent_max_age(self) -> MaxAge:
        """The max age a session gets back when made permanent again: the
        configured one, or ``PERMANENT_SESSION_LIFETIME`` when that is
        ``"session"`` too."""
        configured = self.options.max_age
        if configured != "session":
            return configured
        lifetime = self.app.permanent_session_lifetime
        return int(lifetime.total_seconds() * 1000) or codec.DEFAULT_MAX_AGE

    # -- the commit (koa's commit()) ------------------------------------------

    def commit(self, response: Response) -> None:
        """Write what this request did to its session: cookies, store entries,
        signals.

        In order: nothing when the session was never read; ``Vary: Cookie``
        when it was; nothing more when loading failed, or when ``auto_commit``
        is off and the view did not call ``manually_commit()``. Then the
        removals (a rejected ``.sig``, ``destroy()``), which the error
        response carries too when what follows fails; then the save decision
        and the save (:meth:`_save`).
        """
        loaded = self.loaded
        if loaded is None:
            return  # never read
        # The response depends on the cookie whenever the session was read,
        # even when nothing is written (auto_commit off, or a failed load).
        cookies.vary_on_cookie(response)
        if self.load_failed:
            return
        requested = self.requested
        if self.committed:
            if self.resend_removals:
                # This commit failed after its removals: the error response
                # carries them too, or the browser keeps a destroyed session.
                self.resend_removals = False
                self._expire_cookies(self._writer(response))
            return
        if not self.options.auto_commit and not requested.manual_commit:
            return
        # Once: when this commit raises, Flask saves the session again with
        # the error response, which must not carry half of this one.
        self.committed = True
        writer = None
        if loaded.signature == "bad" or requested.destroy:
            # The removals first: a logout stays one even when the data
            # written after it cannot be saved.
            writer = self._writer(response)
            if requested.destroy and requested.destroyed_id is not None:
                self._destroy_entry(requested.destroyed_id)
            if requested.ended is not None:
                users.end(self.state.registry, *requested.ended, loaded.max_age)
            self._expire_cookies(writer)
            if requested.destroy:
                self._send(signals.session_destroyed, key=requested.destroyed_id)
        try:
            self._save(response, writer)
        except BaseException:
            self.resend_removals = writer is not None
            raise

    def _save(self, response: Response, writer: CookieWriter | None) -> None:
        """Decide, and save (the second half of :meth:`commit`).

        :param writer: the writer of the removals already made, if any.
        """
        loaded, requested, options = self.loaded, self.requested, self.options
        assert loaded is not None
        data = self.data()
        change = detect_change(loaded, data, trusted=self.trusted)
        now = codec.now_ms()
        reason = decide(loaded, requested, change, options, now)
        own = None
        if options.user_id_key is not None or options.absolute_max_age is not None:
            own = users.own_keys(loaded, data, now, options.user_id_key)
            if reason is None and own.changed:
                reason = "force"  # it gets its creation time, or its handle
        if reason is None:
            if own is not None:  # seen: last_seen, once a minute at most
                self._index(
                    loaded, own, loaded.store_id, loaded.expire, now, loaded.max_age
                )
            return  # a request with nothing to write makes no writer
        if writer is None:
            writer = self._writer(response)
        if not data and not loaded.is_new and options.remove_empty:
            # Emptied (Flask-Login's logout pops every key): removed, as
            # Flask removes an emptied session, not saved empty as koa does.
            self._remove_emptied(writer)
            return
        store_id = loaded.store_id
        if requested.regenerate:
            if self.store is None:
                writer.remove()
            else:
                store_id = self.new_id()
        data_json = change.text
        if options.before_save is not None:
            options.before_save(self.request, t.cast("SessionMixin", self.session))
            data, data_json = self.data(), None
        if data_json is None:  # unchanged, saved all the same: its text now
            data_json = codec.dumps_data(data, trusted=self.trusted)
        max_age = loaded.max_age if requested.max_age is None else requested.max_age
        fields = {} if own is None else own.fields
        try:
            if self.store is None:
                self._save_cookie(writer, data, data_json, max_age, now, fields)
            else:
                assert store_id is not None
                max_age = self._save_store(
                    writer, response, data, store_id, max_age, now, reason, own
                )
        except SessionTooLargeError:
            if self._is_resend(data_json):
                # Unchanged data that came in larger than this app may write
                # (a Koa app's cookie, a forged unsigned one): not this
                # request's error. The browser keeps the cookie it has.
                return
            raise
        except merging.Dropped as dropped:
            # Another request destroyed or moved the session since this one
            # loaded it (or a new id is taken): nothing saved, no cookie sent.
            self._send(
                signals.session_dropped,
                session=self.session,
                key=store_id if dropped.reason == "taken" else loaded.store_id,
                reason=dropped.reason,
            )
            return
        self._signal_saved(reason, store_id)
        if own is not None:
            expires = None if max_age == "session" else now + max_age
            self._index(loaded, own, store_id, expires, now, max_age, writer)
        if self.migrated:
            self._expire_flask_cookie(response)

    def _index(
        self,
        loaded: Loaded,
        own: users.OwnKeys,
        store_id: str | None,
        expires: float | None,
        now: int,
        max_age: MaxAge,
        writer: CookieWriter | None = None,
    ) -> None:
        """Keep the user index in step with what the request did
        (:func:`.users.update_index`).

        :param writer: the writer of the save this request made, if any.
        """
        registry = self.state.registry
        if registry is not None and not users.update_index(
            registry,
            self.state.seen_times,
            self.request,
            loaded,
            own,
            store_id=store_id,
            expires=expires,
            now=now,
            max_age=max_age,
            track_ip=self.options.track_ip,
        ):
            # Revoked while this request ran: what it saved goes too.
            if store_id is not None and self.store is not None:
                self._destroy_entry(store_id)
            if writer is not None:
                writer.remove()

    def _destroy_entry(self, store_id: str) -> None:
        """Delete a session's entry (a logout), and with merged saves the one
        a login moved it to meanwhile (:func:`.merging.destroy`)."""
        store = self.store
        assert store is not None
        merged = self.options.merge and self.store_capabilities.conditional
        merging.destroy(store, store_id, merged=merged)

    def _expire_flask_cookie(self, response: Response) -> None:
        """The data of Flask's cookie is saved in ours: expire Flask's (unless
        it has our cookie's name, which the save has just replaced)."""
        if migration.flask_cookie_name(self.app) != self.options.key:
            migration.expire_flask_cookie(self.app, response)

    def _remove_emptied(self, writer: CookieWriter) -> None:
        """Expire the cookies of an emptied session and delete its entry."""
        loaded = self.loaded
        assert loaded is not None
        store_id = loaded.store_id
        if store_id is not None:
            self._destroy_entry(store_id)
        if loaded.user is not None and loaded.handle is not None:
            users.end(self.state.registry, loaded.user, loaded.handle, loaded.max_age)
        writer.remove()
        self._send(signals.session_destroyed, key=store_id)

    def _save_cookie(
        self,
        writer: CookieWriter,
        data: Data,
        data_json: str,
        max_age: MaxAge,
        now: int,
        own: Data,
    ) -> None:
        """Save to the cookie.

        :param own: the session's own keys (:meth:`_own_keys`), after koa's
            bookkeeping.
        """
        extra = codec.bookkeeping(max_age, now)
        if own:
            extra.update(own)
        options, codec_ = self.options, self.state.cookie_codec
        sealer = self.sealer if options.encrypt or options.compress is True else None
        value = codec_.dumps(data, data_json, extra, sealer)
        try:
            writer.set(value, extra.get("_expire"))
        except SessionTooLargeError:
            # compress="auto": deflated only when plain would not fit, so
            # small sessions stay koa's plain JSON.
            compressor = self.compressor() if options.compress == "auto" else None
            if compressor is None:
                raise
            value = codec_.dumps(data, data_json, extra, compressor)
            writer.set(value, extra.get("_expire"))

    def _save_store(
        self,
        writer: CookieWriter,
        response: Response,
        data: Data,
        store_id: str,
        max_age: MaxAge,
        now: int,
        reason: Reason,
        own: users.OwnKeys | None,
    ) -> MaxAge:
        """Save to the store, then the id to the cookie (or the external key).

        :param own: the session's own keys (:meth:`_own_keys`), if kept.
        :return: the max age saved (a merged save may keep the entry's).
        :raise merging.Dropped: when a merged save is dropped.
        """
        store, loaded, requested, options = (
            self.store,
            self.loaded,
            self.requested,
            self.options,
        )
        assert store is not None
        assert loaded is not None
        max_age = merging.save(
            merging.StoreSave(
                store=store,
                capabilities=self.store_capabilities,
                loaded=loaded,
                store_id=store_id,
                data=data,
                max_age=max_age,
                now=now,
                merge=options.merge,
                max_age_assigned=requested.max_age is not None,
                regenerate=requested.regenerate,
                rolling=options.rolling,
                changed=reason == "changed",
                own={} if own is None else own.fields,
                own_changed=own is not None and own.changed,
            )
        )
        if requested.regenerate:
            writer.remove()  # koa expires the old cookie first
        if options.external_key is not None:
            options.external_key.set(response, store_id)
        else:
            writer.set(store_id, codec.bookkeeping(max_age, now).get("_expire"))
        return max_age

    def _is_resend(self, data_json: str) -> bool:
        """Whether a cookie save re-sends the data as it came in, unasked
        (``rolling``, ``renew``, a newer signing key)."""
        loaded, requested = self.loaded, self.requested
        assert loaded is not None
        asked = requested.asked_to_save or requested.max_age is not None
        return self.store is None and not asked and data_json == loaded.text()

    def _expire_cookies(self, writer: CookieWriter) -> None:
        """Expire a rejected ``.sig``, and the cookies of a destroyed session."""
        assert self.loaded is not None
        if self.loaded.signature == "bad":
            writer.remove_signature()
        if self.requested.destroy:
            writer.remove()

    def _writer(self, response: Response) -> CookieWriter:
        return cookies.CookieWriter(
            response, self.request, self.options, self.signer, self.app
        )

    def _signal_saved(self, reason: Reason, store_id: str | None) -> None:
        """Record that the session now lives under ``store_id``, and say what
        the save did: created, regenerated, renewed."""
        loaded = self.loaded
        assert loaded is not None
        if store_id != loaded.store_id:
            # Regenerated: external_key reports the new id from now on.
            self.loaded = loaded._replace(store_id=store_id)
        if loaded.is_new:
            self._send(signals.session_created, session=self.session)
        if self.requested.regenerate:
            old_id = None if loaded.is_new else loaded.store_id
            self._send(
                signals.session_regenerated,
                session=self.session,
                old_key=old_id,
                new_key=store_id,
            )
        if reason in ("rolling", "renew"):
            self._send(signals.session_renewed, session=self.session, reason=reason)


#: The record a session reads while it loads: new and empty.
_LOADING = Loaded(is_new=True, max_age=codec.DEFAULT_MAX_AGE)


def check_new_id(made: object) -> str:
    """Return a new store id, if a cookie can carry it and a store key hold it.

    Checked before anything is written under it: an id that no cookie can
    carry would lose the session on every request and leave an entry behind
    each time.

    :raise TypeError: when ``made`` is not a ``str``.
    :raise ValueError: when it is empty, too long or holds a character that
        is not a cookie-octet.
    """
    if not isinstance(made, str):
        raise TypeError(
            f"KoaSession option genid returned {type(made).__name__}"
            f" {made!r:.60}: expected genid(request) -> str."
        )
    problem = not_cookie_octets(made)
    if problem is None and len(made) > MAX_ID_LENGTH:
        problem = f"{len(made)} characters"
    if problem is None:
        return made
    raise ValueError(
        f"KoaSession option genid returned {made!r:.60}, which cannot be a"
        f" session id: {problem}. A session id travels in a cookie (or the"
        " external key) and names a store entry: 1 to"
        f" {MAX_ID_LENGTH} characters, {COOKIE_OCTETS_IN_WORDS}."
    )
