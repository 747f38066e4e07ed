"""Flash messages: koa's read-once ``session.flash``, and Flask's ``flash()``."""

from __future__ import annotations

import typing as t

import flask
import pytest
from markupsafe import Markup

from flask_koasession import pop_flash, set_flash
from flask_koasession.stores import MemoryStore
from tests.helpers import cookie_value, decode_cookie, koa_cookie, make_app


def flash_app(**options: t.Any) -> flask.Flask:
    """``make_app`` plus ``POST /flash`` (the JSON body becomes the flash),
    ``/pop`` (the flash as JSON) and ``/pop-default``."""
    app = make_app(**options)

    @app.post("/flash")
    def set_json() -> str:
        set_flash(flask.request.get_json())
        return "set"

    @app.get("/pop")
    def pop() -> flask.Response:
        return flask.jsonify(message=pop_flash())

    @app.get("/pop-default")
    def pop_default() -> str:
        return str(pop_flash(default="nothing"))

    return app


@pytest.fixture
def client_flash() -> flask.testing.FlaskClient:
    return flash_app().test_client()


def test_set_then_pop_once(client_flash: flask.testing.FlaskClient) -> None:
    client_flash.post("/flash", json="Saved!")
    assert client_flash.get("/pop").json == {"message": "Saved!"}
    # The removal was saved: the next request has no message.
    assert client_flash.get("/pop").json == {"message": None}
    assert client_flash.get("/get").json == {}


def test_clearing_is_saved_in_the_cookie(
    client_flash: flask.testing.FlaskClient,
) -> None:
    response = client_flash.post("/flash", json="hello")
    assert decode_cookie(cookie_value(response) or "")["flash"] == "hello"
    # The flash was all the session held: popping it empties the session,
    # which is removed (its cookie expired), as Flask removes one.
    response = client_flash.get("/pop")
    assert response.json == {"message": "hello"}
    assert cookie_value(response) == ""
    assert client_flash.get("/pop").json == {"message": None}


def test_default_when_absent(client_flash: flask.testing.FlaskClient) -> None:
    assert client_flash.get("/pop-default").text == "nothing"
    assert client_flash.get("/pop").json == {"message": None}


@pytest.mark.parametrize(
    "value",
    [
        "text",
        "ünïcødé ✓",
        42,
        1.5,
        True,
        ["a", 1, None],
        {"level": "warning", "text": "Careful", "items": [1, {"deep": True}]},
    ],
    ids=["str", "unicode", "int", "float", "bool", "list", "dict"],
)
def test_any_json_value(client_flash: flask.testing.FlaskClient, value: t.Any) -> None:
    client_flash.post("/flash", json=value)
    assert client_flash.get("/pop").json == {"message": value}
    assert client_flash.get("/pop").json == {"message": None}


def test_pop_flash_without_a_message_does_not_create_a_session(
    client_flash: flask.testing.FlaskClient,
) -> None:
    response = client_flash.get("/pop")
    assert "Set-Cookie" not in response.headers


def test_flash_key_option() -> None:
    client = flash_app(flash_key="notice").test_client()
    response = client.post("/flash", json="hi")
    payload = decode_cookie(cookie_value(response) or "")
    assert payload["notice"] == "hi"
    assert "flash" not in payload
    assert client.get("/pop").json == {"message": "hi"}
    assert client.get("/pop").json == {"message": None}


def test_flash_in_store_mode() -> None:
    client = flash_app(store=MemoryStore()).test_client()
    client.post("/flash", json="stored")
    assert client.get("/pop").json == {"message": "stored"}
    assert client.get("/pop").json == {"message": None}


def test_pop_flash_in_a_template() -> None:
    app = flash_app()

    @app.get("/page")
    def page() -> str:
        return flask.render_template_string(
            "{% set m = pop_flash() %}{% if m %}<p>{{ m }}</p>{% else %}-{% endif %}"
        )

    client = app.test_client()
    client.post("/flash", json="<Saved>")
    assert client.get("/page").text == "<p>&lt;Saved&gt;</p>"
    assert client.get("/page").text == "-"


def test_pop_flash_in_a_template_with_a_default() -> None:
    app = flash_app()

    @app.get("/page")
    def page() -> str:
        return flask.render_template_string("{{ pop_flash(default='none') }}")

    assert app.test_client().get("/page").text == "none"


