"""Flask's ``SessionInterface`` for koa-session semantics.

Opening a session costs two small objects: the request's
:class:`~flask_koasession.context.SessionContext` and the session dict the
view sees; the cookie or store is read only when the view first touches
:data:`flask.session`. At the end of the request, after every
``after_request`` function so that whatever they write is kept, the context
commits.
"""

from __future__ import annotations

import typing as t

from flask.sessions import SessionInterface

from .context import SessionContext
from .null_session import NullKoaSession
from .session_dict import KoaSessionDict

if t.TYPE_CHECKING:
    from flask import Flask, Request, Response
    from flask.sessions import SessionMixin


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
        session = KoaSessionDict(SessionContext(app, request, state))
        environ = request.environ
        if environ.get(self.opened_key):
            session.context.load()
        else:
            environ[self.opened_key] = True
        return session

    def save_session(
        self, app: Flask, session: SessionMixin, response: Response
    ) -> None:
        if isinstance(session, KoaSessionDict):
            session.context.commit(response)
