"""koa-session's complete example, in Flask, as a small site.

Run it with ``./scripts/run-example`` (or ``flask --app example_app run``) and
open http://127.0.0.1:5000. Every route of koa-session's example keeps its
path: ``/`` (a view counter), ``/set``, ``/get``, ``/logout``, ``/flash`` and
``/show-flash``, plus ``/login`` (a new session id on login), ``/session``
(the session as the server sees it) and ``/sessions`` (the user's sessions,
each of which can be logged out from there). A browser gets HTML pages;
``curl`` gets the example's plain text (``curl localhost:5000/`` says
``1 views``).

Sessions live in signed cookies by default. ``KOA_SESSION_STORE`` keeps them
in a store instead, named by a URL of
:func:`flask_koasession.stores.store_from_url`: ``memory``,
``redis://localhost:6379/0``, ``sqlite:///sessions.db`` (relative path),
``sqlite:////var/lib/app/sessions.db`` (absolute path: four slashes) or
``postgresql://user@host/db``. ``SECRET_KEY`` sets the signing key
(``app.keys`` in Koa).
"""

from __future__ import annotations

import os
import sys
import typing as t
from dataclasses import dataclass

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from flask_koasession import KoaSession, session
from flask_koasession.stores import MemoryStore, SessionIndex
from flask_koasession.stores.urls import hide_password

from .signal_log import SignalLog, current_visitor
from .stores import StoreURLError, open_store
from .views import USER_ID_KEY, bp, text, wants_html

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from flask_koasession.stores import SessionStore

__all__ = ["USER_ID_KEY", "StoreURLError", "create_app", "create_app_or_exit"]

#: The seed's CONFIG object, ported as it is (plus sameSite).
CONFIG: dict[str, t.Any] = {
    "key": "koa:sess",
    "maxAge": 86_400_000,
    "autoCommit": True,
    "overwrite": True,
    "httpOnly": True,
    "signed": True,
    "rolling": False,
    "renew": False,
    # koa: process.env.NODE_ENV === "production". None: Secure over HTTPS.
    "secure": os.environ.get("FLASK_ENV") == "production" or None,
    # Not in the seed: another site's links and forms come without the cookie.
    "sameSite": "Lax",
}

#: The seed's key (``app.keys = ['your-session-secret']``): the default, so
#: that the seed's Koa app shares these sessions, and public, so a warning.
PUBLIC_KEY = "your-session-secret"

#: Only our own stylesheet; no scripts at all, so an injected one cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class ExampleState:
    """What the pages need to know about the set-up."""

    cookie_name: str
    store: SessionStore | None
    store_url: str
    #: The extension: ``/sessions`` lists and ends a user's sessions with it.
    koa: KoaSession


def create_app(config: dict[str, t.Any] | None = None) -> Flask:
    """Build the example app.

    :param config: overrides ``app.config`` (tests). ``KOA_SESSION_STORE`` in
        it, or else in the environment, chooses the store.
    :raise StoreURLError: ``KOA_SESSION_STORE`` names no usable store.
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY", PUBLIC_KEY),
        KOA_SESSION=CONFIG,
        KOA_SESSION_STORE=os.environ.get("KOA_SESSION_STORE", ""),
    )
    app.config.update(config or {})
    store_url = app.config["KOA_SESSION_STORE"]
    store = open_store(store_url)
    # user_id_key: each user's sessions are indexed, for /sessions. The index
    # lives in the session store when it can keep one (MemoryStore); in
    # cookie mode, and beside a store that cannot, in a MemoryStore of this
    # process: scripts/run-example serves one process (several would need one
    # registry that they all share), and a restart forgets the index, which
    # in cookie mode logs everyone out.
    koa = KoaSession(
        app,
        store=store,
        user_id_key=USER_ID_KEY,
        registry=None if isinstance(store, SessionIndex) else MemoryStore(),
    )
    # Flask-WTF's CSRF protection, as it is: its secret lives in the koa
    # session (session["csrf_token"]); every POST must carry the token that
    # the template global csrf_token() puts in each form.
    CSRFProtect(app)
    app.extensions["example_app"] = ExampleState(
        cookie_name=app.config["KOA_SESSION"]["key"],
        store=store,
        store_url=hide_password(store_url.strip()) if store is not None else "",
        koa=koa,
    )
    SignalLog(app)

    app.register_blueprint(bp)
    app.context_processor(_layout_context)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _error_page)
    return app


def create_app_or_exit() -> Flask:
    """:func:`create_app`, or a one-line message and exit status 2 when
    ``KOA_SESSION_STORE`` is wrong (``scripts/run-example`` uses it)."""
    try:
        app = create_app()
    except StoreURLError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if app.secret_key == PUBLIC_KEY:
        print(
            f"warning: sessions are signed with the seed's public key {PUBLIC_KEY!r}:"
            " anyone can forge them. Set SECRET_KEY (the same key as app.keys[0]"
            " of a Koa app that shares these sessions) before serving anyone.",
            file=sys.stderr,
        )
    return app


def _layout_context() -> dict[str, t.Any]:
    return {
        "example": current_app.extensions["example_app"],
        # This visitor's signals only: the panel shows no one else's.
        "signals": current_app.extensions["example_signals"].entries(current_visitor()),
        "nav": [
            ("pages.views", "Views"),
            ("pages.set_user", "Set user"),
            ("pages.get_user", "Get user"),
            ("pages.login", "Log in"),
            ("pages.logout", "Log out"),
            ("pages.flash_message", "Flash"),
            ("pages.show_flash", "Show flash"),
            ("pages.session_page", "Session"),
            # Only for a logged-in user: the page is theirs.
            *(
                [("pages.sessions_page", "Your sessions")]
                if session.get(USER_ID_KEY) is not None
                else []
            ),
        ],
    }


def _security_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def _error_page(error: HTTPException) -> t.Any:
    status = error.code or 500
    if isinstance(error, CSRFError):  # "The CSRF token is missing." and so on
        error.description = f"{error.description} Reload the form and send it again."
    if not wants_html() or request.path.startswith("/static/"):
        return text(f"{status} {error.name}: {error.description}\n", status)
    return render_template("error.html", error=error), status