def test_seed_flash_example() -> None:
    # koa-session's introduction: ``/flash`` sets it and redirects to ``/``, which
    # shows it once; after that ``/`` says there is none.
    app = make_app()

    @app.get("/flash")
    def flash_route() -> flask.Response:
        set_flash("Flash Message Example")
        return flask.redirect("/")

    app.view_functions["views"] = lambda: pop_flash(default="No Flash Message")

    client = app.test_client()
    response = client.get("/flash", follow_redirects=True)
    # redirect()'s default code: 302 up to Flask 3.1, 303 from Flask 3.2.
    (hop,) = response.history
    assert hop.status_code == flask.redirect("/").status_code
    assert hop.headers["Location"] == "/"
    assert response.text == "Flash Message Example"
    assert client.get("/").text == "No Flash Message"


def test_koa_null_flash_counts_as_no_message() -> None:
    # A Koa app "clears" its flash with ``ctx.session.flash = null``.
    app = flash_app()
    client = app.test_client()
    value, signature = koa_cookie({"flash": None, "user": "ann"})
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)
    assert client.get("/pop-default").text == "nothing"
    # The null is cleaned up; the rest of the session stays.
    assert client.get("/get").json == {"user": "ann"}


def test_flash_set_by_koa_is_shown_once() -> None:
    app = flash_app()
    client = app.test_client()
    value, signature = koa_cookie({"flash": "from koa"})
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)
    assert client.get("/pop").json == {"message": "from koa"}
    assert client.get("/pop").json == {"message": None}


# -- Flask's own flash() -------------------------------------------------------


def test_flask_flash_with_categories_round_trips() -> None:
    app = make_app()

    @app.get("/flask-flash")
    def flask_flash() -> str:
        flask.flash("Plain")
        flask.flash("Careful", "warning")
        flask.flash(Markup("<b>Bold</b>"), "info")
        return "flashed"

    seen: list[list[t.Any]] = []

    @app.get("/messages")
    def messages() -> str:
        seen.append(flask.get_flashed_messages(with_categories=True))
        return "read"

    @app.get("/template")
    def template() -> str:
        return flask.render_template_string(
            "{% for c, m in get_flashed_messages(with_categories=true) %}"
            "[{{ c }}:{{ m }}]{% endfor %}"
        )

    client = app.test_client()
    client.get("/flask-flash")
    client.get("/messages")
    assert seen[0] == [
        ("message", "Plain"),
        ("warning", "Careful"),
        ("info", Markup("<b>Bold</b>")),
    ]
    # Tuples and Markup survive the trip through the cookie.
    assert all(type(item) is tuple for item in seen[0])
    assert type(seen[0][2][1]) is Markup
    # Read once: gone, and the removal was saved.
    client.get("/messages")
    assert seen[1] == []
    assert "_flashes" not in client.get("/get").json

    client.get("/flask-flash")
    # Markup is not escaped again; the plain string is.
    assert client.get("/template").text == (
        "[message:Plain][warning:Careful][info:<b>Bold</b>]"
    )


def test_flask_flash_and_pop_flash_live_side_by_side() -> None:
    app = flash_app()

    @app.get("/both")
    def both() -> str:
        flask.flash("flask message")
        set_flash("koa message")
        return "ok"

    @app.get("/read-both")
    def read_both() -> flask.Response:
        return flask.jsonify(
            flask=flask.get_flashed_messages(), koa=pop_flash(default=None)
        )

    client = app.test_client()
    client.get("/both")
    assert client.get("/read-both").json == {
        "flask": ["flask message"],
        "koa": "koa message",
    }
    assert client.get("/read-both").json == {"flask": [], "koa": None}


@pytest.mark.parametrize("helper", ["set_flash", "pop_flash"])
def test_flash_helpers_without_the_extension_say_what_to_do(helper: str) -> None:
    app = flask.Flask(__name__)
    app.secret_key = "secret"
    app.testing = True

    @app.get("/")
    def view() -> str:
        if helper == "set_flash":
            set_flash("Saved!")
        else:
            pop_flash()
        return "unreachable"

    with pytest.raises(RuntimeError, match=helper) as info:
        app.test_client().get("/")
    message = str(info.value)
    assert "KoaSession(app)" in message
    assert "init_app" in message
