"""Sealed cookie sessions: the options ``encrypt`` and ``compress`` on a Flask
app, with every other option (signed or not, rolling, renew, regenerate,
``valid``, ``before_save``, ``max_age="session"``), key rotation, the set-up
rules and the trust given to an encrypted cookie.

The sealed format itself is tested in ``test_sealing.py``; hostile sealed
cookies in ``test_hostile_input.py``; the Koa side in ``tests/interop``.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import sys
import typing as t

import flask
import pytest

from devkit.payloads import cart_json
from flask_koasession import (
    KoaSession,
    SessionTooLargeError,
    session_invalid,
    session_regenerated,
)
from flask_koasession.sealing import FORMAT_DEFLATE, SealedTooLargeError, Sealer
from flask_koasession.stores import MemoryStore
from tests.helpers import (
    EPOCH,
    SECRET,
    cookie_attributes,
    freeze_clock,
    koa_cookie,
    listen_to,
    load_session,
    make_app,
    raw_client,
    route,
    sign,
    signed_cookie_header,
)

MODES: dict[str, dict[str, bool]] = {
    "encrypt": {"encrypt": True, "compress": False},
    "compress": {"encrypt": False, "compress": True},
    "both": {"encrypt": True, "compress": True},
}
ENCRYPTING = ["encrypt", "both"]
#: A string that must never show in an encrypted cookie.
SECRET_DATA = "Zoë's card 4111-1111-1111-1111"
DAY = 86_400_000


def sealer(
    mode: str, keys: t.Sequence[str] = (SECRET,), name: str = "koa.sess"
) -> Sealer:
    return Sealer(keys, name, **MODES[mode])


def opened(
    value: str, mode: str, keys: t.Sequence[str] = (SECRET,)
) -> dict[str, t.Any]:
    """The payload of a sealed cookie value (bookkeeping included)."""
    payload: dict[str, t.Any] = json.loads(sealer(mode, keys).unseal(value).json_text)
    return payload


def raw_bytes(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@pytest.fixture(
    params=[(mode, signed) for mode in MODES for signed in (True, False)],
    ids=lambda p: f"{p[0]}-{'signed' if p[1] else 'unsigned'}",
)
def sealed(request: pytest.FixtureRequest) -> tuple[str, bool]:
    """``(mode, signed)``: every sealing mode, signed and not."""
    mode, signed = request.param
    return mode, signed


class Sealed:
    """An app with one sealing mode, and what its responses carry."""

    def __init__(self, mode: str, signed: bool, **options: t.Any) -> None:
        self.mode = mode
        self.signed = signed
        self.app = make_app(**MODES[mode], signed=signed, **options)

    def cookies(self, response: t.Any) -> dict[str, tuple[str, dict[str, t.Any]]]:
        """The response's cookies; checks that the value is sealed and the
        ``.sig`` (present exactly when signing) signs it."""
        written = cookie_attributes(response)
        value = written["koa.sess"][0]
        if value:
            assert value.startswith("A") or self.mode == "compress", value
        if self.signed:
            assert written["koa.sess.sig"][0] == sign(value)
        else:
            assert "koa.sess.sig" not in written
        return written

    def payload(self, response: t.Any) -> dict[str, t.Any]:
        return opened(self.cookies(response)["koa.sess"][0], self.mode)

    def header(self, value: str) -> str:
        """The ``Cookie`` header a browser sends for ``value``."""
        return signed_cookie_header(value) if self.signed else f"koa.sess={value}"


# -- with every other option --------------------------------------------------------


def test_round_trip(sealed: tuple[str, bool]) -> None:
    s = Sealed(*sealed)
    client = s.app.test_client()
    for n in (1, 2, 3):
        assert client.get("/").text == f"{n} views"
    response = client.get("/set", query_string={"secret": SECRET_DATA})
    payload = s.payload(response)
    assert list(payload) == ["views", "secret", "_expire", "_maxAge"]
    assert (payload["views"], payload["secret"]) == (3, SECRET_DATA)
    assert client.get("/get").json == {"views": 3, "secret": SECRET_DATA}
    value = s.cookies(response)["koa.sess"][0]
    if s.mode in ENCRYPTING:
        # Neither the text nor its base64 shows: the bytes are ciphertext.
        assert b"4111" not in raw_bytes(value)
        assert "views" not in value
    else:
        assert raw_bytes(value)[0] == FORMAT_DEFLATE


def test_rolling(sealed: tuple[str, bool], monkeypatch: pytest.MonkeyPatch) -> None:
    clock = freeze_clock(monkeypatch)
    s = Sealed(*sealed, rolling=True)
    client = s.app.test_client()
    first = s.payload(client.get("/"))
    clock[0] += 5000
    response = client.get("/touch")  # reads only
    assert response.text == "1"
    rolled = s.payload(response)
    assert rolled == {**first, "_expire": first["_expire"] + 5000}


def test_renew(sealed: tuple[str, bool], monkeypatch: pytest.MonkeyPatch) -> None:
    clock = freeze_clock(monkeypatch)
    s = Sealed(*sealed, renew=True, maxAge=100_000)
    client = s.app.test_client()
    first = s.payload(client.get("/"))
    clock[0] += 40_000
    assert "Set-Cookie" not in client.get("/touch").headers  # more than half left
    clock[0] += 20_000
    renewed = s.payload(client.get("/touch"))
    assert renewed == {**first, "_expire": first["_expire"] + 60_000}


def test_regenerate(sealed: tuple[str, bool]) -> None:
    s = Sealed(*sealed)
    client = s.app.test_client()
    client.get("/set", query_string={"user": "ann"})
    with listen_to(session_regenerated) as regenerated:
        response = client.get("/regenerate")
    assert s.payload(response)["user"] == "ann"
    regenerated.assert_sent_once(s.app, old_key=None, new_key=None)
    assert client.get("/get").json == {"user": "ann"}


def test_destroy(sealed: tuple[str, bool]) -> None:
    s = Sealed(*sealed)
    client = s.app.test_client()
    client.get("/")
    written = s.cookies(client.get("/destroy"))
    assert written["koa.sess"][0] == ""
    assert written["koa.sess"][1]["expires"] == EPOCH
    assert client.get("/get").json == {}


def test_valid(sealed: tuple[str, bool]) -> None:
    def valid(request: flask.Request, data: dict[str, t.Any]) -> bool:
        return data.get("views") != 2

    s = Sealed(*sealed, valid=valid)
    client = s.app.test_client()
    client.get("/")
    value = s.cookies(client.get("/"))["koa.sess"][0]
    with listen_to(session_invalid) as invalid:
        assert client.get("/get").json == {}
    invalid.assert_sent_once(s.app, value=opened(value, s.mode), reason="valid")


def test_before_save(sealed: tuple[str, bool]) -> None:
    def before_save(request: flask.Request, session: t.Any) -> None:
        session["saved_by"] = request.path

    s = Sealed(*sealed, before_save=before_save)
    client = s.app.test_client()
    assert s.payload(client.get("/"))["saved_by"] == "/"
    assert client.get("/get").json == {"views": 1, "saved_by": "/"}


def test_max_age_session(sealed: tuple[str, bool]) -> None:
    s = Sealed(*sealed, max_age="session")
    client = s.app.test_client()
    response = client.get("/")
    written = s.cookies(response)
    assert all("expires" not in attributes for _, attributes in written.values())
    assert opened(written["koa.sess"][0], s.mode) == {"views": 1, "_session": True}
    assert client.get("/").text == "2 views"


def test_auto_commit_off(sealed: tuple[str, bool]) -> None:
    s = Sealed(*sealed, auto_commit=False)

    @route(s.app, "/commit")
    def commit() -> str:
        flask.session["views"] = 9
        flask.session.manually_commit()
        return "ok"

    client = s.app.test_client()
    assert "Set-Cookie" not in client.get("/").headers
    assert s.payload(client.get("/commit"))["views"] == 9


def test_session_transaction(sealed: tuple[str, bool]) -> None:
    s = Sealed(*sealed)
    client = s.app.test_client()
    with client.session_transaction() as session:
        session["views"] = 41
    assert client.get("/").text == "42 views"


# -- key rotation -------------------------------------------------------------------


def rotated_app(mode: str, signed: bool) -> Sealed:
    s = Sealed(mode, signed)
    s.app.secret_key = "new-key"
    s.app.config["SECRET_KEY_FALLBACKS"] = ["old-key"]
    return s


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("mode", ENCRYPTING)
def test_a_cookie_sealed_under_an_older_key_is_resealed(
    mode: str, signed: bool
) -> None:
    s = rotated_app(mode, signed)
    text = '{"user":"ann","_expire":4102444800000,"_maxAge":86400000}'
    value = sealer(mode, ["old-key"]).seal(text)
    # Signed with the current key: only the seal is stale.
    header = signed_cookie_header(value, keys=["new-key"]) if signed else None
    cookie = header or f"koa.sess={value}"

    response = raw_client(s.app).get("/touch", headers={"Cookie": cookie})
    written = cookie_attributes(response)
    resealed = written["koa.sess"][0]
    # The whole value is sent again, sealed under the current key alone...
    text_now, index = sealer(mode, ["new-key"]).unseal(resealed)
    assert index == 0
    assert json.loads(text_now)["user"] == "ann"
    if signed:  # ... and signed with it
        assert written["koa.sess.sig"][0] == sign(resealed, keys=["new-key"])
        cookie = signed_cookie_header(resealed, keys=["new-key"])
    else:
        assert set(written) == {"koa.sess"}
        cookie = f"koa.sess={resealed}"
    # Healed: the next read-only request sends nothing.
    again = raw_client(s.app).get("/get", headers={"Cookie": cookie})
    assert again.json == {"user": "ann"}
    assert "Set-Cookie" not in again.headers


@pytest.mark.parametrize("mode", ENCRYPTING)
def test_loading_records_a_stale_seal_as_rotated(mode: str) -> None:
    s = rotated_app(mode, signed=False)
    value = sealer(mode, ["old-key"]).seal('{"n":1}')
    with s.app.test_request_context(headers={"Cookie": f"koa.sess={value}"}):
        loaded, data = load_session(s.app)
    assert (loaded.is_new, loaded.signature, data) == (False, "rotated", {"n": 1})


@pytest.mark.parametrize("mode", ENCRYPTING)
def test_a_cookie_sealed_under_a_dropped_key_is_a_fresh_session(mode: str) -> None:
    s = Sealed(mode, signed=True)
    value = sealer(mode, ["old-key"]).seal('{"user":"ann"}')
    with listen_to(session_invalid) as invalid:
        response = raw_client(s.app).get(
            "/get", headers={"Cookie": signed_cookie_header(value)}
        )
    assert response.json == {}
    invalid.assert_sent_once(s.app, key=None, value=None, reason="wrong_key")


def test_the_keys_option_seals_too() -> None:
    app = make_app(encrypt=True, keys=["k2", "k1"])
    app.secret_key = None
    client = app.test_client()
    assert client.get("/").text == "1 views"
    cookie = client.get_cookie("koa.sess")
    assert cookie is not None
    assert sealer("encrypt", ["k2"]).unseal(cookie.value).key_index == 0
    assert client.get("/").text == "2 views"


# -- trust: which cookies get Python types back --------------------------------------

TYPED = {
    "pair": (1, "two"),
    "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
}


@pytest.mark.parametrize("mode", ENCRYPTING)
def test_an_encrypted_unsigned_cookie_keeps_python_types(mode: str) -> None:
    # AES-GCM authenticates the value: only a holder of the keys wrote it.
    app = make_app(signed=False, **MODES[mode])

    @route(app, "/typed")
    def typed() -> str:
        flask.session.update(TYPED)
        return "ok"

    @route(app, "/types")
    def types() -> t.Any:
        return {k: type(v).__name__ for k, v in flask.session.items()}

    client = app.test_client()
    client.get("/typed")
    assert client.get("/types").json == {"pair": "tuple", "when": "datetime"}


def test_a_compressed_unsigned_cookie_stays_plain_json() -> None:
    # Compression hides nothing and proves nothing: anyone can forge it.
    app = make_app(signed=False, compress=True)

    @route(app, "/pair")
    def pair() -> str:
        flask.session["pair"] = (1, "two")
        return "ok"

    @route(app, "/when")
    def when() -> str:
        flask.session["when"] = TYPED["when"]
        return "ok"

    client = app.test_client()
    client.get("/pair")
    assert client.get("/get").json == {"pair": [1, "two"]}
    with pytest.raises(TypeError, match="signed=False"):
        client.get("/when")


def test_a_forged_plain_cookie_is_refused_by_an_encrypted_unsigned_app() -> None:
    app = make_app(signed=False, encrypt=True)
    value, _ = koa_cookie({"user": "admin"})
    with listen_to(session_invalid) as invalid:
        response = raw_client(app).get("/get", headers={"Cookie": f"koa.sess={value}"})
    assert response.json == {}
    invalid.assert_sent_once(app, reason="unencrypted")


# -- size -----------------------------------------------------------------------------


def cart_app(**options: t.Any) -> flask.Flask:
    app = make_app(**options)

    @route(app, "/cart")
    def cart() -> str:
        flask.session["cart"] = json.loads(cart_json(500))["cart"]
        return "ok"

    @route(app, "/count")
    def count() -> str:
        return str(len(flask.session.get("cart", ())))

    return app


@pytest.mark.parametrize("mode", ["compress", "both"])
def test_a_500_item_cart_fits_in_one_cookie_compressed(mode: str) -> None:
    app = cart_app(**MODES[mode])
    client = app.test_client()
    response = client.get("/cart")
    header = response.headers.getlist("Set-Cookie")[0]
    assert len(header) <= 4093
    assert client.get("/count").text == "500"
    with pytest.raises(SessionTooLargeError):
        cart_app(compress=False).test_client().get("/cart")  # plain: too large
    # compress="auto", the default, deflates it because it must.
    default = cart_app().test_client()
    assert default.get("/cart").headers["Set-Cookie"].startswith("koa.sess=A")
    assert default.get("/count").text == "500"


def test_a_sealed_session_written_under_max_cookie_size_is_read_back() -> None:
    # Sealed values are bounded by MAX_COOKIE_SIZE, as plain ones, not by the
    # sealer's own 8192-character default.
    app = make_app(encrypt=True)
    app.config["MAX_COOKIE_SIZE"] = 32_768

    @route(app, "/big")
    def big() -> str:
        flask.session["big"] = os.urandom(6000).hex()
        return "ok"

    client = app.test_client()
    assert len(cookie_attributes(client.get("/big"))["koa.sess"][0]) > 12_000
    assert len(client.get("/get").json["big"]) == 12_000


def test_a_session_too_large_to_seal_is_a_clear_error() -> None:
    app = make_app(compress=True)
    app.config["MAX_COOKIE_SIZE"] = 0  # no cookie limit: the sealing one holds

    @route(app, "/huge")
    def huge() -> str:
        flask.session["huge"] = "x" * 300_000
        return "ok"

    with pytest.raises(SealedTooLargeError) as caught:
        app.test_client().get("/huge")
    assert isinstance(caught.value, SessionTooLargeError)
    app.testing = False
    response = app.test_client().get("/huge")
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers


# -- switching sealing on and off ----------------------------------------------------


def test_turning_compression_on_keeps_plain_sessions() -> None:
    app = make_app(compress=True)
    value, signature = koa_cookie({"views": 4}, expire=4_102_444_800_000)
    client = app.test_client()
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)
    assert client.get("/").text == "5 views"
    # Written compressed from now on... or plain, when deflate does not
    # shorten the value (as here): koa-session's own form.
    rewritten = client.get_cookie("koa.sess")
    assert rewritten is not None
    assert opened(rewritten.value, "compress")["views"] == 5


@pytest.mark.parametrize(
    ("written_by", "read_by", "reason"),
    # A plain app (compress="auto") opens deflated values only: an
    # encrypted one is refused as such.
    [({}, MODES["encrypt"], "unencrypted"), (MODES["both"], {}, "encrypted")],
    ids=["plain-to-encrypting", "encrypted-to-plain"],
)
def test_turning_encryption_on_or_off_starts_fresh_sessions(
    written_by: dict[str, bool], read_by: dict[str, bool], reason: str
) -> None:
    writer = make_app(**written_by).test_client()
    writer.get("/")
    header = "; ".join(
        f"{name}={writer.get_cookie(name).value}"  # type: ignore[union-attr]
        for name in ("koa.sess", "koa.sess.sig")
    )
    reader = make_app(**read_by)
    with listen_to(session_invalid) as invalid:
        response = raw_client(reader).get("/get", headers={"Cookie": header})
    assert response.json == {}
    invalid.assert_sent_once(reader, reason=reason)


def test_an_encrypted_value_is_refused_with_its_reason_when_only_compressing() -> None:
    app = make_app(compress=True)
    value = sealer("encrypt").seal('{"n":1}')
    with listen_to(session_invalid) as invalid:
        raw_client(app).get("/get", headers={"Cookie": signed_cookie_header(value)})
    invalid.assert_sent_once(app, reason="encrypted")


# -- set-up -------------------------------------------------------------------------


def _factory(request: flask.Request) -> MemoryStore:
    return MemoryStore()


def _encode(data: dict[str, t.Any]) -> str:
    return "x"


def _decode(value: str) -> dict[str, t.Any]:
    return {}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("other", "mentions"),
    [
        ({"store": MemoryStore()}, ["cookie sessions only", "store", "Remove"]),
        ({"store_factory": _factory}, ["cookie sessions only", "store_factory"]),
        ({"encode": _encode}, ["custom encode", "exclude each other", "Remove"]),
        ({"decode": _decode}, ["custom decode", "exclude each other"]),
        ({"encode": _encode, "decode": _decode}, ["custom encode and decode"]),
    ],
    ids=["store", "store_factory", "encode", "decode", "both-codecs"],
)
def test_sealing_with_a_store_or_a_custom_codec_raises_at_set_up(
    mode: str, other: dict[str, t.Any], mentions: list[str]
) -> None:
    options = {name: True for name, on in MODES[mode].items() if on}
    app = flask.Flask(__name__)
    with pytest.raises(ValueError, match="KoaSession option") as caught:
        KoaSession(app, **options, **other)
    message = str(caught.value)
    for name in options:
        assert f"{name}=True" in message
    for text in mentions:
        assert text in message, (text, message)
    assert "koasession" not in app.extensions


def test_sealing_options_may_come_from_the_config() -> None:
    app = flask.Flask(__name__)
    app.config["KOA_SESSION"] = {"encrypt": True, "compress": True}
    with pytest.raises(ValueError, match="cookie sessions only"):
        KoaSession(app, store=MemoryStore())


def test_encryption_without_cryptography_raises_at_set_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None
    )
    with pytest.raises(RuntimeError) as caught:
        KoaSession(flask.Flask(__name__), encrypt=True)
    message = str(caught.value)
    assert "encrypt=True" in message
    assert "pip install 'flask-koasession[encrypt]'" in message
    # Compression needs only zlib.
    app = make_app(compress=True)
    assert app.test_client().get("/").text == "1 views"


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_encryption_without_a_key_reads_empty_and_fails_on_write(signed: bool) -> None:
    app = make_app(encrypt=True, signed=signed)
    app.secret_key = None
    value = sealer("encrypt").seal('{"views":3}')
    cookie = signed_cookie_header(value) if signed else f"koa.sess={value}"
    response = raw_client(app).get("/touch", headers={"Cookie": cookie})
    assert (response.status_code, response.text) == (200, "None")
    assert "Set-Cookie" not in response.headers
    with pytest.raises(RuntimeError) as caught:
        app.test_client().get("/")
    message = str(caught.value)
    assert message.startswith("The session is unavailable because no secret key")
    assert "app.secret_key" in message
    assert "keys=" in message
    # Unsigned, the message is about encryption, not about forging.
    assert ("encrypt=True" in message) is not signed
