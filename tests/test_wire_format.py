"""The bytes on the wire, as /work/shared/design/wire-format.md describes them.

The reference is koa-session 7.0.2 with the ``cookies`` and ``keygrip`` modules
on Node 20: the test vector of the design document, byte strings computed with
Node (noted where used) and real cookies captured from a running Koa app in
``tests/fixtures/koa_cookies.json`` (made by ``tests/interop/make_fixtures.js``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import email.utils
import hmac
import json
import pathlib
import typing as t
import uuid

import flask
import pytest
from markupsafe import Markup
from werkzeug.http import http_date

from flask_koasession import (
    KoaSession,
    codec,
    session_expired,
    session_invalid,
)
from flask_koasession.cookies import Keygrip
from tests.helpers import (
    SECRET,
    cookie_attributes,
    decode_cookie,
    freeze_clock,
    koa_cookie,
    listen_to,
    parse_set_cookie,
    raw_client,
    sign,
    signed_cookie_header,
)
from tests.interop.flask_app import close_app, create_app

EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
DAY = 86_400_000
#: 2100-01-01: an ``_expire`` that stays in the future.
FUTURE = 4_102_444_800_000

# The test vector of wire-format.md.
VECTOR_KEYS = ["a"]
VECTOR_VALUE = "eyJtZXNzYWdlIjoiaGVsbG8iLCJfZXhwaXJlIjoxLCJfbWF4QWdlIjo4NjQwMDAwMH0="
VECTOR_SIGNATURE = "-SZa6gZMDsAzTLnlCKr9FLPKf38"
VECTOR_PAYLOAD = {"message": "hello", "_expire": 1, "_maxAge": DAY}

FIXTURES_PATH = pathlib.Path(__file__).parent / "fixtures" / "koa_cookies.json"
_DOCUMENT = json.loads(FIXTURES_PATH.read_text())
FIXTURES = {f["name"]: f for f in _DOCUMENT["fixtures"]}


def make_app(**options: t.Any) -> flask.Flask:
    """An app whose ``/set`` stores a JSON body (in order) and ``/get`` shows it."""
    app = flask.Flask(__name__)
    app.testing = True
    app.secret_key = SECRET
    KoaSession(app, **options)

    @app.post("/set")
    def set_() -> str:
        flask.session.update(flask.request.get_json())
        return "ok"

    @app.get("/get")
    def get() -> t.Any:
        return {"data": dict(flask.session), "new": flask.session.is_new}

    @app.get("/destroy")
    def destroy() -> str:
        flask.session.destroy()
        return "destroyed"

    return app


def post_json(app: flask.Flask, data: t.Any, **kwargs: t.Any) -> t.Any:
    """POST ``data`` to ``/set`` as JSON in its own key order.

    (The test client's ``json=`` sorts keys, as Flask's JSON provider does.)
    """
    return raw_client(app).post(
        "/set", data=json.dumps(data), content_type="application/json", **kwargs
    )


def written_json(response: t.Any, name: str = "koa.sess") -> bytes:
    """The exact JSON bytes inside the session cookie a response sets."""
    return base64.b64decode(cookie_attributes(response)[name][0])


# --- the test vector ------------------------------------------------------------


def test_vector_signature() -> None:
    keygrip = Keygrip(VECTOR_KEYS)
    assert keygrip.sign(f"koa.sess={VECTOR_VALUE}") == VECTOR_SIGNATURE
    assert keygrip.index(f"koa.sess={VECTOR_VALUE}", VECTOR_SIGNATURE) == 0
    # Every key verifies; the index says which (koa re-signs when it is not 0).
    rotated = Keygrip(["new", *VECTOR_KEYS])
    assert rotated.index(f"koa.sess={VECTOR_VALUE}", VECTOR_SIGNATURE) == 1
    assert rotated.index(f"koa.sess={VECTOR_VALUE}x", VECTOR_SIGNATURE) == -1


def test_vector_codec() -> None:
    payload = codec.decode(VECTOR_VALUE)
    assert payload == VECTOR_PAYLOAD
    assert list(payload) == ["message", "_expire", "_maxAge"]
    assert codec.encode(VECTOR_PAYLOAD) == VECTOR_VALUE


def test_app_writes_the_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = freeze_clock(monkeypatch)
    clock[0] = 1 - DAY  # so that _expire = now + maxAge = 1
    app = make_app(keys=VECTOR_KEYS)

    response = post_json(app, {"message": "hello"})
    cookies = cookie_attributes(response)
    assert cookies["koa.sess"][0] == VECTOR_VALUE
    assert cookies["koa.sess.sig"][0] == VECTOR_SIGNATURE


def test_app_reads_the_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = freeze_clock(monkeypatch)
    clock[0] = 0  # _expire is 1: one millisecond left
    app = make_app(keys=VECTOR_KEYS)
    cookie = f"koa.sess={VECTOR_VALUE}; koa.sess.sig={VECTOR_SIGNATURE}"

    response = raw_client(app).get("/get", headers={"Cookie": cookie})
    assert response.json == {"data": {"message": "hello"}, "new": False}
    assert "Set-Cookie" not in response.headers


def test_vector_is_expired_now() -> None:
    app = make_app(keys=VECTOR_KEYS)
    cookie = f"koa.sess={VECTOR_VALUE}; koa.sess.sig={VECTOR_SIGNATURE}"

    with listen_to(session_expired) as expired:
        response = raw_client(app).get("/get", headers={"Cookie": cookie})
    assert response.json == {"data": {}, "new": True}
    expired.assert_sent_once(app, key=None, value=VECTOR_PAYLOAD)


# --- the value cookie: JSON.stringify's bytes -----------------------------------


def test_json_is_compact_raw_and_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = freeze_clock(monkeypatch)
    app = make_app()
    data = {
        "z": 1,
        "a": "Zoë Ångström",
        "emoji": "😀👍🏽",
        "nested": {"list": [1, 2.5, -3, None, True, False, {}], "empty": []},
        "escapes": 'a "q" \\ / <tag> &\n\t\x01',
    }

    response = post_json(app, data)
    # What JSON.stringify({...data, _expire, _maxAge}) writes (checked on Node):
    # no whitespace, UTF-8 raw, insertion order, "/" and "<" unescaped,
    # control characters as \n, \t and \u0001.
    expected = (
        '{"z":1,"a":"Zoë Ångström","emoji":"😀👍🏽",'
        '"nested":{"list":[1,2.5,-3,null,true,false,{}],"empty":[]},'
        '"escapes":"a \\"q\\" \\\\ / <tag> &\\n\\t\\u0001",'
        f'"_expire":{clock[0] + DAY},"_maxAge":{DAY}}}'
    )
    assert written_json(response) == expected.encode("utf-8")


def test_bookkeeping_comes_last(monkeypatch: pytest.MonkeyPatch) -> None:
    # _expire then _maxAge are appended after the data, even data written
    # after the session was loaded.
    clock = freeze_clock(monkeypatch)
    app = make_app()
    value, signature = koa_cookie({"first": 1}, expire=FUTURE)
    cookie = f"koa.sess={value}; koa.sess.sig={signature}"

    response = post_json(app, {"second": 2}, headers={"Cookie": cookie})
    assert (
        written_json(response)
        == (
            f'{{"first":1,"second":2,"_expire":{clock[0] + DAY},"_maxAge":{DAY}}}'
        ).encode()
    )


def test_max_age_session_payload() -> None:
    app = make_app(max_age="session")

    response = post_json(app, {"views": 1})
    assert written_json(response) == b'{"views":1,"_session":true}'


def test_lone_surrogate_is_escaped_like_json_stringify() -> None:
    # JSON.stringify escapes a lone surrogate (\ud800) and still writes every
    # other character raw. Node 20:
    #   Buffer.from(JSON.stringify({a: "é\ud800x😀", b: "\udc00"})).toString("base64")
    expected = "eyJhIjoiw6lcdWQ4MDB48J+YgCIsImIiOiJcdWRjMDAifQ=="
    assert codec.encode({"a": "é\ud800x😀", "b": "\udc00"}) == expected


def test_underscore_keys_are_kept_but_bookkeeping_is_reserved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Differs from koa: koa drops every key starting with "_" when it writes;
    # Flask apps keep data there (_flashes, _user_id, _fresh), so only _expire,
    # _maxAge and _session are reserved. A view that sets those writes nothing
    # of its own under them.
    clock = freeze_clock(monkeypatch)
    app = make_app()
    data = {
        "_user_id": "42",
        "_fresh": True,
        "_flashes": [["message", "hi"]],
        "_expire": 1,
        "_maxAge": 5,
        "_session": True,
    }

    response = post_json(app, data)
    assert (
        written_json(response)
        == (
            '{"_user_id":"42","_fresh":true,"_flashes":[["message","hi"]],'
            f'"_expire":{clock[0] + DAY},"_maxAge":{DAY}}}'
        ).encode()
    )


# --- the signature cookie -------------------------------------------------------


def test_signature_is_keygrip_over_name_and_value() -> None:
    app = make_app(key="custom:name")

    response = post_json(app, {"a": 1})
    cookies = cookie_attributes(response)
    value = cookies["custom:name"][0]
    assert cookies["custom:name.sig"][0] == sign(value, name="custom:name")
    assert len(cookies["custom:name.sig"][0]) == 27  # SHA-1, unpadded base64


@pytest.mark.parametrize(
    "digest", ["sha1", "sha224", "sha256", "sha384", "sha512", "md5", "blake2b"]
)
def test_signatures_are_the_hmac_of_the_standard_library(digest: str) -> None:
    # Keygrip builds HMAC from hashlib itself (RFC 2104): it must agree with
    # hmac for keys shorter than, as long as and longer than a hash block,
    # empty and non-ASCII data, and verify with every key.
    for key_length in (0, 1, 20, 63, 64, 65, 127, 128, 129, 300):
        key = (bytes(range(256)) * 2)[:key_length]
        for data in ("", "koa.sess=", "koa.sess=eyJhIjoxfQ", "é€😀" * 40):
            expected = hmac.digest(key, data.encode(), digest)
            signature = Keygrip([key], digest).sign(data)
            assert base64.urlsafe_b64decode(signature + "==") == expected
            rotated = Keygrip([b"newer", key], digest)
            assert rotated.index(data, signature) == 1


def test_sha256_digest() -> None:
    fixture = FIXTURES["sha256"]
    keygrip = Keygrip(fixture["keys"], "sha256")
    assert keygrip.sign(f"koa.sess={fixture['value']}") == fixture["signature"]
    assert len(fixture["signature"]) == 43

    app = make_app(digest="sha256")
    response = post_json(app, {"a": 1})
    cookies = cookie_attributes(response)
    signature = cookies["koa.sess.sig"][0]
    assert len(signature) == 43
    assert signature == Keygrip([SECRET], "sha256").sign(
        f"koa.sess={cookies['koa.sess'][0]}"
    )


def test_removal_cookies() -> None:
    # Destroy: NAME= and NAME.sig=<signature of "NAME=">, expired in 1970, with
    # the same path, domain, secure and samesite as the session cookies.
    options = {"path": "/app", "domain": "example.com", "secure": True}
    app = make_app(same_site="Strict", **options)

    response = raw_client(app).get("/destroy")
    cookies = cookie_attributes(response)
    assert set(cookies) == {"koa.sess", "koa.sess.sig"}
    assert cookies["koa.sess"][0] == ""
    assert cookies["koa.sess.sig"][0] == sign("")
    for _, attributes in cookies.values():
        assert attributes == {
            "expires": EPOCH,
            "path": "/app",
            "domain": "example.com",
            "secure": True,
            "httponly": True,
            "samesite": "strict",
        }


# --- Set-Cookie attributes ------------------------------------------------------


def test_default_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = freeze_clock(monkeypatch)
    app = make_app()

    response = post_json(app, {"a": 1})
    cookies = cookie_attributes(response)
    assert set(cookies) == {"koa.sess", "koa.sess.sig"}
    for _, attributes in cookies.values():
        # koa writes expires, never Max-Age; no samesite unless configured; no
        # secure over http; no domain.
        assert attributes == {
            "expires": http_date((clock[0] + DAY) / 1000),
            "path": "/",
            "httponly": True,
        }


def test_expires_follows_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = freeze_clock(monkeypatch)
    app = make_app(max_age=datetime.timedelta(hours=1))

    response = post_json(app, {"a": 1})
    expires = http_date((clock[0] + 3_600_000) / 1000)
    for _, attributes in cookie_attributes(response).values():
        assert attributes["expires"] == expires
        assert "max-age" not in attributes


def test_no_expires_for_browser_session_cookie() -> None:
    app = make_app(max_age="session")

    response = post_json(app, {"a": 1})
    for _, attributes in cookie_attributes(response).values():
        assert attributes == {"path": "/", "httponly": True}


@pytest.mark.parametrize(
    ("secure", "base_url", "expected"),
    [
        (None, "http://localhost", False),
        (None, "https://localhost", True),
        (False, "https://localhost", False),
        # Differs from koa: the cookies module throws "Cannot send secure cookie
        # over unencrypted connection"; the extension sends it (a proxy in front
        # often terminates TLS).
        (True, "http://localhost", True),
    ],
    ids=["auto-http", "auto-https", "off-https", "on-http"],
)
def test_secure(secure: bool | None, base_url: str, expected: bool) -> None:
    app = make_app(secure=secure)

    response = post_json(app, {"a": 1}, base_url=base_url)
    assert response.status_code == 200
    for _, attributes in cookie_attributes(response).values():
        assert attributes.get("secure", False) is expected


@pytest.mark.parametrize(
    ("option", "written"),
    # koa's cookies module writes the attribute in lowercase; so do we.
    [("lax", "lax"), ("STRICT", "strict"), ("None", "none"), ("Lax", "lax")],
)
def test_same_site(option: str, written: str) -> None:
    app = make_app(same_site=option)

    response = post_json(app, {"a": 1})
    for _, attributes in cookie_attributes(response).values():
        assert attributes["samesite"] == written


@pytest.mark.parametrize(
    ("option", "written"),
    # koa's cookies module: sameSite true writes "samesite=strict", false none.
    [(True, "strict"), (False, None)],
    ids=["true", "false"],
)
def test_same_site_true_and_false_as_in_koa(option: bool, written: str | None) -> None:
    app = make_app(same_site=option)
    assert app.extensions["koasession"].options.same_site == (
        "Strict" if option else None
    )

    response = post_json(app, {"a": 1})
    for _, attributes in cookie_attributes(response).values():
        assert attributes.get("samesite") == written


def test_domain_path_partitioned_on_both_cookies() -> None:
    app = make_app(domain="example.com", path="/app", partitioned=True, http_only=False)

    response = post_json(app, {"a": 1}, base_url="https://x")
    cookies = cookie_attributes(response)
    value_attributes = cookies["koa.sess"][1]
    assert value_attributes["domain"] == "example.com"
    assert value_attributes["path"] == "/app"
    assert value_attributes["partitioned"] is True
    assert "httponly" not in value_attributes
    assert cookies["koa.sess.sig"][1] == value_attributes


# --- lenient base64, as Node's Buffer.from(value, "base64") ---------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a":1}', {"a": 1}),
        (' \t\n{"a":1}\r\n ', {"a": 1}),  # JSON.parse allows whitespace
        ('{"a":1}x', "Extra data"),
        ("{}{}", "Extra data"),
        ("", "Expecting value"),
        (" ", "Expecting value"),
        ("NaN", "not valid JSON"),
        ('{"_tagged":true," t":[1,2]} ', {" t": [1, 2]}),  # not a marker
        ('{"a":{" t":[1,2]},"_tagged":true}\n', {"a": (1, 2)}),
    ],
)
def test_json_is_read_as_json_parse_reads_it(text: str, expected: t.Any) -> None:
    if isinstance(expected, str):  # the error's message
        with pytest.raises(ValueError, match=expected):
            codec.loads_json(text)
    else:
        assert codec.loads_json(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    # Expected bytes computed with Node 20's Buffer.from(value, "base64").
    [
        ("eyJhIjoxfQ==", b'{"a":1}'),
        ("eyJhIjoxfQ", b'{"a":1}'),  # no padding
        ("eyJhIjoxfQ===", b'{"a":1}'),
        ("ey.JhI!joxf Q", b'{"a":1}'),  # stray characters skipped
        ("eyJh*IjoxfQ==", b'{"a":1}'),
        ("ey%JhIjoxfQ", b'{"a":1}'),
        ("eyJhIjoxfQ==eyJhIjoxfQ==", b'{"a":1}'),  # stops at padding
        ("eyJhIjoxfQ=x", b'{"a":1}'),
        ("eyJhIj=oxfQ", b'{"a"'),
        ("e=yJhIjoxfQ", b""),
        ("+/-_", b"\xfb\xff\xbf"),  # both alphabets
        ("a", b""),
        ("abcde", b"i\xb7\x1d"),
    ],
)
def test_lenient_base64(value: str, expected: bytes) -> None:
    assert codec.b64decode_lenient(value) == expected


@pytest.mark.parametrize(
    "variant",
    [
        lambda v: v.translate(str.maketrans("+/", "-_")),
        lambda v: v.rstrip("="),
        lambda v: v[:4] + "." + v[4:12] + "!" + v[12:],
        lambda v: v.translate(str.maketrans("+/", "-_")).rstrip("="),
    ],
    ids=["url-safe", "no-padding", "stray-characters", "url-safe-no-padding"],
)
def test_lenient_cookie_value_is_accepted(variant: t.Callable[[str], str]) -> None:
    # The signature covers the value as sent, so a Koa app could have signed it.
    data = {"s": "~~~???>>>", "n": 10}
    value, _ = koa_cookie(data, expire=FUTURE)
    assert "+" in value
    assert "/" in value
    assert value.endswith("=")
    sent = variant(value)
    assert sent != value

    app = make_app()
    response = raw_client(app).get(
        "/get", headers={"Cookie": signed_cookie_header(sent)}
    )
    assert response.json == {"data": data, "new": False}


def test_invalid_utf8_is_replaced_as_node_does() -> None:
    # Node 20: JSON.parse(Buffer.from(value, "base64").toString("utf8")) gives
    # U+FFFD per maximal invalid subsequence: 9 characters here.
    value = "eyJhIjoi/+KCePCfmMCv7aCAIn0="
    assert codec.decode(value) == {"a": "\ufffd\ufffdx" + "\ufffd" * 6}


# --- values JSON cannot hold ----------------------------------------------------


def test_tagged_values_round_trip() -> None:
    app = flask.Flask(__name__)
    app.testing = True
    app.secret_key = SECRET
    KoaSession(app)
    values = {
        "pair": (1, "two"),
        "raw": b"\x00\xff koa",
        "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "html": Markup("<b>bold</b>"),
        "looks_tagged": {" t": [1]},
        "plain": {"list": [1, "x"], "text": "é"},
    }

    @app.get("/write")
    def write() -> str:
        flask.session.update(values)
        return "ok"

    @app.get("/read")
    def read() -> str:
        assert dict(flask.session) == values
        return ",".join(type(flask.session[k]).__name__ for k in values)

    response = raw_client(app).get("/write")
    payload = json.loads(written_json(response))
    # Plain JSON stays plain; only the others carry Flask's tags.
    assert payload["plain"] == {"list": [1, "x"], "text": "é"}
    assert payload["pair"] == {" t": [1, "two"]}
    assert payload["id"] == {" u": "12345678123456781234567812345678"}
    assert payload["html"] == {" m": "<b>bold</b>"}
    assert payload["raw"] == {" b": "AP8ga29h"}
    assert payload["when"] == {" d": "Mon, 06 May 2024 07:08:09 GMT"}
    assert payload["looks_tagged"] == {" di": {" t__": [1]}}

    cookie = "; ".join(f"{n}={v}" for n, (v, _) in cookie_attributes(response).items())
    again = raw_client(app).get("/read", headers={"Cookie": cookie})
    assert again.get_data(as_text=True) == "tuple,bytes,datetime,UUID,Markup,dict,dict"


def test_plain_json_has_no_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = freeze_clock(monkeypatch)
    app = make_app()
    data = {"a": [1, [2, {"b": None}]], "c": {"d": {"e": "f"}}, "g": 1.5}

    response = post_json(app, data)
    assert (
        written_json(response)
        == (
            '{"a":[1,[2,{"b":null}]],"c":{"d":{"e":"f"}},"g":1.5,'
            f'"_expire":{clock[0] + DAY},"_maxAge":{DAY}}}'
        ).encode()
    )


def test_unsigned_cookie_is_plain_json_both_ways() -> None:
    # Anyone can forge an unsigned cookie, so nothing in it is turned back into
    # Python types: it is written as json.dumps writes (tuples become arrays).
    app = make_app(signed=False)

    @app.get("/tuple")
    def tuple_() -> str:
        flask.session["pair"] = (1, "two")
        flask.session["looks_tagged"] = {" t": [1]}
        return "ok"

    response = raw_client(app).get("/tuple")
    payload = json.loads(written_json(response))
    assert payload["pair"] == [1, "two"]
    assert payload["looks_tagged"] == {" t": [1]}
    assert "_tagged" not in payload
    cookie = f"koa.sess={cookie_attributes(response)['koa.sess'][0]}"
    again = raw_client(app).get("/get", headers={"Cookie": cookie})
    assert again.json["data"] == {"pair": [1, "two"], "looks_tagged": {" t": [1]}}


def test_unsigned_cookie_refuses_values_json_cannot_hold() -> None:
    app = make_app(signed=False)

    @app.get("/when")
    def when() -> str:
        flask.session["when"] = datetime.datetime(2024, 5, 6, tzinfo=datetime.UTC)
        return "ok"

    with pytest.raises(TypeError, match="datetime") as info:
        raw_client(app).get("/when")
    message = str(info.value)
    assert "signed=False" in message
    assert "forge" in message


def test_flask_flash_works_with_unsigned_cookies() -> None:
    # Flask's flash() stores (category, message) tuples: they come back as
    # lists, which get_flashed_messages() and templates unpack the same way.
    app = make_app(signed=False)

    @app.get("/flash")
    def flash() -> str:
        flask.flash("Saved", "info")
        return "ok"

    @app.get("/show")
    def show() -> str:
        return flask.render_template_string(
            "{% for category, message in get_flashed_messages(with_categories=true)"
            " %}{{ category }}:{{ message }}{% endfor %}"
        )

    client = app.test_client()
    client.get("/flash")
    assert client.get("/show").text == "info:Saved"
    assert client.get("/show").text == ""


# --- cookies made by the real koa-session ---------------------------------------


GENERATED_AT_MS = int(
    datetime.datetime.fromisoformat(_DOCUMENT["generated_at"]).timestamp() * 1000
)


def made_at(fixture: dict[str, t.Any], step: dict[str, t.Any]) -> int | None:
    """When (epoch ms) koa made the session cookie ``step`` sets, if it sets one."""
    for line in step["set_cookie"]:
        name, value, _ = parse_set_cookie(line)
        if name == fixture["cookie_name"] and value:
            payload = decode_cookie(value)
            if "_expire" in payload:
                return int(payload["_expire"] - payload["_maxAge"])
    return None


def koa_time(fixture: dict[str, t.Any]) -> int:
    """When koa made the fixture's first session cookie (else generated_at)."""
    for step in fixture["steps"]:
        when = made_at(fixture, step)
        if when is not None:
            return when
    return GENERATED_AT_MS


