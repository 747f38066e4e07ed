"""Flask's ``SessionInterface`` for koa-session semantics.

Opening a session costs one small object: the cookie or store is read only
when the view first touches :data:`flask.session` (:mod:`.loading`). At the
end of the request, after every ``after_request`` function so that whatever
they write is kept, :func:`commit` decides (:mod:`.decide`) and saves or
removes (:mod:`.saving`).
"""

from __future__ import annotations

import typing as t

from flask.sessions import SessionInterface

from . import cookies, payload, saving, signals
from .decide import Reason, decide
from .exceptions import SessionTooLargeError
from .null_session import NullKoaSession
from .scope import RequestScope
from .session_dict import KoaSessionDict

if t.TYPE_CHECKING:
    from flask import Flask, Request, Response
    from flask.sessions import SessionMixin

    from .loading import Loaded
    from .session_dict import Requested


class KoaSessionInterface(SessionInterface):
    """Installed by :class:`~flask_koasession.KoaSession`; reads its options
    from ``app.extensions["koasession"]``, so one interface serves many apps.
    """

    #: Opened when signing is on and no key is set, as Flask does.
    null_session_class = NullKoaSession

    #: The key in a request's WSGI environ that marks its session as opened.
    opened_key = "flask_koasession.opened"

    def open_session(self, app: Flask, request: Request) -> KoaSessionDict | None:
        """A session for ``request`` that loads itself on first use.

        Flask opens one session per request, when its context is pushed. A
        second one for the same request is Flask's test client at work:
        ``session_transaction()`` opens it to hand to the test, which uses it
        outside any request context. That one is loaded at once, inside the
        context it is opened in (as Flask's own session is), so that stores,
        ``genid`` and ``valid`` see ``current_app``, ``request`` and ``g``.
        """
        state = app.extensions["koasession"]
        options = state.options
        if (
            (options.signed or options.encrypt)
            and options.keys is None
            and not app.secret_key
        ):
            return None  # Flask then opens null_session_class
        session = KoaSessionDict(RequestScope(app, request, state))
        environ = request.environ
        if environ.get(self.opened_key):
            session._load()
        else:
            environ[self.opened_key] = True
        return session

    def save_session(
        self, app: Flask, session: SessionMixin, response: Response
    ) -> None:
        if isinstance(session, KoaSessionDict):
            commit(session, response)


def commit(session: KoaSessionDict, response: Response) -> None:
    """Write what this request did to its session: cookies, store entries,
    signals (koa-session's ``commit()``).

    In order: nothing when the session was never read; ``Vary: Cookie`` when
    it was; nothing more when loading failed, or when ``auto_commit`` is off
    and the view did not call ``manually_commit()``. Then the removals (a
    rejected ``.sig``, ``destroy()``), which the error response carries too
    when what follows fails; then the save decision and the save
    (:func:`_save`), which a merged save in store mode may drop
    (:data:`~flask_koasession.signals.session_dropped`).
    """
    loaded = session._loaded
    if loaded is None:
        return  # never read
    # The response depends on the cookie whenever the session was read,
    # even when nothing is written (auto_commit off, or a failed load).
    cookies.vary_on_cookie(response)
    if session._load_failed:
        return
    requested, scope = session._requested, session._scope
    if session._committed:
        if session._resend_removals:
            # This commit failed after its removals: the error response
            # carries them too, or the browser keeps a destroyed session.
            session._resend_removals = False
            _expire_cookies(_writer(scope, response), loaded, requested)
        return
    options = scope.options
    if not options.auto_commit and not requested.manual_commit:
        return
    # Once: when this commit raises, Flask saves the session again with the
    # error response, which must not carry half of this one.
    session._committed = True
    writer = None
    if loaded.signature == "bad" or requested.destroy:
        # The removals first: a logout stays one even when the data written
        # after it cannot be saved.
        writer = _writer(scope, response)
        if requested.destroy and scope.store is not None:
            saving.remove_entry(scope, requested.destroyed_id)
        _expire_cookies(writer, loaded, requested)
        if requested.destroy:
            signals.send(
                signals.session_destroyed, scope.app, key=requested.destroyed_id
            )
    try:
        _save(session, response, writer)
    except BaseException:
        session._resend_removals = writer is not None
        raise


