"""Signals: each sent once, by the app object, with the documented kwargs."""

from __future__ import annotations

import contextlib
import time
import typing as t

import flask
import pytest

import flask_koasession
from flask_koasession import KoaSessionDict, signals
from flask_koasession.stores import MemoryStore
from tests.helpers import (
    SignalRecorder,
    cookie_value,
    freeze_clock,
    koa_cookie,
    listen_to,
    make_app,
    short_max_age,
    sign,
)

NAMES = (
    "created",
    "renewed",
    "regenerated",
    "destroyed",
    "expired",
    "invalid",
    "missed",
    "dropped",
)


class Recorders(dict[str, SignalRecorder]):
    """One recorder per signal, by short name."""

    def sent(self) -> dict[str, int]:
        """How many times each signal was sent, for the signals that were."""
        return {name: len(rec.calls) for name, rec in self.items() if rec.calls}

    def clear(self) -> None:
        for recorder in self.values():
            recorder.calls.clear()


@pytest.fixture
def recorders() -> t.Iterator[Recorders]:
    with contextlib.ExitStack() as stack:
        result = Recorders()
        for name in NAMES:
            signal = getattr(signals, f"session_{name}")
            result[name] = stack.enter_context(listen_to(signal))
        yield result


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The extension's clock in ms, frozen; move it by changing ``clock[0]``."""
    return freeze_clock(monkeypatch)


def _with_cookie(client: t.Any, data: dict[str, t.Any], **kwargs: t.Any) -> None:
    value, signature = koa_cookie(data, **kwargs)
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)


def test_signals_are_exported_by_the_package() -> None:
    for name in NAMES:
        assert getattr(flask_koasession, f"session_{name}") is getattr(
            signals, f"session_{name}"
        )


def test_created(recorders: Recorders) -> None:
    app = make_app()
    client = app.test_client()
    client.get("/")
    kwargs = recorders["created"].assert_sent_once(app)
    session = kwargs["session"]
    assert isinstance(session, KoaSessionDict)
    assert dict(session) == {"views": 1}
    assert recorders.sent() == {"created": 1}

    # A change to an existing session is not a creation.
    recorders.clear()
    client.get("/")
    assert recorders.sent() == {}


def test_sender_is_the_app_not_the_proxy(recorders: Recorders) -> None:
    app = make_app()
    app.test_client().get("/")
    sender, _ = recorders["created"].calls[0]
    assert type(sender) is flask.Flask
    assert sender is app


def test_connecting_for_one_app_only() -> None:
    first, second = make_app(), make_app()
    recorder = SignalRecorder()
    signals.session_created.connect(recorder, first)
    try:
        second.test_client().get("/")
        assert recorder.calls == []
        first.test_client().get("/")
        recorder.assert_sent_once(first)
    finally:
        signals.session_created.disconnect(recorder, first)


def test_renewed_by_rolling(recorders: Recorders) -> None:
    app = make_app(rolling=True)
    client = app.test_client()
    client.get("/")
    recorders.clear()
    client.get("/touch")
    kwargs = recorders["renewed"].assert_sent_once(app, reason="rolling")
    assert dict(kwargs["session"]) == {"views": 1}
    assert recorders.sent() == {"renewed": 1}

    # A changed session is saved because it changed: not a renewal.
    recorders.clear()
    client.get("/")
    assert recorders.sent() == {}


@short_max_age
def test_renewed_by_renew(recorders: Recorders, clock: list[int]) -> None:
    app = make_app(renew=True, maxAge=2000)
    client = app.test_client()
    client.get("/")

    # More than half of the max age left: nothing.
    clock[0] += 500
    recorders.clear()
    client.get("/touch")
    assert recorders.sent() == {}

    # Less than half left: renewed.
    clock[0] += 700
    client.get("/touch")
    recorders["renewed"].assert_sent_once(app, reason="renew")
    assert recorders.sent() == {"renewed": 1}


def test_regenerated_in_cookie_mode(recorders: Recorders) -> None:
    app = make_app()
    client = app.test_client()
    client.get("/")
    recorders.clear()
    client.get("/regenerate")
    kwargs = recorders["regenerated"].assert_sent_once(app, old_key=None, new_key=None)
    assert dict(kwargs["session"]) == {"views": 1}
    assert recorders.sent() == {"regenerated": 1}


def test_regenerated_in_store_mode(recorders: Recorders) -> None:
    app = make_app(store=MemoryStore())
    client = app.test_client()
    old_key = cookie_value(client.get("/"))
    recorders.clear()
    new_key = cookie_value(client.get("/regenerate"))
    assert old_key is not None
    assert new_key is not None
    assert new_key != old_key
    recorders["regenerated"].assert_sent_once(app, old_key=old_key, new_key=new_key)
    assert recorders.sent() == {"regenerated": 1}


def test_destroyed_in_cookie_mode(recorders: Recorders) -> None:
    app = make_app()
    client = app.test_client()
    client.get("/")
    recorders.clear()
    client.get("/destroy")
    recorders["destroyed"].assert_sent_once(app, key=None)
    assert recorders.sent() == {"destroyed": 1}


def test_destroyed_in_store_mode(recorders: Recorders) -> None:
    app = make_app(store=MemoryStore())
    client = app.test_client()
    key = cookie_value(client.get("/"))
    assert key is not None
    recorders.clear()
    client.get("/destroy")
    recorders["destroyed"].assert_sent_once(app, key=key)
    assert recorders.sent() == {"destroyed": 1}


