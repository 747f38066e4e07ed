"""Store mode: when the store is called (never for a request that does not
use the session, one read per request) and what it receives."""

from __future__ import annotations

import flask

from tests.helpers import RecordingStore, cookie_value
from tests.koa_app import build_app, count_view

# == laziness ==================================================================


def test_no_store_round_trip_when_the_view_does_not_use_the_session() -> None:
    store = RecordingStore()
    app = build_app(count_view, store=store)

    @app.get("/static-ish")
    def static_ish() -> str:
        return "no session here"

    client = app.test_client()
    client.get("/")
    store.calls.clear()
    response = client.get("/static-ish")
    assert store.calls == []
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers


def test_one_store_read_per_request() -> None:
    store = RecordingStore()

    def view() -> str:
        for _ in range(5):
            flask.session.get("views")
        _ = flask.session.is_new, flask.session.max_age, flask.session.external_key
        return count_view()

    client = build_app(view, store=store).test_client()
    client.get("/")
    store.calls.clear()
    client.get("/")
    assert store.methods() == ["get", "set"]


def test_read_without_change_writes_nothing() -> None:
    store = RecordingStore()
    app = build_app(count_view, store=store)

    @app.get("/read")
    def read() -> str:
        return str(flask.session.get("views"))

    client = app.test_client()
    client.get("/")
    store.calls.clear()
    assert client.get("/read").text == "1"
    assert store.methods() == ["get"]


# == what the store receives ===================================================


def test_store_set_receives_max_age_plus_ten_seconds(clock: list[int]) -> None:
    store = RecordingStore()
    response = build_app(count_view, store=store, maxAge=60_000).test_client().get("/")
    key = cookie_value(response)
    ((method, set_key, details),) = store.calls
    assert (method, set_key) == ("set", key)
    assert details["max_age"] == 70_000
    assert details["changed"] is True
    assert details["rolling"] is False
    # The payload is the data then koa's bookkeeping, in that order.
    assert list(details["data"].items()) == [
        ("views", 1),
        ("_expire", clock[0] + 60_000),
        ("_maxAge", 60_000),
    ]


def test_store_get_receives_the_configured_max_age_and_rolling() -> None:
    store = RecordingStore()
    client = build_app(
        count_view, store=store, maxAge=60_000, rolling=True
    ).test_client()
    key = cookie_value(client.get("/"))
    store.calls.clear()
    client.get("/")
    method, get_key, details = store.calls[0]
    assert (method, get_key) == ("get", key)
    assert details == {"max_age": 60_000, "rolling": True}


def test_store_flags_for_a_rolling_save_of_an_unchanged_session() -> None:
    store = RecordingStore()
    app = build_app(count_view, store=store, rolling=True)

    @app.get("/read")
    def read() -> str:
        return str(flask.session.get("views"))

    client = app.test_client()
    client.get("/")
    store.calls.clear()
    client.get("/read")
    assert store.methods() == ["get", "set"]
    details = store.calls[1][2]
    assert details["changed"] is False
    assert details["rolling"] is True
    assert details["max_age"] == 86_410_000


def test_store_flags_for_a_forced_save() -> None:
    # koa: ``changed`` is true only when the reason is "changed", not "force".
    store = RecordingStore()
    app = build_app(count_view, store=store)

    @app.get("/save")
    def save() -> str:
        flask.session.save()
        return "saved"

    client = app.test_client()
    client.get("/")
    store.calls.clear()
    client.get("/save")
    assert store.methods() == ["get", "set"]
    assert store.calls[1][2]["changed"] is False


def test_store_max_age_for_a_browser_session() -> None:
    store = RecordingStore()
    build_app(count_view, store=store, max_age="session").test_client().get("/")
    details = store.calls[0][2]
    assert details["max_age"] == "session"
    assert details["data"] == {"views": 1, "_session": True}


def test_store_max_age_after_assigning_it_in_a_view() -> None:
    store = RecordingStore()

    def view() -> str:
        flask.session["a"] = 1
        flask.session.max_age = 5  # seconds
        return "ok"

    build_app(view, store=store).test_client().get("/")
    details = store.calls[-1][2]
    assert details["max_age"] == 15_000
    assert details["data"]["_maxAge"] == 5000
