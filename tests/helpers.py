"""Helpers shared by the test modules: apps, cookies and signal recorders."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import typing as t
from http.cookies import SimpleCookie

import flask
import pytest
from werkzeug.test import TestResponse

from flask_koasession import KoaSession, KoaSessionDict
from flask_koasession import session as koa_session
from flask_koasession.context import SessionContext
from flask_koasession.cookies import Keygrip
from flask_koasession.decide import Loaded

SECRET = "your-session-secret"

#: For a test that gives a max age under a minute on purpose (koa's own tests
#: use 100 ms; expiry tests move a clock by seconds): the set-up warning about
#: milliseconds taken for seconds is expected there, and only that warning.
short_max_age = pytest.mark.filterwarnings(
    "ignore:KoaSession option maxAge=:flask_koasession.KoaSessionConfigWarning"
)
#: The date of an expired cookie, as koa's ``cookies`` module writes it.
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


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


def route(app: flask.Flask, path: str) -> t.Callable[[t.Callable[[], t.Any]], t.Any]:
    """Register a view for GET ``path`` under an endpoint named after the path."""

    def register(view: t.Callable[[], t.Any]) -> t.Any:
        app.add_url_rule(path, path, view)
        return view

    return register


def set_cookie_headers(response: TestResponse) -> list[str]:
    """The response's ``Set-Cookie`` headers, as written."""
    return response.headers.getlist("Set-Cookie")


def payload_of(response: TestResponse, name: str = "koa.sess") -> dict[str, t.Any]:
    """The payload of the session cookie ``name`` a response sets (the
    default codec's), bookkeeping included; fails when it sets none."""
    value = cookie_value(response, name)
    assert value is not None, response.headers.getlist("Set-Cookie")
    return decode_cookie(value)


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


# -- clients, cookies, clocks and stores ------------------------------------


def koa_cookie(
    data: t.Mapping[str, t.Any],
    *,
    max_age: int | str = 86_400_000,
    expire: int | None = None,
    name: str = "koa.sess",
    keys: t.Sequence[str] = (SECRET,),
    digest: str = "sha1",
) -> tuple[str, str]:
    """``(value, signature)`` of a cookie session as koa-session writes it.

    The payload is ``data`` then ``_expire`` (``expire``, default one max age
    from now) and ``_maxAge``, or ``_session: true`` for ``"session"``.
    """
    import time

    from flask_koasession import codec

    payload = dict(data)
    if max_age == "session":
        payload["_session"] = True
    else:
        assert isinstance(max_age, int)
        now = int(time.time() * 1000)
        payload["_expire"] = now + max_age if expire is None else expire
        payload["_maxAge"] = max_age
    value = codec.encode(payload)
    signature = Keygrip(list(keys), digest).sign(f"{name}={value}")
    return value, signature


def decode_cookie(value: str) -> dict[str, t.Any]:
    """The payload of a default-codec cookie value (bookkeeping included)."""
    from flask_koasession import codec

    payload = codec.decode(value)
    assert isinstance(payload, dict)
    return payload


def raw_client(app: flask.Flask) -> flask.testing.FlaskClient:
    """A test client without a cookie jar, for hand-written ``Cookie`` headers.

    (A client with a jar replaces the ``Cookie`` header given to ``get()``.)
    """
    return app.test_client(use_cookies=False)


class RecordingStore:
    """A session store that records every call, over a real :class:`MemoryStore`.

    ``calls`` holds ``(method, key, details)`` tuples; ``details`` has the
    other arguments (``max_age``, ``rolling``, ``changed``, a deep copy of
    ``data``).
    """

    def __init__(self) -> None:
        from flask_koasession.stores import MemoryStore

        self.inner = MemoryStore()
        self.calls: list[tuple[str, str, dict[str, t.Any]]] = []

    def get(
        self, key: str, max_age: t.Any, *, rolling: bool
    ) -> dict[str, t.Any] | None:
        self.calls.append(("get", key, {"max_age": max_age, "rolling": rolling}))
        return self.inner.get(key, max_age, rolling=rolling)

    def set(
        self,
        key: str,
        data: dict[str, t.Any],
        max_age: t.Any,
        *,
        rolling: bool,
        changed: bool,
    ) -> None:
        import copy

        details = {
            "data": copy.deepcopy(data),
            "max_age": max_age,
            "rolling": rolling,
            "changed": changed,
        }
        self.calls.append(("set", key, details))
        self.inner.set(key, data, max_age, rolling=rolling, changed=changed)

    def destroy(self, key: str) -> None:
        self.calls.append(("destroy", key, {}))
        self.inner.destroy(key)

    def methods(self) -> list[str]:
        """The names of the methods called, in order."""
        return [method for method, _, _ in self.calls]

    def keys_asked(self) -> list[str]:
        """Every key any method was called with, in order."""
        return [key for _, key, _ in self.calls]

    def peek(self, key: str) -> dict[str, t.Any] | None:
        """The stored payload of ``key``, without recording a call."""
        return self.inner.get(key, 86_400_000, rolling=False)