def _save(
    session: KoaSessionDict, response: Response, writer: cookies.CookieWriter | None
) -> None:
    """Decide, and save (the second half of :func:`commit`).

    :param writer: the writer of the removals already made, if any.
    """
    loaded, requested, scope = session._loaded, session._requested, session._scope
    assert loaded is not None
    options = scope.options
    # A pure decision: a request with nothing to write makes no writer
    # (-0.6 µs a read).
    data = payload.data_of(session)
    data_json = session._data_json(data)
    now = payload.now_ms()
    reason = decide(loaded, requested, data_json, options, now)
    if reason is None:
        return
    if writer is None:
        writer = _writer(scope, response)
    # The id the session came with; a new session's generated id was never stored.
    old_id = None if loaded.is_new else loaded.store_id
    store_id = loaded.store_id
    if requested.regenerate:
        if scope.store is None:
            writer.remove()
        else:
            store_id = scope.new_id()
    if options.before_save is not None:
        options.before_save(scope.request, session)
        data = payload.data_of(session)
        data_json = None
    if data_json is None:  # unchanged, saved all the same: its text now
        data_json = payload.dumps_data(data, trusted=scope.trusted)
    try:
        dropped = saving.save(
            scope,
            writer,
            response,
            loaded=loaded,
            store_id=store_id,
            data=data,
            data_json=data_json,
            max_age=loaded.max_age if requested.max_age is None else requested.max_age,
            max_age_assigned=requested.max_age is not None,
            now=now,
            changed=reason == "changed",
            regenerate=requested.regenerate,
        )
    except SessionTooLargeError:
        if _is_resend(scope, loaded, requested, data_json):
            # Unchanged data that came in larger than this app may write (a
            # Koa app's cookie, a forged unsigned one): not this request's
            # error. The browser keeps the cookie it has.
            return
        raise
    if dropped is not None:
        # Another request destroyed or moved the session since this one
        # loaded it (or a new id is taken): nothing saved, no cookie sent.
        signals.send(
            signals.session_dropped,
            scope.app,
            session=session,
            key=store_id if dropped == "taken" else loaded.store_id,
            reason=dropped,
        )
        return
    if store_id != loaded.store_id:
        session._moved(store_id)
    _signal_saved(session, loaded, reason, old_id, store_id)


def _is_resend(
    scope: RequestScope, loaded: Loaded, requested: Requested, data_json: str
) -> bool:
    """Whether a cookie save re-sends the data as it came in, unasked
    (``rolling``, ``renew``, a newer signing key)."""
    asked = (
        requested.save
        or requested.modified
        or requested.regenerate
        or requested.max_age is not None
    )
    return scope.store is None and not asked and data_json == loaded.text()


def _expire_cookies(
    writer: cookies.CookieWriter, loaded: Loaded, requested: Requested
) -> None:
    """Expire a rejected ``.sig``, and the cookies of a destroyed session."""
    if loaded.signature == "bad":
        writer.remove_signature()
    if requested.destroy:
        writer.remove()


def _writer(scope: RequestScope, response: Response) -> cookies.CookieWriter:
    return cookies.CookieWriter(
        response, scope.request, scope.options, scope.keygrip, scope.app
    )


def _signal_saved(
    session: KoaSessionDict,
    loaded: Loaded,
    reason: Reason,
    old_id: str | None,
    store_id: str | None,
) -> None:
    """Say what the save did: created, regenerated, renewed."""
    app = session._scope.app
    if loaded.is_new:
        signals.send(signals.session_created, app, session=session)
    if session._requested.regenerate:
        signals.send(
            signals.session_regenerated,
            app,
            session=session,
            old_key=old_id,
            new_key=store_id,
        )
    if reason in ("rolling", "renew"):
        signals.send(signals.session_renewed, app, session=session, reason=reason)