def test_expired_in_cookie_mode(recorders: Recorders) -> None:
    app = make_app()
    client = app.test_client()
    expire = int(time.time() * 1000) - 1000
    _with_cookie(client, {"views": 5}, max_age=60_000, expire=expire)
    assert client.get("/touch").text == "None"
    recorders["expired"].assert_sent_once(
        app, key=None, value={"views": 5, "_expire": expire, "_maxAge": 60_000}
    )
    assert recorders.sent() == {"expired": 1}


def test_expired_in_store_mode(recorders: Recorders, clock: list[int]) -> None:
    app = make_app(store=MemoryStore(), maxAge=60_000)
    client = app.test_client()
    key = cookie_value(client.get("/"))
    saved_at = clock[0]
    clock[0] += 60_001
    recorders.clear()
    assert client.get("/touch").text == "None"
    recorders["expired"].assert_sent_once(
        app,
        key=key,
        value={"views": 1, "_expire": saved_at + 60_000, "_maxAge": 60_000},
    )
    assert recorders.sent() == {"expired": 1}


def test_invalid_by_the_valid_hook(recorders: Recorders) -> None:
    app = make_app(valid=lambda request, data: data.get("views") != 5)
    client = app.test_client()
    _with_cookie(client, {"views": 5}, max_age=60_000)
    assert client.get("/touch").text == "None"
    kwargs = recorders["invalid"].assert_sent_once(app, key=None, reason="valid")
    assert kwargs["value"]["views"] == 5
    assert kwargs["value"]["_maxAge"] == 60_000
    assert recorders.sent() == {"invalid": 1}


def test_invalid_by_the_valid_hook_in_store_mode(recorders: Recorders) -> None:
    app = make_app(store=MemoryStore(), valid=lambda request, data: "views" not in data)
    client = app.test_client()
    key = cookie_value(client.get("/"))
    recorders.clear()
    assert client.get("/touch").text == "None"
    kwargs = recorders["invalid"].assert_sent_once(app, key=key, reason="valid")
    assert kwargs["value"]["views"] == 1
    assert recorders.sent() == {"invalid": 1}


def test_invalid_by_a_bad_signature(recorders: Recorders) -> None:
    app = make_app()
    client = app.test_client()
    value, _ = koa_cookie({"views": 5})
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", sign(value, keys=["not-the-key"]))
    assert client.get("/touch").text == "None"
    recorders["invalid"].assert_sent_once(app, key=None, value=None, reason="signature")
    assert recorders.sent() == {"invalid": 1}


def test_invalid_by_undecodable_data(recorders: Recorders) -> None:
    app = make_app()
    client = app.test_client()
    value = "bm90IGpzb24"  # base64 of "not json"
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", sign(value))
    assert client.get("/touch").text == "None"
    kwargs = recorders["invalid"].assert_sent_once(app, key=None, value=None)
    assert kwargs["reason"] == "decode"
    assert recorders.sent() == {"invalid": 1}


def test_missed_in_store_mode(recorders: Recorders) -> None:
    app = make_app(store=MemoryStore())
    client = app.test_client()
    unknown = "e640facf-751f-4c23-8b7d-8d6806f3fa29"
    client.set_cookie("koa.sess", unknown)
    client.set_cookie("koa.sess.sig", sign(unknown))
    assert client.get("/touch").text == "None"
    recorders["missed"].assert_sent_once(app, key=unknown)
    assert recorders.sent() == {"missed": 1}


def test_dropped_in_store_mode(recorders: Recorders) -> None:
    # Another request logs out while this one runs: its save is dropped.
    store = MemoryStore()
    app = make_app(store=store)

    @app.get("/logged-out-meanwhile")
    def logged_out_meanwhile() -> str:
        session = t.cast(KoaSessionDict, flask.session)
        key = session.external_key
        assert key is not None
        store.destroy(key)
        session["theme"] = "dark"
        return "written"

    client = app.test_client()
    client.get("/")
    key = cookie_value(client.get("/"))
    recorders.clear()
    response = client.get("/logged-out-meanwhile")
    assert response.headers.getlist("Set-Cookie") == []
    kwargs = recorders["dropped"].assert_sent_once(app, key=key, reason="gone")
    assert isinstance(kwargs["session"], KoaSessionDict)
    assert recorders.sent() == {"dropped": 1}
    assert client.get("/get").json == {}


# -- nothing happened, nothing sent --------------------------------------------


def test_no_signal_when_the_session_is_not_touched(recorders: Recorders) -> None:
    app = make_app(rolling=True)
    client = app.test_client()
    client.get("/")
    recorders.clear()
    client.get("/nothing")
    assert recorders.sent() == {}


def test_no_signal_for_an_unchanged_session(recorders: Recorders) -> None:
    app = make_app()
    client = app.test_client()
    client.get("/")
    recorders.clear()
    client.get("/touch")
    client.get("/touch")
    assert recorders.sent() == {}


def test_no_signal_for_a_new_empty_session(recorders: Recorders) -> None:
    app = make_app()
    client = app.test_client()
    assert client.get("/touch").text == "None"
    assert client.get("/get").json == {}
    assert recorders.sent() == {}


def test_no_signal_for_an_unchanged_store_session(recorders: Recorders) -> None:
    app = make_app(store=MemoryStore())
    client = app.test_client()
    client.get("/")
    recorders.clear()
    client.get("/touch")
    client.get("/nothing")
    assert recorders.sent() == {}


@short_max_age
def test_renew_does_not_fire_while_the_session_is_fresh(
    recorders: Recorders, clock: list[int]
) -> None:
    app = make_app(renew=True, maxAge=10_000)
    client = app.test_client()
    client.get("/")
    recorders.clear()
    for _ in range(4):
        clock[0] += 1000
        client.get("/touch")
    assert recorders.sent() == {}
