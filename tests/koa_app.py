"""koa's test ``App()`` for store mode, shared by the store-mode tests:
keys ``['a', 'b']``, the extension, and one view that answers every path."""

from __future__ import annotations

import typing as t

import flask

from flask_koasession import KoaSession
from tests.helpers import EPOCH

__all__ = [
    "EPOCH",
    "KEYS",
    "TOKEN_KEY",
    "UNKNOWN",
    "AppFactory",
    "HeaderKey",
    "View",
    "build_app",
    "count_view",
]

#: A well-formed session id (UUID4) that no store knows.
UNKNOWN = "e640facf-751f-4c23-8b7d-8d6806f3fa29"
KEYS = ["a", "b"]  # koa's tests: app.keys = ['a', 'b']
View = t.Callable[[], t.Any]
AppFactory = t.Callable[..., flask.Flask]


def build_app(view: View | None = None, /, **options: t.Any) -> flask.Flask:
    """koa's ``App()``: keys ``['a', 'b']``, the extension, and ``view`` as the
    one middleware that answers every path and method."""
    app = flask.Flask(__name__)
    app.config["TESTING"] = True
    KoaSession(app, keys=KEYS, **options)
    if view is not None:
        methods = ["GET", "POST"]
        app.add_url_rule("/", "koa", view, methods=methods)
        app.add_url_rule(
            "/<path:path>", "koa_path", lambda path: view(), methods=methods
        )
    return app


TOKEN_KEY = "User-Token"


class HeaderKey:
    """koa's externalKey of ``test/externalkey.test.ts``: the id travels in a
    request and response header instead of a cookie."""

    def __init__(self, header: str = TOKEN_KEY) -> None:
        self.header = header

    def get(self, request: flask.Request) -> str | None:
        return request.headers.get(self.header)

    def set(self, response: flask.Response, key: str) -> None:
        response.headers[self.header] = key


def count_view() -> str:
    """Count views in the session (the seed's example)."""
    flask.session["views"] = flask.session.get("views", 0) + 1
    return str(flask.session["views"])
