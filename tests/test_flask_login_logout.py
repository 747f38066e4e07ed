"""The Flask-Login recipe's logout (docs/recipes.rst), with remember-me.

``logout_user()`` asks Flask-Login's ``after_request`` step to delete the
remember-me cookie by writing ``_remember = "clear"`` into the session.
``destroy()`` empties the session, so it must come first: called after
``logout_user()`` it drops that marker too, the ``remember_token`` cookie
stays, and the next request logs the user back in from it.
"""

from __future__ import annotations

import collections.abc
import pathlib
import typing as t

import flask
import flask_login
import pytest

from flask_koasession import KoaSession, session
from flask_koasession.signals import session_created, session_destroyed
from flask_koasession.stores import MemoryStore, SQLAlchemyStore
from tests.helpers import EPOCH, listen_to, make_app, set_cookies


class User(flask_login.UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


@pytest.fixture(params=["cookie", "memory", "sqlite"])
def options(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> collections.abc.Iterator[dict[str, t.Any]]:
    """The extension's options for each mode: cookie, MemoryStore, SQLite."""
    if request.param == "cookie":
        yield {}
    elif request.param == "memory":
        yield {"store": MemoryStore()}
    else:
        store = SQLAlchemyStore(f"sqlite:///{tmp_path / 's.db'}")
        try:
            yield {"store": store}
        finally:
            store.close()


def _login_app(
    order: str,
    *,
    login_required: bool = False,
    protection: str = "basic",
    **options: t.Any,
) -> flask.Flask:
    """The recipe's app; ``order`` is the logout's: ``"destroy-first"`` (the
    recipe) or ``"logout_user-first"`` (what the recipe said before)."""
    app = make_app(**options)
    manager = flask_login.LoginManager(app)
    manager.session_protection = protection
    manager.user_loader(lambda user_id: User(user_id))

    @app.post("/login")
    def login() -> str:
        session.regenerate()
        flask_login.login_user(User("7"), remember=True)
        return "logged in"

    def logout() -> str:
        if order == "destroy-first":
            session.destroy()
            flask_login.logout_user()
        else:
            flask_login.logout_user()
            session.destroy()
        return "logged out"

    if login_required:
        logout = flask_login.login_required(logout)
    app.post("/logout")(logout)

    @app.get("/whoami")
    def whoami() -> str:
        user = flask_login.current_user
        return user.id if user.is_authenticated else "anonymous"

    return app


@pytest.mark.parametrize("login_required", [False, True])
def test_logout_with_remember_me_logs_out(
    options: dict[str, t.Any], login_required: bool
) -> None:
    app = _login_app("destroy-first", login_required=login_required, **options)
    client = app.test_client()
    login = client.post("/login")
    assert "remember_token" in set_cookies(login)
    assert client.get("/whoami").text == "7"

    with (
        listen_to(session_destroyed) as destroyed,
        listen_to(session_created) as created,
    ):
        response = client.post("/logout")
    assert response.text == "logged out"
    cookies = set_cookies(response)
    # The remember-me cookie and the session cookie are deleted...
    assert cookies["remember_token"]["remember_token"]["expires"] == EPOCH
    assert cookies["koa.sess"]["koa.sess"]["expires"] == EPOCH
    assert client.get_cookie("remember_token") is None
    assert client.get_cookie("koa.sess") is None
    # ...the session is destroyed, and nothing is saved for the empty one that
    # logout_user() started by writing "_remember"...
    assert len(destroyed.calls) == 1
    assert created.calls == []
    # ...and the next request is anonymous, and stays so.
    assert client.get("/whoami").text == "anonymous"
    assert client.get("/whoami").text == "anonymous"


def test_logout_in_the_strong_protection_set_up(options: dict[str, t.Any]) -> None:
    # docs/flask-login.rst's set-up: max_age="session", strong protection.
    app = _login_app("destroy-first", protection="strong", max_age="session", **options)
    client = app.test_client()
    client.post("/login")
    assert client.get("/whoami").text == "7"
    response = client.post("/logout")
    assert set_cookies(response)["remember_token"]["remember_token"]["expires"] == (
        EPOCH
    )
    assert client.get_cookie("remember_token") is None
    assert client.get("/whoami").text == "anonymous"


def test_logout_with_only_the_remember_me_cookie_left(
    options: dict[str, t.Any],
) -> None:
    # The session expired (or the browser dropped it); the remember-me cookie
    # alone logs the user in, and the logout still deletes it.
    client = _login_app("destroy-first", **options).test_client()
    client.post("/login")
    client.delete_cookie("koa.sess")
    client.delete_cookie("koa.sess.sig")
    response = client.post("/logout")
    assert set_cookies(response)["remember_token"]["remember_token"]["expires"] == (
        EPOCH
    )
    assert client.get("/whoami").text == "anonymous"


def test_logout_user_before_destroy_leaves_the_user_remembered(
    options: dict[str, t.Any],
) -> None:
    # Why the recipe destroys first: destroy() drops the "_remember" marker
    # that logout_user() wrote, so Flask-Login keeps the remember-me cookie.
    client = _login_app("logout_user-first", **options).test_client()
    client.post("/login")
    response = client.post("/logout")
    assert "remember_token" not in set_cookies(response)
    assert client.get("/whoami").text == "7"


def test_strong_protection_with_permanent_sessions_warns_once() -> None:
    import warnings

    from flask_login import LoginManager

    from flask_koasession import KoaSessionConfigWarning

    app = flask.Flask(__name__)
    app.secret_key = "secret"
    KoaSession(app)  # max_age: a day, so every session is permanent
    manager = LoginManager(app)
    manager.session_protection = "strong"

    @app.get("/")
    def index() -> str:
        flask.session["n"] = 1
        return "ok"

    client = app.test_client()
    with pytest.warns(KoaSessionConfigWarning, match="acts as 'basic'"):
        client.get("/")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client.get("/")  # once


def test_strong_protection_with_browser_session_cookies_is_silent() -> None:
    import warnings

    from flask_login import LoginManager

    app = flask.Flask(__name__)
    app.secret_key = "secret"
    KoaSession(app, max_age="session")
    LoginManager(app).session_protection = "strong"

    @app.get("/")
    def index() -> str:
        flask.session["n"] = 1
        return "ok"

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app.test_client().get("/")
