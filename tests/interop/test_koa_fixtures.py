"""Cookies captured from the real Koa server (tests/fixtures/koa_cookies.json).

These need no Node.js: each recorded cookie must decode, verify and re-encode
byte for byte with flask-koasession, and open the same session in the Flask
twin. ``encode.js`` is checked against the wire-format test vector too (that
one runs Node). Regenerate the fixtures with ``node tests/interop/make_fixtures.js``.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
from pathlib import Path

import pytest

from flask_koasession import codec
from flask_koasession.cookies import Keygrip
from tests.interop import harness
from tests.interop.flask_app import close_app, create_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "koa_cookies.json"
DOC = json.loads(FIXTURES.read_text(encoding="utf-8"))
BY_NAME = {fixture["name"]: fixture for fixture in DOC["fixtures"]}
WITH_PAYLOAD = [f for f in DOC["fixtures"] if f["payload"] is not None]


def test_fixture_set_is_complete() -> None:
    assert DOC["versions"]["koa-session"] == "7.0.2"
    expected = {
        "views",
        "nested_unicode",
        "max_age_session",
        "sha256",
        "key_rotation",
        "custom_name",
        "destroy",
        "bad_signature",
    }
    assert expected <= set(BY_NAME)


@pytest.mark.parametrize("fixture", WITH_PAYLOAD, ids=lambda f: f["name"])
def test_codec_matches_koa_bytes(fixture: dict[str, t.Any]) -> None:
    assert codec.decode(fixture["value"]) == fixture["payload"]
    assert codec.encode(fixture["payload"]) == fixture["value"]


@pytest.mark.parametrize(
    "fixture", [f for f in DOC["fixtures"] if f["signature"]], ids=lambda f: f["name"]
)
def test_signature_matches_keygrip(fixture: dict[str, t.Any]) -> None:
    name, value = fixture["cookie_name"], fixture["value"]
    grip = Keygrip(fixture["keys"], fixture["digest"])
    assert grip.sign(f"{name}={value}") == fixture["signature"]
    assert grip.index(f"{name}={value}", fixture["signature"]) == 0


@pytest.mark.parametrize("fixture", WITH_PAYLOAD, ids=lambda f: f["name"])
def test_flask_opens_the_koa_session(fixture: dict[str, t.Any]) -> None:
    name = fixture["cookie_name"]
    app = create_app(fixture["env"])
    try:
        client = app.test_client(use_cookies=False)  # send our Cookie header
        cookie = f"{name}={fixture['value']}; {name}.sig={fixture['signature']}"
        response = client.get("/session", headers={"Cookie": cookie})
        state = response.get_json()
        expire = fixture["payload"].get("_expire")
        if isinstance(expire, int) and expire < harness.now_ms():
            # default_max_age's cookie lives one day after it was generated.
            assert state["isNew"] is True
            assert [e["event"] for e in client.get("/events").get_json()] == ["expired"]
            return
        assert state["isNew"] is False
        assert state["session"] == fixture["data"]
        assert state["maxAge"] == fixture["payload"].get("_maxAge", "session")
        # A read-only request with a current signature sends no cookie.
        assert response.headers.getlist("Set-Cookie") == []
    finally:
        close_app(app)


def test_flask_removal_matches_koa() -> None:
    fixture = BY_NAME["destroy"]
    app = create_app(fixture["env"])
    try:
        lines = app.test_client().get("/destroy").headers.getlist("Set-Cookie")
    finally:
        close_app(app)
    got = {
        harness.parse_set_cookie(line)[0]: harness.parse_set_cookie(line)
        for line in lines
    }
    want = {
        harness.parse_set_cookie(line)[0]: harness.parse_set_cookie(line)
        for line in fixture["set_cookie"]
    }
    assert set(got) == set(want)
    for name, (_, value, attrs) in want.items():
        assert got[name][1] == value
        assert got[name][2]["expires"] == attrs["expires"]


def test_encode_js_reproduces_the_wire_format_vector(node_modules: None) -> None:
    vector = {
        "keys": ["a"],
        "name": "koa.sess",
        "payload": {"message": "hello", "_expire": 1, "_maxAge": 86400000},
    }
    result = subprocess.run(
        [
            harness.node_binary(),
            str(harness.INTEROP_DIR / "encode.js"),
            json.dumps(vector),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    out = json.loads(result.stdout)
    assert out["value"] == (
        "eyJtZXNzYWdlIjoiaGVsbG8iLCJfZXhwaXJlIjoxLCJfbWF4QWdlIjo4NjQwMDAwMH0="
    )
    assert out["signatures"]["sha1"] == "-SZa6gZMDsAzTLnlCKr9FLPKf38"
    assert codec.encode(vector["payload"]) == out["value"]
    assert Keygrip(["a"]).sign(out["signed"]) == out["signatures"]["sha1"]
    assert Keygrip(["a"], "sha256").sign(out["signed"]) == out["signatures"]["sha256"]
