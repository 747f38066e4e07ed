"""Store mode: a store that fails while loading or saving (see
:ref:`store-outages`)."""

from __future__ import annotations

import typing as t

import flask
import pytest
from werkzeug.exceptions import InternalServerError

from flask_koasession import SessionStoreError
from flask_koasession.stores import MemoryStore
from tests.helpers import RecordingStore, cookie_value, sign
from tests.koa_app import KEYS, UNKNOWN, build_app, count_view


class FailingStore(RecordingStore):
    """A store that is down for the operations listed in ``failing``."""

    def __init__(self, *failing: str) -> None:
        super().__init__()
        self.failing = set(failing)

    def _check(self, operation: str, key: str) -> None:
        if operation in self.failing:
            try:
                raise ConnectionError("connection refused")
            except ConnectionError as error:
                raise SessionStoreError("FailingStore", operation, key) from error

    def get(self, key: str, max_age: t.Any, *, rolling: bool) -> t.Any:
        self._check("get", key)
        return super().get(key, max_age, rolling=rolling)

    def set(self, key: str, data: t.Any, max_age: t.Any, **flags: bool) -> None:
        self._check("set", key)
        super().set(key, data, max_age, **flags)

    def destroy(self, key: str) -> None:
        self._check(f"destroy {key}", key)
        super().destroy(key)


def _outage_app(store: FailingStore) -> flask.Flask:
    app = build_app(count_view, store=store)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production
    return app


def test_store_error_while_loading_goes_to_the_app_error_handler() -> None:
    store = FailingStore()
    app = _outage_app(store)
    handled: list[SessionStoreError] = []

    @app.errorhandler(SessionStoreError)
    def store_down(error: SessionStoreError) -> tuple[str, int]:
        handled.append(error)
        return "Sessions are unavailable, try again shortly.", 503

    client = app.test_client()
    key = cookie_value(client.get("/"))
    store.failing.add("get")
    response = client.get("/")
    assert response.status_code == 503
    assert response.text == "Sessions are unavailable, try again shortly."
    # The session cookie is left alone: the session is not lost.
    assert "Set-Cookie" not in response.headers
    (error,) = handled
    assert (error.store, error.operation, error.key) == ("FailingStore", "get", key)
    assert isinstance(error.__cause__, ConnectionError)
    assert "connection refused" in str(error)

    store.failing.clear()
    assert client.get("/").text == "2"


def test_store_error_while_loading_without_a_handler_is_a_500() -> None:
    store = FailingStore("get")
    app = _outage_app(store)
    client = app.test_client()
    client.set_cookie("koa.sess", UNKNOWN)
    client.set_cookie("koa.sess.sig", sign(UNKNOWN, keys=KEYS[:1]))
    assert client.get("/").status_code == 500


def test_store_error_while_saving_is_a_500_with_the_original_exception() -> None:
    # A failure in save_session happens after the view's response was made, so
    # Flask does not offer it to errorhandler(SessionStoreError); it becomes an
    # InternalServerError whose original_exception is the SessionStoreError.
    store = FailingStore("set")
    app = _outage_app(store)
    seen: list[BaseException | None] = []

    @app.errorhandler(SessionStoreError)
    def never_called(error: SessionStoreError) -> tuple[str, int]:
        raise AssertionError("not offered for save errors")

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> t.Any:
        seen.append(error.original_exception)
        if isinstance(error.original_exception, SessionStoreError):
            return "Sessions are unavailable, try again shortly.", 503
        return "Internal error", 500

    response = app.test_client().get("/")
    assert response.status_code == 503
    assert response.text == "Sessions are unavailable, try again shortly."
    assert "Set-Cookie" not in response.headers
    (original,) = seen
    assert isinstance(original, SessionStoreError)
    assert original.operation == "set"


def test_store_error_while_saving_without_a_handler_is_a_500() -> None:
    app = _outage_app(FailingStore("set"))
    response = app.test_client().get("/")
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers


def test_store_error_propagates_in_testing_mode() -> None:
    # With TESTING (PROPAGATE_EXCEPTIONS unset), Flask re-raises: the test sees it.
    app = build_app(count_view, store=FailingStore("set"))
    with pytest.raises(SessionStoreError, match="FailingStore could not set"):
        app.test_client().get("/")


def test_regenerate_keeps_the_old_entry_when_the_new_one_cannot_be_saved() -> None:
    # The old entry is deleted only once the data is safe under the new id.
    store = FailingStore()

    def view() -> str:
        if flask.request.path == "/regenerate":
            flask.session.regenerate()
        return count_view()

    app = _outage_app(store)
    app.add_url_rule("/regenerate", "regenerate", view)
    client = app.test_client()
    client.get("/")
    old = store.keys_asked()[-1]
    store.failing = {"set"}
    assert client.get("/regenerate").status_code == 500
    assert store.get(old, 86_400_000, rolling=False)["views"] == 1
    store.failing = set()
    assert client.get("/").text == "2"  # the old cookie still opens the session


def test_a_login_whose_old_entry_cannot_be_deleted_leaves_no_new_entry() -> None:
    # The 5xx of a failed regenerate must not leave the user's data behind
    # under the new id, which no browser has (forever with "session").
    store = FailingStore()

    def view() -> str:
        flask.session.regenerate()
        return count_view()

    app = _outage_app(store)
    app.add_url_rule("/regenerate", "regenerate", view)
    client = app.test_client()
    client.get("/")
    old = store.keys_asked()[-1]
    store.failing = {f"destroy {old}"}
    store.calls.clear()
    assert client.get("/regenerate").status_code == 500
    [new] = [key for method, key, _ in store.calls if method == "set"]
    assert new != old
    assert store.peek(new) is None  # discarded
    assert store.peek(old) is not None  # kept: the browser still has it
    store.failing = set()
    assert client.get("/").text == "2"


class _DeleteFailingStore(MemoryStore):
    """A store with conditional writes whose conditional delete fails."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[str] = []

    def create_text(self, key: str, text: str, ttl: float | None) -> bool:
        self.created.append(key)
        return super().create_text(key, text, ttl)

    def delete_text(self, key: str, expected: str | bytes) -> t.Any:
        raise SessionStoreError("_DeleteFailingStore", "delete", key)


def test_a_merged_login_whose_delete_fails_leaves_no_new_entry() -> None:
    store = _DeleteFailingStore()

    def view() -> str:
        flask.session.regenerate()
        return count_view()

    app = _outage_app(store)  # type: ignore[arg-type]
    app.add_url_rule("/regenerate", "regenerate", view)
    client = app.test_client()
    client.get("/")
    [old] = store.created
    assert client.get("/regenerate").status_code == 500
    [_, new] = store.created
    assert store.get(new, 86_400_000, rolling=False) is None
    assert store.get(old, 86_400_000, rolling=False) is not None