def freeze_clock(monkeypatch: t.Any) -> list[int]:
    """Freeze the extension's clock (``codec.now_ms``) at the real time, in ms.

    Returns a one-item list: move time by changing ``clock[0]``. Cookies keep
    real-looking dates, and nothing sleeps.
    """
    import time

    clock = [int(time.time() * 1000)]
    monkeypatch.setattr("flask_koasession.codec.now_ms", lambda: clock[0])
    return clock


# -- reading Set-Cookie headers, signing Cookie headers ---------------------


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str | bool]]:
    """``(name, value, attributes)`` of one ``Set-Cookie`` line.

    The value is returned exactly as written (quotes included). Attribute names
    are lower-cased (they are case-insensitive); a flag such as ``HttpOnly``
    maps to ``True``.
    """
    pair, *parts = header.split(";")
    name, _, value = pair.strip().partition("=")
    attributes: dict[str, str | bool] = {}
    for part in parts:
        attribute, eq, attribute_value = part.strip().partition("=")
        attributes[attribute.lower()] = attribute_value if eq else True
    return name, value, attributes


def cookie_attributes(
    response: TestResponse,
) -> dict[str, tuple[str, dict[str, str | bool]]]:
    """Each cookie a response sets: ``name -> (value, attributes)``.

    Asserts that no name is set twice (koa's ``overwrite``).
    """
    result: dict[str, tuple[str, dict[str, str | bool]]] = {}
    for header in response.headers.getlist("Set-Cookie"):
        name, value, attributes = parse_set_cookie(header)
        assert name not in result, f"two Set-Cookie headers for {name}: {header}"
        result[name] = (value, attributes)
    return result


def signed_cookie_header(
    value: str,
    *,
    name: str = "koa.sess",
    keys: t.Sequence[str] = (SECRET,),
    digest: str = "sha1",
) -> str:
    """A ``Cookie`` header carrying ``name=value`` and its keygrip signature."""
    signature = Keygrip(list(keys), digest).sign(f"{name}={value}")
    return f"{name}={value}; {name}.sig={signature}"


def round_trip_app(store: t.Any, *, merge: bool) -> flask.Flask:
    """An app on ``store`` whose views each do one thing to the session, for
    tests that count what reaches the store; warmed up, so that opening a
    connection (or loading a script) is not counted."""
    app = flask.Flask(__name__)
    app.secret_key = "round-trips"
    KoaSession(app, store=store, merge=merge)
    session = koa_session

    @app.get("/new")
    def new() -> str:
        session["user"] = "alice"
        session["cart"] = []
        return "created"

    @app.get("/read")
    def read() -> str:
        return f"{session.get('user')} {session.get('cart')}"

    @app.get("/write")
    def write() -> str:
        session["views"] = session.get("views", 0) + 1
        return "written"

    @app.get("/untouched")
    def untouched() -> str:
        return "no session"

    @app.get("/login")
    def login() -> str:
        session.regenerate()
        return "regenerated"

    @app.get("/logout")
    def logout() -> str:
        session.destroy()
        return "destroyed"

    @app.get("/rolling")
    def rolling() -> str:
        session.save()  # what rolling=True does
        return "re-saved"

    warm = app.test_client()
    for path in ("/new", "/write", "/login", "/logout"):
        warm.get(path)
    return app


def load_session(app: flask.Flask) -> tuple[Loaded, dict[str, t.Any]]:
    """Load the session of the request in context, as its first use would:
    the record of what came in, and the data."""
    state = app.extensions["koasession"]
    session = KoaSessionDict(SessionContext(app, flask.request, state))
    loaded = session.context.load()
    return loaded, dict.copy(session)


def incompressible(size: int) -> str:
    """``size`` characters that deflate cannot shorten (hex of a hash chain,
    the same each run): data too large for a cookie even with
    ``compress="auto"``."""
    chunks, block = [], b"seed"
    while sum(map(len, chunks)) < size:
        block = hashlib.sha256(block).digest()
        chunks.append(base64.b64encode(block).decode("ascii"))
    return "".join(chunks)[:size]
