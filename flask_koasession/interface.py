"""Flask's ``SessionInterface`` for koa-session semantics.

Opening a session costs one small object: the cookie or store is read only when
the view first touches :data:`flask.session`. Saving runs after every
``after_request`` function, so whatever they write to the session is kept.
"""

from __future__ import annotations

import typing as t

from flask.globals import request_ctx
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

    def open_session(self, app: Flask, request: Request) -> KoaSessionDict | None:
        state = app.extensions["koasession"]
        options = state.options
        if options.signed and options.keys is None and not app.secret_key:
            return None  # Flask then opens null_session_class
        # The context pushed now (a request, or session_transaction()'s).
        context = (
            t.cast(t.Any, request_ctx)._get_current_object() if request_ctx else None
        )
        return KoaSessionDict(SessionContext(app, request, state, context))

    def save_session(
        self, app: Flask, session: SessionMixin, response: Response
    ) -> None:
        if isinstance(session, KoaSessionDict):
            session._context.commit(session, response)
