"""``migrate_from="flask"``: sessions carried over from Flask's built-in
session cookie, so that switching to the extension logs nobody out."""

from __future__ import annotations

import datetime
import time
import typing as t

import flask
import pytest

from flask_koasession import KoaSession
from flask_koasession.stores import MemoryStore
from tests.helpers import EPOCH, cookie_attributes, decode_cookie, raw_client

SECRET = "shared-secret"


def flask_cookie(data: dict[str, t.Any], *, secret: str = SECRET) -> str:
    """A session cookie as Flask's own session writes it for ``data``."""
    app = flask.Flask("before")
    app.secret_key = secret

    @app.get("/login")
    def login() -> str:
        flask.session.update(data)
        return "ok"

    response = app.test_client().get("/login")
    cookie = cookie_attributes(response)["session"][0]
    assert cookie
    return cookie


def switched_app(**options: t.Any) -> flask.Flask:
    """The same app after the switch: the extension, with migrate_from."""
    app = flask.Flask("after")
    app.secret_key = SECRET
    KoaSession(app, migrate_from="flask", **options)

    @app.get("/whoami")
    def whoami() -> t.Any:
        return dict(flask.session)

    return app


@pytest.mark.parametrize("store", [None, "memory"])
def test_a_flask_session_is_carried_over_once(store: str | None) -> None:
    app = switched_app(store=MemoryStore() if store else None)
    old = flask_cookie({"_user_id": "42", "cart": [1, 2]})
    client = app.test_client()
    client.set_cookie("session", old)
    response = client.get("/whoami")
    assert response.json == {"_user_id": "42", "cart": [1, 2]}
    written = cookie_attributes(response)
    # Flask's cookie expired, ours written.
    assert written["session"][0] == ""
    assert written["session"][1]["expires"] == EPOCH
    assert written["koa.sess"][0]
    assert client.get_cookie("session") is None
    # The next request has only our cookie, and the same data.
    assert client.get("/whoami").json == {"_user_id": "42", "cart": [1, 2]}
    if store is None:
        assert decode_cookie(written["koa.sess"][0])["_user_id"] == "42"


def test_a_session_of_ours_wins_over_a_flask_cookie() -> None:
    app = switched_app()
    client = app.test_client()
    client.set_cookie("session", flask_cookie({"who": "old"}))
    client.get("/whoami")  # carried over once
    client.set_cookie("session", flask_cookie({"who": "stale copy"}))
    assert client.get("/whoami").json == {"who": "old"}


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(
            lambda: flask_cookie({"_user_id": "1"}, secret="other"), id="forged"
        ),
        pytest.param(
            lambda: flask_cookie({"_user_id": "1"})[:-3] + "AAA", id="tampered"
        ),
        pytest.param(lambda: "garbage", id="garbage"),
    ],
)
def test_a_bad_flask_cookie_carries_nothing(cookie: t.Callable[[], str]) -> None:
    app = switched_app()
    response = raw_client(app).get("/whoami", headers={"Cookie": f"session={cookie()}"})
    assert response.status_code == 200
    assert response.json == {}
    assert "koa.sess" not in cookie_attributes(response)


def test_an_expired_flask_cookie_carries_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Signed two days ago; Flask's lifetime here is one day.
    two_days_ago = time.time() - 2 * 86_400
    with monkeypatch.context() as patched:
        patched.setattr("itsdangerous.timed.time.time", lambda: two_days_ago)
        old = flask_cookie({"_user_id": "1"})
    app = switched_app()
    app.permanent_session_lifetime = datetime.timedelta(days=1)
    response = raw_client(app).get("/whoami", headers={"Cookie": f"session={old}"})
    assert response.json == {}


def test_a_flask_cookie_signed_with_a_fallback_key_is_carried_over() -> None:
    # As Flask's own serializer reads it: with SECRET_KEY_FALLBACKS from
    # Flask 3.1 on, without them on Flask 3.0, which has none.
    old = flask_cookie({"_user_id": "7"}, secret="previous")
    app = switched_app()
    app.config["SECRET_KEY_FALLBACKS"] = ["previous"]
    response = raw_client(app).get("/whoami", headers={"Cookie": f"session={old}"})
    fallbacks = "SECRET_KEY_FALLBACKS" in flask.Flask.default_config
    assert response.json == ({"_user_id": "7"} if fallbacks else {})


def test_without_migrate_from_a_flask_cookie_is_ignored() -> None:
    app = flask.Flask("after")
    app.secret_key = SECRET
    KoaSession(app)

    @app.get("/whoami")
    def whoami() -> t.Any:
        return dict(flask.session)

    old = flask_cookie({"_user_id": "42"})
    response = raw_client(app).get("/whoami", headers={"Cookie": f"session={old}"})
    assert response.json == {}


def test_same_cookie_name_replaces_flask_s_cookie_in_place() -> None:
    # key="session" (docs/flask.rst's set-up): our new cookie takes its name.
    app = switched_app(key="session")
    client = app.test_client()
    client.set_cookie("session", flask_cookie({"_user_id": "3"}))
    response = client.get("/whoami")
    assert response.json == {"_user_id": "3"}
    written = cookie_attributes(response)
    assert decode_cookie(written["session"][0])["_user_id"] == "3"
    assert client.get("/whoami").json == {"_user_id": "3"}


def test_migrate_from_accepts_only_flask() -> None:
    with pytest.raises(ValueError, match="migrate_from='django'"):
        KoaSession(flask.Flask("x"), migrate_from="django")
