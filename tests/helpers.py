"""Helpers shared by the test modules: apps, cookies and signal recorders."""

from __future__ import annotations

import contextlib
import typing as t
from http.cookies import SimpleCookie

import flask
from werkzeug.test import TestResponse

from flask_koasession import KoaSession
from flask_koasession.signing import Keygrip

SECRET = "your-session-secret"


def make_app(**options: t.Any) -> flask.Flask:
    """A Flask app with the extension and routes that exercise the session.

    Routes: ``/`` counts views (the seed's example), ``/get`` returns the
    session as JSON, ``/set?k=v`` sets string keys, ``/nothing`` never touches
    the session, ``/touch`` reads it without a change, ``/destroy``,
    ``/regenerate``, ``/save``.
    """
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    app.config["TESTING"] = True
    KoaSession(app, **options)

    @app.get("/")
    def views() -> str:
        n = flask.session.get("views", 0) + 1
        flask.session["views"] = n
        return f"{n} views"

    @app.get("/get")
    def get() -> flask.Response:
        return flask.jsonify(dict(flask.session))

    @app.get("/set")
    def set_() -> str:
        flask.session.update(flask.request.args.to_dict())
        return "ok"

    @app.get("/nothing")
    def nothing() -> str:
        return "nothing"

    @app.get("/touch")
    def touch() -> str:
        return str(flask.session.get("views"))

    @app.get("/destroy")
    def destroy() -> str:
        flask.session.destroy()
        return "destroyed"

    @app.get("/regenerate")
    def regenerate() -> str:
        flask.session.regenerate()
        return "regenerated"

    @app.get("/save")
    def save() -> str:
        flask.session.save()
        return "saved"

    return app


def set_cookies(response: TestResponse) -> dict[str, SimpleCookie]:
    """The response's ``Set-Cookie`` headers by cookie name (each parsed)."""
    result: dict[str, SimpleCookie] = {}
    for header in response.headers.getlist("Set-Cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            assert name not in result, f"two Set-Cookie headers for {name}"
            result[name] = cookie
    return result


def cookie_value(response: TestResponse, name: str = "koa.sess") -> str | None:
    """The value a response sets for cookie ``name``, or ``None``."""
    cookies = set_cookies(response)
    return cookies[name][name].value if name in cookies else None


def sign(value: str, name: str = "koa.sess", keys: t.Sequence[str] = (SECRET,)) -> str:
    """The keygrip signature koa would send for ``name=value``."""
    return Keygrip(list(keys)).sign(f"{name}={value}")


class SignalRecorder:
    """What a signal received while recording: a list of kwargs dicts."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, dict[str, t.Any]]] = []

    def __call__(self, sender: object, **kwargs: t.Any) -> None:
        self.calls.append((sender, kwargs))

    def assert_sent_once(self, sender: object, **expected: t.Any) -> dict[str, t.Any]:
        """Assert exactly one call from ``sender`` whose kwargs include ``expected``."""
        assert len(self.calls) == 1, f"expected one call, got {self.calls!r}"
        got_sender, kwargs = self.calls[0]
        assert got_sender is sender
        for key, value in expected.items():
            assert kwargs[key] == value, (key, kwargs[key], value)
        return kwargs


@contextlib.contextmanager
def listen_to(signal: t.Any) -> t.Iterator[SignalRecorder]:
    """Record what ``signal`` sends inside the block (Flask-Login's idiom)."""
    recorder = SignalRecorder()
    signal.connect(recorder)
    try:
        yield recorder
    finally:
        signal.disconnect(recorder)
