"""The ``KoaSession`` extension object: options, registration, per-app state."""

from __future__ import annotations

import typing as t

from flask import current_app, has_request_context, session

from . import signals, users
from .flash import flash_template_context
from .interface import KoaSessionInterface
from .option_sources import check_options
from .option_types import KoaSessionOptions
from .session_dict import KoaSessionDict
from .state import KoaSessionState

if t.TYPE_CHECKING:
    from flask import Flask

    from .users import ActiveSession


class KoaSession:
    """koa-session's sessions for a Flask app.

    ::

        app = Flask(__name__)
        app.secret_key = "change me"
        KoaSession(app, max_age=3600, rolling=True)

    or, with an app factory::

        koa = KoaSession(rolling=True)

        def create_app():
            app = Flask(__name__)
            koa.init_app(app, max_age=3600)
            return app

    Options come from ``app.config["KOA_SESSION"]`` (a dict), then from the
    keyword arguments given here, then from those given to :meth:`init_app`;
    later sources win. Each option is accepted under its Python name and under
    koa-session's name (``max_age`` or ``maxAge``). An option given in none
    of them takes its default from Flask's matching setting when the app
    changed it (``SESSION_COOKIE_SECURE``, ``SESSION_COOKIE_SAMESITE``...),
    else koa's default. See :doc:`/options`.

    :param app: the app to set up now, or ``None`` to call :meth:`init_app` later.
    :param options: options shared by every app this object sets up.
    :raise ValueError: for an unknown option or a value out of range.
    :raise TypeError: for an option of the wrong type.
    :raise RuntimeError: when ``app`` is already set up (see :meth:`init_app`).
    """

    def __init__(
        self, app: Flask | None = None, **options: t.Unpack[KoaSessionOptions]
    ) -> None:
        # Validate now, so that a mistake surfaces where it was made.
        check_options((options, "KoaSession(...)"))
        #: The options given here, as given: shared by every app this object
        #: sets up (each app's validated ones are ``app.extensions[
        #: "koasession"].options``).
        self.shared_options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, **options: t.Unpack[KoaSessionOptions]) -> None:
        """Install the session interface on ``app`` with the merged options.

        :param app: the Flask app.
        :param options: options for this app only; they win over the others.
        :raise RuntimeError: when the extension is already set up on ``app``.
        """
        if "koasession" in app.extensions:
            # A second set-up would silently replace the first one's options.
            raise RuntimeError(
                f"KoaSession is already set up on the app {app.name!r}. Set it up"
                " once per app: give every option to that one KoaSession(...) or"
                " init_app(...) call, or in app.config['KOA_SESSION']."
            )
        app.extensions["koasession"] = KoaSessionState(
            app.config, (self.shared_options, options)
        )
        app.session_interface = KoaSessionInterface()
        # Not add_template_global, which makes app.jinja_env now: settings made
        # later would be ignored, and the env's link back keeps the app alive.
        app.context_processor(flash_template_context)

    # -- a user's sessions (the user_id_key option) ----------------------------

    def sessions_of(self, user_id: object) -> list[ActiveSession]:
        """The active sessions of ``user_id``, the most recently seen first:
        a "your devices" page. In an app context; the session of the request
        being served, if any, is marked ``current``.

        :param user_id: as the session holds it under ``user_id_key`` (any
            value, compared as its ``str``).
        :raise RuntimeError: outside an app context, or without
            ``user_id_key``.
        :raise SessionStoreError: when the index's store fails.
        """
        revoker = _revoker()
        return users.sessions_of(revoker.registry, str(user_id), _current_handle())

    def revoke(self, handle: str, *, user_id: object = None) -> bool:
        """End one session: the next request that brings it gets a fresh,
        anonymous session, on every worker, at once; a save of a request in
        flight never brings it back. In an app context.

        :param handle: an :attr:`ActiveSession.handle
            <flask_koasession.users.ActiveSession.handle>`.
        :param user_id: when given, end the session only if it is this
            user's: a handle sent by a browser is the browser's to choose.
        :return: whether it was active (and ``user_id``'s).
        :raise SessionStoreError: when the store fails.
        """
        revoker = _revoker()
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        owner = revoker.revoke(handle, None if user_id is None else str(user_id))
        if owner is None:
            return False
        signals.send(signals.session_revoked, app, user_id=owner, handles=[handle])
        return True

    def revoke_user(self, user_id: object, *, keep_current: bool = False) -> int:
        """End every session of ``user_id`` ("log out everywhere", on a
        password change say). In an app context.

        :param keep_current: in a request, keep the session of that request
            ("log out my other devices").
        :return: how many sessions were ended.
        :raise SessionStoreError: when the store fails.
        """
        revoker = _revoker()
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        keep = _current_handle() if keep_current else None
        handles = revoker.revoke_user(str(user_id), keep)
        if handles:
            signals.send(
                signals.session_revoked, app, user_id=str(user_id), handles=handles
            )
        return len(handles)


def _revoker() -> users.Revoker:
    """What ends the sessions of the current app's users.

    :raise RuntimeError: without the extension, or without ``user_id_key``.
    """
    state: KoaSessionState | None = current_app.extensions.get("koasession")
    if state is None:
        raise RuntimeError(
            f"KoaSession is not set up on the app {current_app.name!r}: call"
            " KoaSession(app) or koa.init_app(app) first."
        )
    if state.revoker is None:
        raise RuntimeError(
            "KoaSession keeps no index of users' sessions on this app: set the"
            ' option user_id_key (e.g. user_id_key="_user_id" for Flask-Login).'
        )
    return state.revoker


def _current_handle() -> str | None:
    """The user-index handle of the request's session, if any."""
    if not has_request_context():
        return None
    found = session
    if not isinstance(found, KoaSessionDict):
        return None
    return found.context.load().handle
