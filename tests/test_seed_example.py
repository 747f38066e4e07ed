"""koa-session's introduction, its complete example, run in Flask."""

from __future__ import annotations

import flask

from flask_koasession import KoaSession
from tests.helpers import SECRET, cookie_value, koa_cookie, set_cookies, sign


def seed_app() -> flask.Flask:
    """koa-session's introduction, "Complete Example", in Flask."""
    app = flask.Flask(__name__)
    app.secret_key = SECRET  # the seed's app.keys: "your-session-secret"
    app.config["TESTING"] = True
    KoaSession(
        app,
        key="koa:sess",
        max_age=86_400,  # a day: the seed's maxAge: 86400000 (ms)
        auto_commit=True,
        overwrite=True,
        http_only=True,
        signed=True,
        rolling=False,
        renew=False,
        secure=False,
    )
    session = flask.session

    @app.get("/")
    def views() -> str:
        n = session.get("views", 0) + 1
        session["views"] = n
        return f"{n} views"

    @app.get("/set")
    def set_user() -> str:
        session["userId"] = "1234"
        return "UserId set in session"

    @app.get("/get")
    def get_user() -> str:
        return f"User ID: {session.get('userId', 'undefined')}"

    @app.get("/logout")
    def logout() -> str:
        session.destroy()
        return "Session Destroyed"

    @app.get("/flash")
    def flash() -> flask.Response:
        session["flash"] = "Flash Message Example"
        return flask.redirect("/")

    @app.get("/show-flash")
    def show_flash() -> str:
        message = session.get("flash")
        session["flash"] = None
        return message or "No Flash Message"

    return app


def test_seed_complete_example() -> None:
    client = seed_app().test_client()

    response = client.get("/")
    assert response.text == "1 views"
    # ':' is a token character: the cookie is named exactly as in Koa.
    assert set(set_cookies(response)) == {"koa:sess", "koa:sess.sig"}
    value = cookie_value(response, "koa:sess")
    assert value is not None
    assert cookie_value(response, "koa:sess.sig") == sign(value, name="koa:sess")
    assert client.get("/").text == "2 views"

    assert client.get("/get").text == "User ID: undefined"
    assert client.get("/set").text == "UserId set in session"
    assert client.get("/get").text == "User ID: 1234"

    response = client.get("/flash", follow_redirects=True)
    assert response.text == "3 views"
    assert client.get("/show-flash").text == "Flash Message Example"
    assert client.get("/show-flash").text == "No Flash Message"

    response = client.get("/logout")
    assert response.text == "Session Destroyed"
    assert cookie_value(response, "koa:sess") == ""
    assert client.get("/get").text == "User ID: undefined"
    assert client.get("/").text == "1 views"


def test_seed_example_reads_a_cookie_written_by_koa() -> None:
    client = seed_app().test_client()
    value, signature = koa_cookie({"views": 10, "userId": "1234"}, name="koa:sess")
    client.set_cookie("koa:sess", value)
    client.set_cookie("koa:sess.sig", signature)
    assert client.get("/get").text == "User ID: 1234"
    assert client.get("/").text == "11 views"
