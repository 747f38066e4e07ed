"""The options that hook into a request: after_request writes, before_save,
valid, and custom encode/decode."""

from __future__ import annotations

import base64
import json
import typing as t

import flask
import pytest

from flask_koasession import codec
from tests.helpers import cookie_value, make_app, payload_of, route


def test_after_request_writes_are_saved_and_before_save_runs_last() -> None:
    seen: list[dict[str, t.Any]] = []

    def before_save(request: flask.Request, session: t.Any) -> None:
        seen.append(dict(session))
        session["saved_by"] = "before_save"

    app = make_app(before_save=before_save)

    @app.after_request
    def stamp(response: flask.Response) -> flask.Response:
        flask.session["stamped"] = flask.request.path
        return response

    client = app.test_client()
    response = client.get("/nothing")
    assert seen == [{"stamped": "/nothing"}]
    # /get shows the session as the previous response saved it.
    assert client.get("/get").json == {
        "stamped": "/nothing",
        "saved_by": "before_save",
    }
    assert payload_of(response)["stamped"] == "/nothing"


def test_before_save_is_not_called_when_nothing_is_saved() -> None:
    calls: list[str] = []
    app = make_app(beforeSave=lambda request, session: calls.append(request.path))
    client = app.test_client()
    client.get("/")
    client.get("/touch")
    client.get("/nothing")
    assert calls == ["/"]


def test_valid_hook_ignores_a_session_of_another_user() -> None:
    # koa test "when valid and beforeSave set: should ignore session when uid
    # changed", in cookie mode.
    app = make_app(
        valid=lambda request, data: request.cookies.get("uid") == data.get("uid"),
        before_save=lambda request, session: session.update(
            uid=request.cookies.get("uid")
        ),
    )
    counter = iter(range(1000))

    @route(app, "/foo")
    def foo() -> flask.Response:
        if "foo" not in flask.session:
            flask.session["foo"] = f"{next(counter)}|uid:{flask.request.cookies['uid']}"
        return flask.jsonify(foo=flask.session["foo"], uid=flask.request.cookies["uid"])

    client = app.test_client()
    client.set_cookie("uid", "123")
    first = client.get("/foo").json
    assert client.get("/foo").json == first
    client.set_cookie("uid", "456")
    other = client.get("/foo").json
    assert other["uid"] == "456"
    assert other["foo"] != first["foo"]


def test_valid_receives_the_request_and_the_whole_payload() -> None:
    calls: list[tuple[str, dict[str, t.Any]]] = []

    def valid(request: flask.Request, data: dict[str, t.Any]) -> bool:
        calls.append((request.path, dict(data)))
        return True

    client = make_app(valid=valid, maxAge=60_000).test_client()
    client.get("/")
    client.get("/touch")
    assert len(calls) == 1
    path, data = calls[0]
    assert path == "/touch"
    assert data["views"] == 1
    assert data["_maxAge"] == 60_000
    assert "_expire" in data


def test_custom_encode_and_decode() -> None:
    encoded: list[dict[str, t.Any]] = []

    def encode(payload: dict[str, t.Any]) -> str:
        encoded.append(dict(payload))
        text = json.dumps(payload, sort_keys=True)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def decode(value: str) -> t.Any:
        padded = value + "=" * (-len(value) % 4)
        return json.loads(base64.urlsafe_b64decode(padded))

    client = make_app(encode=encode, decode=decode).test_client()
    response = client.get("/")
    assert encoded[0]["views"] == 1
    assert encoded[0]["_maxAge"] == 86_400_000
    assert cookie_value(response) == encode(encoded[0])
    assert client.get("/").text == "2 views"


@pytest.mark.parametrize(
    ("encode", "shown"),
    [
        # koa's own test codec: quotes and commas. koa writes it raw; Werkzeug
        # 3.1.9+ drops such a cookie, so the session was lost on every request.
        (lambda d: json.dumps({"enveloped": d}, separators=(",", ":")), '"'),
        (lambda d: json.dumps(d), " "),  # json.dumps's spaces
        (lambda d: "user=" + str(d.get("user")), " "),  # data with a space
        (lambda d: "ok\\" + str(len(d)), "\\"),
        (lambda d: "café", "é"),
        (lambda d: "", "empty"),
    ],
    ids=["json-compact", "json-spaces", "data-space", "backslash", "latin", "empty"],
)
def test_custom_encode_output_a_cookie_cannot_carry_is_refused(
    encode: t.Callable[[dict[str, t.Any]], str], shown: str
) -> None:
    app = make_app(encode=encode)

    @app.get("/login")
    def login() -> str:
        flask.session["user"] = "Ada Lovelace"
        return "ok"

    with pytest.raises(ValueError, match="KoaSession option encode") as info:
        app.test_client().get("/login")
    message = str(info.value)
    assert shown in message
    assert "cookie-octet" in message
    assert "base64" in message

    app.testing = False
    response = app.test_client().get("/login")
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers


def test_custom_encode_that_returns_bytes_is_a_type_error() -> None:
    app = make_app(encode=lambda d: codec.encode(d).encode())
    with pytest.raises(TypeError, match="KoaSession option encode") as info:
        app.test_client().get("/")
    assert "bytes" in str(info.value)


def test_custom_decode_that_raises_gives_a_new_session() -> None:
    def decode(value: str) -> t.Any:
        raise ValueError("not mine")

    client = make_app(decode=decode).test_client()
    client.get("/")
    assert client.get("/").text == "1 views"
