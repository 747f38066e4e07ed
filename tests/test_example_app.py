"""The example app: the seed's complete example, as a user first tries it."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from example_app import create_app
from tests.helpers import cookie_value
from tests.servers import RedisServer


@pytest.fixture
def client() -> FlaskClient:
    return create_app({"TESTING": True}).test_client()


def test_view_counter_counts_in_a_koa_named_cookie(client: FlaskClient) -> None:
    first = client.get("/")
    assert first.text == "1 views"
    assert cookie_value(first, "koa:sess") is not None
    assert client.get("/").text == "2 views"


def test_set_then_get_user(client: FlaskClient) -> None:
    assert client.get("/get").text == "User ID: None"
    client.get("/set")
    assert client.get("/get").text == "User ID: 1234"


def test_logout_destroys_the_session(client: FlaskClient) -> None:
    client.get("/")
    client.get("/")
    response = client.get("/logout")
    assert cookie_value(response, "koa:sess") == ""
    assert client.get("/").text == "1 views"


def test_flash_is_shown_once_after_the_redirect(client: FlaskClient) -> None:
    response = client.get("/flash", follow_redirects=True)
    assert response.text == "1 views\nFlash Message Example"
    assert client.get("/").text == "2 views"
    assert client.get("/show-flash").text == "No Flash Message"


def test_login_regenerates_and_keeps_the_counter(client: FlaskClient) -> None:
    before = cookie_value(client.get("/"), "koa:sess")
    response = client.get("/login?userId=42")
    assert response.text == "Logged in as 42"
    after = cookie_value(response, "koa:sess")
    assert after
    assert after != before
    assert client.get("/get").text == "User ID: 42"
    assert client.get("/").text == "2 views"


def count_twice_in_a_store(monkeypatch: pytest.MonkeyPatch, url: str) -> str:
    """Count two views with KOA_SESSION_STORE=url; return the session id."""
    monkeypatch.setenv("KOA_SESSION_STORE", url)
    app = create_app({"TESTING": True})
    client = app.test_client()
    response = client.get("/")
    session_id = cookie_value(response, "koa:sess")
    assert session_id is not None
    assert len(session_id) == 36  # a UUID, not data
    assert client.get("/").text == "2 views"
    store = app.extensions["koasession"].options.store
    assert store.get(session_id, 86_400_000, rolling=False)["views"] == 2
    if hasattr(store, "close"):
        store.close()
    return session_id


def test_memory_store_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    count_twice_in_a_store(monkeypatch, "memory")


def test_sqlite_store_by_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    count_twice_in_a_store(monkeypatch, f"sqlite:///{tmp_path / 'sessions.db'}")


def test_redis_store_by_environment(
    monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer
) -> None:
    url = f"redis://{redis_server.host}:{redis_server.port}/5"
    session_id = count_twice_in_a_store(monkeypatch, url)
    client = redis.Redis.from_url(url)
    try:
        assert client.ttl(session_id) == 86_410
    finally:
        client.delete(session_id)
        client.close()
