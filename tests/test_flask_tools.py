"""Flask's own tools on top of the extension: the test client's
session_transaction() and Flask-Login."""

from __future__ import annotations

import typing as t

import flask
import flask_login

from tests.helpers import RecordingStore, make_app, payload_of, route, set_cookies

# -- Flask's test client -------------------------------------------------------


def test_session_transaction_reads_the_session() -> None:
    client = make_app().test_client()
    client.get("/")
    client.get("/")
    with client.session_transaction() as session:
        assert dict(session) == {"views": 2}
        assert session.is_new is False


def test_session_transaction_writes_the_session() -> None:
    client = make_app().test_client()
    with client.session_transaction() as session:
        session["views"] = 41
        session["user"] = {"name": "ann"}
    assert client.get("/").text == "42 views"
    assert client.get("/get").json == {"views": 42, "user": {"name": "ann"}}


def test_session_transaction_in_store_mode() -> None:
    store = RecordingStore()
    client = make_app(store=store).test_client()
    with client.session_transaction() as session:
        session["views"] = 41
    assert client.get("/").text == "42 views"
    with client.session_transaction() as session:
        assert session["views"] == 42
        key = session.external_key
    assert key is not None
    assert store.peek(key) is not None


def test_session_transaction_with_a_store_that_uses_flask_globals() -> None:
    # Stores are called during requests, so they may use current_app, g or
    # request (to log, to reach a connection pool kept on the app...). The
    # session that session_transaction() yields must give them that context
    # too, as Flask's own session would (it loads in open_session).
    class AppAwareStore(RecordingStore):
        def get(self, key: str, max_age: t.Any, *, rolling: bool) -> t.Any:
            assert flask.current_app.name
            assert flask.request.path == "/"
            return super().get(key, max_age, rolling=rolling)

    store = AppAwareStore()
    client = make_app(store=store).test_client()
    client.get("/")
    with client.session_transaction() as session:
        assert session["views"] == 1
        session["views"] = 10
    assert client.get("/").text == "11 views"


def test_session_transaction_new_session_gets_its_id_in_the_request_context() -> None:
    # genid runs while a new session loads: for the session that
    # session_transaction() yields, inside the context it was opened in.
    seen: list[str] = []

    def genid(request: flask.Request) -> str:
        seen.append(flask.request.path)
        assert request.path == "/somewhere"
        return f"id-{len(seen)}"

    client = make_app(store=RecordingStore(), genid=genid).test_client()
    with client.session_transaction("/somewhere") as session:
        session["views"] = 4
        assert seen == ["/somewhere"]
    assert client.get("/").text == "5 views"


# -- Flask-Login ---------------------------------------------------------------


class User(flask_login.UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def _login_app() -> flask.Flask:
    app = make_app()
    manager = flask_login.LoginManager(app)
    users = {"1": User("1"), "2": User("2")}

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        return users.get(user_id)

    @app.post("/login/<user_id>")
    def login(user_id: str) -> str:
        remember = flask.request.args.get("remember") == "1"
        flask_login.login_user(users[user_id], remember=remember)
        return "logged in"

    @route(app, "/private")
    @flask_login.login_required
    def private() -> str:
        return f"hello {flask_login.current_user.id}"

    @route(app, "/logout")
    def logout() -> str:
        flask_login.logout_user()
        return "logged out"

    return app


def test_flask_login_over_several_requests() -> None:
    client = _login_app().test_client()
    assert client.get("/private").status_code == 401

    response = client.post("/login/1")
    payload = payload_of(response)
    assert payload["_user_id"] == "1"
    assert payload["_fresh"] is True
    assert "_id" in payload

    for _ in range(3):
        response = client.get("/private")
        assert response.text == "hello 1"
    with client.session_transaction() as session:
        assert session["_user_id"] == "1"
        assert session["_fresh"] is True

    # The view counter and the login live side by side.
    assert client.get("/").text == "1 views"
    assert client.get("/private").text == "hello 1"

    assert client.get("/logout").text == "logged out"
    assert client.get("/private").status_code == 401
    session_data = client.get("/get").json
    assert "_user_id" not in session_data
    assert session_data["views"] == 1


def test_flask_login_remember_me_uses_an_after_request_write() -> None:
    # Flask-Login's after_request pops "_remember" from the session and sets its
    # own cookie: that write must be saved too.
    client = _login_app().test_client()
    response = client.post("/login/2?remember=1")
    assert "remember_token" in set_cookies(response)
    assert "_remember" not in payload_of(response)
    assert client.get("/private").text == "hello 2"