def step_time(fixture: dict[str, t.Any], step: dict[str, t.Any]) -> int:
    """When koa answered ``step``: from the cookie it set, else koa_time."""
    when = made_at(fixture, step)
    return koa_time(fixture) if when is None else when


@contextlib.contextmanager
def twin(env: dict[str, str]) -> t.Iterator[flask.Flask]:
    """The Flask twin of the Koa server (tests/interop/flask_app.py)."""
    app = create_app(env)
    app.testing = True
    try:
        yield app
    finally:
        close_app(app)


ACCEPTED = [name for name, f in FIXTURES.items() if f["payload"] and f["signature"]]


@pytest.mark.parametrize("name", ACCEPTED)
def test_koa_cookie_is_accepted(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fixture = FIXTURES[name]
    freeze_clock(monkeypatch)[0] = koa_time(fixture)  # some expire in a day
    cookie_name = fixture["cookie_name"]
    cookie = (
        f"{cookie_name}={fixture['value']}; {cookie_name}.sig={fixture['signature']}"
    )

    with twin(fixture["env"]) as app, listen_to(session_invalid) as invalid:
        response = raw_client(app).get("/session", headers={"Cookie": cookie})
    assert invalid.calls == []
    state = response.json
    assert state["session"] == fixture["data"]
    assert state["isNew"] is False
    payload = fixture["payload"]
    assert state["maxAge"] == (
        "session" if payload.get("_session") else payload["_maxAge"]
    )
    assert "Set-Cookie" not in response.headers  # unchanged: nothing to write


def same_expires(ours: str, koas: str) -> bool:
    """Whether two expires dates are within a second (koa takes Date.now() twice)."""
    a = email.utils.parsedate_to_datetime(ours)
    b = email.utils.parsedate_to_datetime(koas)
    return abs((a - b).total_seconds()) <= 1


REPLAYED = [name for name in FIXTURES if name != "key_rotation"]


@pytest.mark.parametrize("name", REPLAYED)
def test_koa_steps_replayed(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every request koa answered, sent to the Flask twin with the same
    # configuration and clock: the same status, body and cookie bytes.
    fixture = FIXTURES[name]
    clock = freeze_clock(monkeypatch)
    for index, step in enumerate(fixture["steps"]):
        env = dict(fixture["env"])
        if name == "rotation_then_change" and index == 0:
            env["KEYS"] = '["old-key"]'  # the first step came from the old server
        clock[0] = step_time(fixture, step)
        headers = {"Cookie": step["request_cookie"]} if step["request_cookie"] else {}
        with twin(env) as app:
            response = raw_client(app).get(step["path"], headers=headers)

        status = step["status"]
        if status == 302:
            # koa's ctx.redirect() sends 302; Flask's redirect() its default
            # code (302 up to Flask 3.1, 303 from 3.2), to the same place.
            status = flask.redirect("/").status_code
            assert step["body"] == f"Redirecting to {response.location}."
        assert response.status_code == status, step["path"]
        if isinstance(step["body"], dict):
            assert response.json == step["body"], step["path"]
        ours = cookie_attributes(response)
        koas = {n: (v, a) for n, v, a in map(parse_set_cookie, step["set_cookie"])}
        assert list(ours) == list(koas), step["path"]
        for cookie, (value, attributes) in koas.items():
            assert ours[cookie][0] == value, (step["path"], cookie)
            ours_attributes = dict(ours[cookie][1])
            if name == "default_max_age":
                # Differs from koa: with maxAge left to its default, koa's first
                # Set-Cookie has no expires (it hands its unset maxAge option to
                # the cookies module) although the payload expires in a day. We
                # write the expires the payload says.
                assert "expires" not in attributes
                assert ours_attributes.pop("expires") == http_date(
                    (clock[0] + DAY) / 1000
                )
            if "expires" in attributes:
                assert same_expires(
                    ours_attributes.pop("expires"), attributes["expires"]
                )
                attributes = {k: v for k, v in attributes.items() if k != "expires"}
            assert ours_attributes == attributes, (step["path"], cookie)


def test_koa_key_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    # A cookie signed with "old-key" reaches an app whose keys are
    # ["new-key", "old-key"]: accepted, and signed again with new-key.
    # Differs from koa: koa re-sends only koa.sess.sig (as a browser-session
    # cookie, without expires); we re-save the whole pair with its attributes.
    # At koa's clock the value is the same bytes, so our .sig is koa's.
    fixture = FIXTURES["key_rotation"]
    old_step, koa_step = fixture["steps"]
    freeze_clock(monkeypatch)[0] = koa_time(fixture)

    with twin(fixture["env"]) as app:
        response = raw_client(app).get(
            "/session", headers={"Cookie": koa_step["request_cookie"]}
        )
    assert response.json == koa_step["body"]
    cookies = cookie_attributes(response)
    assert cookies["koa.sess"][0] == fixture["value"]
    assert cookies["koa.sess.sig"][0] == fixture["signature"]
    assert fixture["signature"] == Keygrip(["new-key"]).sign(
        f"koa.sess={fixture['value']}"
    )
    assert cookies["koa.sess.sig"][1] == cookies["koa.sess"][1]
    assert old_step["set_cookie"][0].startswith(f"koa.sess={fixture['value']};")


@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize(
    "key", ["a", "k" * 64, "k" * 65, "k" * 200, "ünïcødé", b"\x00\xff" * 40]
)
def test_keygrip_signs_as_itsdangerous_signer(digest: str, key: str | bytes) -> None:
    # The hand-made HMAC (RFC 2104 pads, for speed) is the well-kept
    # library's, for keys shorter and longer than the hash's block.
    import itsdangerous

    data = "koa.sess=eyJ2aWV3cyI6MX0="
    library = itsdangerous.Signer(key, key_derivation="none", digest_method=digest)
    assert Keygrip([key], digest).sign(data) == library.get_signature(data).decode()
