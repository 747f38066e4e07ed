"""Hostile and broken session cookies: never a 500, always a fresh session.

Whatever a request carries in its cookies, the view gets a usable session: a
cookie that fails its signature, its decoding or koa's bookkeeping checks is
ignored (a new, empty session), exactly one signal says why
(``session_invalid`` with a ``reason``, or ``session_expired``), and the next
write replaces it with a valid cookie pair. Too much data, or data JSON cannot
hold, fails at save with a clear error instead of writing a broken cookie.
"""

from __future__ import annotations

import base64
import json
import random
import typing as t
import zlib

import flask
import pytest

from devkit.payloads import cart_json
from flask_koasession import (
    KoaSession,
    SessionTooLargeError,
    session_expired,
    session_invalid,
    session_missed,
)
from flask_koasession.sealing import (
    FORMAT_AES_GCM_DEFLATE,
    NONCE_SIZE,
    Sealer,
    derive,
)
from tests.helpers import (
    SECRET,
    cookie_attributes,
    decode_cookie,
    incompressible,
    koa_cookie,
    raw_client,
    sign,
    signed_cookie_header,
)

EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
#: 2100-01-01: an ``_expire`` that stays in the future.
FUTURE = 4_102_444_800_000
DAY = 86_400_000


def make_app(*, testing: bool = True, **options: t.Any) -> flask.Flask:
    """``/probe`` reports the session, ``/set?k=v`` writes to it."""
    app = flask.Flask(__name__)
    app.testing = testing
    app.secret_key = SECRET
    KoaSession(app, **options)

    @app.get("/probe")
    def probe() -> t.Any:
        return {"new": flask.session.is_new, "data": dict(flask.session)}

    @app.get("/set")
    def set_() -> str:
        flask.session.update(flask.request.args.to_dict())
        return "ok"

    return app


class Signals:
    """Records what the three "rejected cookie" signals send, in order."""

    SIGNALS: t.ClassVar = {
        "invalid": session_invalid,
        "expired": session_expired,
        "missed": session_missed,
    }

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, t.Any]]] = []
        self._receivers = {
            name: (lambda sender, _n=name, **kw: self.sent.append((_n, kw)))
            for name in self.SIGNALS
        }

    def __enter__(self) -> Signals:
        for name, signal in self.SIGNALS.items():
            signal.connect(self._receivers[name])
        return self

    def __exit__(self, *exc: object) -> None:
        for name, signal in self.SIGNALS.items():
            signal.disconnect(self._receivers[name])


# --- building hostile cookies ----------------------------------------------------


def b64(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def signed(data: str | bytes) -> str:
    """A correctly signed cookie whose value is base64 of ``data``."""
    return signed_cookie_header(b64(data))


def tamper(text: str, at: int = 10) -> str:
    """``text`` with the character at ``at`` changed."""
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


GOOD, GOOD_SIG = koa_cookie({"user": "alice"}, expire=FUTURE)
OTHER, OTHER_SIG = koa_cookie({"user": "mallory"}, expire=FUTURE)


def with_bookkeeping(extra: str) -> tuple[str, dict[str, t.Any]]:
    """A signed cookie of ``{"user":"alice", <extra>}`` and its decoded payload."""
    text = '{"user":"alice",' + extra + "}"
    return signed(text), json.loads(text)


def invalid(reason: str, value: dict[str, t.Any] | None = None) -> list[t.Any]:
    return [("invalid", {"key": None, "value": value, "reason": reason})]


def bookkeeping_case(extra: str, case_id: str) -> t.Any:
    cookie, payload = with_bookkeeping(extra)
    return pytest.param(cookie, {}, invalid("bookkeeping", payload), id=case_id)


def nested_list(depth: int) -> str:
    return '{"a":' + "[" * depth + "]" * depth + "}"


EXPIRED_TEXT = '{"user":"alice","_expire":1000,"_maxAge":86400000}'
HUGE = '{"a":"' + "x" * 100_000 + '"}'  # far beyond any browser's 4 KiB


# -- sealed cookies (encrypt / compress) ---------------------------------------

ENCRYPT = {"encrypt": True}
COMPRESS = {"compress": True}
BOTH = {"encrypt": True, "compress": True}
GOOD_TEXT = '{"user":"alice","_expire":4102444800000,"_maxAge":86400000}'


def sealer_for(options: dict[str, t.Any], **kw: t.Any) -> Sealer:
    """The sealer of an app with these options (keys: the secret key)."""
    return Sealer(
        kw.get("keys", [SECRET]),
        kw.get("name", "koa.sess"),
        encrypt=options.get("encrypt", False),
        compress=options.get("compress", False),
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def flip(value: str, at: int) -> str:
    """A sealed value with one bit of its byte ``at`` changed."""
    data = bytearray(unb64url(value))
    data[at] ^= 0x01
    return b64url(bytes(data))


def sealed_case(
    value: str, options: dict[str, t.Any], expected: list[t.Any], case_id: str
) -> t.Any:
    """A case whose cookie is ``value``, correctly signed unless unsigned."""
    cookie = (
        f"koa.sess={value}"
        if options.get("signed") is False
        else signed_cookie_header(value)
    )
    return pytest.param(cookie, options, expected, id=case_id)


def sealed_reason(
    value: str, options: dict[str, t.Any], reason: str, case_id: str
) -> t.Any:
    return sealed_case(value, options, invalid(reason), case_id)


def encrypted_deflate(body: bytes) -> str:
    """A value of format 03 whose deflate data is ``body``, sealed as the app
    seals (its key, its cookie name)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aes_key, key_id = derive(SECRET)
    header = bytes((FORMAT_AES_GCM_DEFLATE,)) + key_id
    nonce = bytes(NONCE_SIZE)
    return b64url(
        header + nonce + AESGCM(aes_key).encrypt(nonce, body, header + b"koa.sess")
    )


GOOD_SEALED = sealer_for(BOTH).seal(GOOD_TEXT)
#: Inflates to 4 MiB of spaces (16 times the limit) from 4 KiB.
BOMB = deflated(b"{" + b" " * (4 << 20) + b"}")

SEALED_CASES = [
    # Encrypted: any change, cut or foreign key.
    sealed_reason(flip(GOOD_SEALED, 30), BOTH, "tampered", "sealed-tampered-body"),
    sealed_reason(flip(GOOD_SEALED, 2), BOTH, "wrong_key", "sealed-tampered-key-id"),
    sealed_reason(flip(GOOD_SEALED, 0), BOTH, "tampered", "sealed-format-02-for-03"),
    sealed_reason(flip(GOOD_SEALED, -1), BOTH, "tampered", "sealed-tampered-tag"),
    sealed_reason(GOOD_SEALED[:40], BOTH, "truncated", "sealed-truncated"),
    sealed_reason(GOOD_SEALED[:-3], BOTH, "tampered", "sealed-cut-tag"),
    sealed_reason("A", BOTH, "junk", "sealed-one-character"),
    sealed_reason(
        sealer_for(BOTH, keys=["another-key"]).seal(GOOD_TEXT),
        BOTH,
        "wrong_key",
        "sealed-wrong-key",
    ),
    sealed_reason(
        sealer_for(ENCRYPT, name="other.sess").seal(GOOD_TEXT),
        ENCRYPT,
        "tampered",
        "sealed-wrong-cookie-name",
    ),
    sealed_reason("A~~~~.~~~", ENCRYPT, "junk", "sealed-junk"),
    sealed_reason(b64url(b"\x00" * 40), ENCRYPT, "junk", "sealed-format-00"),
    sealed_reason(b64url(b"\x00" * 40), COMPRESS, "junk", "sealed-format-00-compress"),
    # Not a sealed form: read as koa-session's own, which it is not either.
    sealed_reason(b64url(b"\x07" + b"x" * 40), COMPRESS, "decode", "sealed-format-07"),
    sealed_reason("A" * 9000, ENCRYPT, "too_large", "sealed-oversized"),
    sealed_reason(GOOD, ENCRYPT, "unencrypted", "sealed-plain-when-encrypting"),
    sealed_reason(
        sealer_for(COMPRESS).seal(GOOD_TEXT * 2),
        ENCRYPT,
        "unencrypted",
        "sealed-compressed-when-encrypting",
    ),
    sealed_reason(
        GOOD_SEALED, COMPRESS, "encrypted", "sealed-encrypted-when-compressing"
    ),
    # Compressed: broken or unbounded deflate data.
    sealed_reason(b64url(b"\x01" + BOMB), COMPRESS, "zip_bomb", "sealed-zip-bomb"),
    sealed_reason(
        encrypted_deflate(BOMB),  # an encrypted bomb needs the key
        BOTH,
        "zip_bomb",
        "sealed-encrypted-zip-bomb",
    ),
    sealed_reason(
        b64url(b"\x01" + deflated(GOOD_TEXT.encode())[:-4]),
        COMPRESS,
        "truncated",
        "sealed-truncated-deflate",
    ),
    sealed_reason(
        b64url(b"\x01" + deflated(GOOD_TEXT.encode()) + b"x"),
        COMPRESS,
        "junk",
        "sealed-bytes-after-deflate",
    ),
    sealed_reason(
        b64url(b"\x01" + deflated(b"\xff\xfe{}")), COMPRESS, "junk", "sealed-not-utf8"
    ),
    # Opens, but holds no session.
    sealed_reason(
        sealer_for(ENCRYPT).seal("hello"), ENCRYPT, "decode", "sealed-not-json"
    ),
    sealed_reason(sealer_for(BOTH).seal("[1,2]"), BOTH, "decode", "sealed-json-array"),
    sealed_case(
        sealer_for(ENCRYPT).seal('{"user":"alice","_maxAge":-1}'),
        ENCRYPT,
        invalid("bookkeeping", {"user": "alice", "_maxAge": -1}),
        "sealed-bad-bookkeeping",
    ),
    sealed_case(
        sealer_for(BOTH).seal(EXPIRED_TEXT),
        BOTH,
        [("expired", {"key": None, "value": json.loads(EXPIRED_TEXT)})],
        "sealed-expired",
    ),
    # Signed: the signature is checked first.
    pytest.param(
        f"koa.sess={flip(GOOD_SEALED, 30)}; koa.sess.sig={sign(GOOD_SEALED)}",
        BOTH,
        invalid("signature"),
        id="sealed-changed-under-its-signature",
    ),
    pytest.param(
        f"koa.sess={GOOD_SEALED}", BOTH, invalid("unsigned"), id="sealed-unsigned"
    ),
    # Unsigned but encrypted: AES-GCM is the only check, and it holds.
    sealed_reason(
        flip(GOOD_SEALED, 30),
        {**BOTH, "signed": False},
        "tampered",
        "sealed-unsigned-tampered",
    ),
    sealed_reason(
        sealer_for(ENCRYPT, keys=["another-key"]).seal(GOOD_TEXT),
        {**ENCRYPT, "signed": False},
        "wrong_key",
        "sealed-unsigned-wrong-key",
    ),
    sealed_reason(
        b64(json.dumps({"user": "admin", "_expire": FUTURE})),
        {**ENCRYPT, "signed": False},
        "unencrypted",
        "sealed-unsigned-forged-plain",
    ),
    sealed_reason(
        "A" * 9000,
        {**COMPRESS, "signed": False},
        "too_large",
        "sealed-unsigned-oversized",
    ),
]

CASES = [
    # -- signature ----------------------------------------------------------
    pytest.param(
        f"koa.sess={tamper(GOOD)}; koa.sess.sig={GOOD_SIG}",
        {},
        invalid("signature"),
        id="tampered-value",
    ),
    pytest.param(
        f"koa.sess={GOOD}; koa.sess.sig={tamper(GOOD_SIG)}",
        {},
        invalid("signature"),
        id="tampered-signature",
    ),
    pytest.param(f"koa.sess={GOOD}", {}, invalid("unsigned"), id="unsigned"),
    pytest.param(
        f"koa.sess={GOOD}; koa.sess.sig=", {}, invalid("unsigned"), id="empty-signature"
    ),
    pytest.param(
        f"koa.sess={GOOD}; koa.sess.sig={OTHER_SIG}",
        {},
        invalid("signature"),
        id="signature-of-another-value",
    ),
    pytest.param(
        f"koa.sess={GOOD[:-6]}; koa.sess.sig={GOOD_SIG}",
        {},
        invalid("signature"),
        id="truncated-value",
    ),
    pytest.param(
        f"koa.sess={GOOD}; koa.sess.sig={GOOD_SIG[:-1]}",
        {},
        invalid("signature"),
        id="truncated-signature",
    ),
    pytest.param(
        f"koa.sess={GOOD}; koa.sess.sig={sign(GOOD, keys=['not-our-key'])}",
        {},
        invalid("signature"),
        id="signed-with-another-key",
    ),
    pytest.param(
        "koa.sess=\xe9\xff\x00; koa.sess.sig=\xff",
        {},
        invalid("signature"),
        id="non-ascii",
    ),
    # koa's cookies module strips quotes too; the tampered value still fails.
    pytest.param(
        f'koa.sess="{tamper(GOOD)}"; koa.sess.sig={GOOD_SIG}',
        {},
        invalid("signature"),
        id="quoted-tampered-value",
    ),
    # Like koa's cookies module, the first cookie of a name is the one read.
    pytest.param(
        f"koa.sess={tamper(GOOD)}; koa.sess={GOOD}; koa.sess.sig={GOOD_SIG}",
        {},
        invalid("signature"),
        id="duplicate-value-first-tampered",
    ),
    pytest.param(
        f"koa.sess={GOOD}; koa.sess.sig={OTHER_SIG}; koa.sess.sig={GOOD_SIG}",
        {},
        invalid("signature"),
        id="duplicate-signature-first-wrong",
    ),
    pytest.param(
        f"koa.sess={b64(HUGE)}; koa.sess.sig={GOOD_SIG}",
        {},
        invalid("signature"),
        id="100kb-badly-signed",
    ),
    # -- size --------------------------------------------------------------
    pytest.param(signed(HUGE), {}, invalid("too_large"), id="100kb-signed"),
    pytest.param(
        signed(nested_list(100_000)), {}, invalid("too_large"), id="nested-100000"
    ),
    # -- decoding ----------------------------------------------------------
    pytest.param(signed_cookie_header("%%%%"), {}, invalid("decode"), id="not-base64"),
    pytest.param(
        signed_cookie_header("!!!!.....****"),
        {},
        invalid("decode"),
        id="no-base64-at-all",
    ),
    pytest.param(signed(b"\xff\xfe\xfd\x80"), {}, invalid("decode"), id="non-utf8"),
    pytest.param(signed("hello"), {}, invalid("decode"), id="not-json"),
    pytest.param(signed('{"user":"alice"'), {}, invalid("decode"), id="truncated-json"),
    pytest.param(signed("NaN"), {}, invalid("decode"), id="json-nan"),
    pytest.param(signed('{"a":NaN}'), {}, invalid("decode"), id="json-nan-inside"),
    pytest.param(
        signed('{"a":1e999}'), {}, invalid("decode"), id="json-overflowing-float"
    ),
    pytest.param(signed("[1,2]"), {}, invalid("decode"), id="json-array"),
    pytest.param(signed("42"), {}, invalid("decode"), id="json-number"),
    pytest.param(signed('"alice"'), {}, invalid("decode"), id="json-string"),
    pytest.param(signed("null"), {}, invalid("decode"), id="json-null"),
    pytest.param(signed("true"), {}, invalid("decode"), id="json-true"),
    pytest.param(signed(nested_list(1000)), {}, invalid("decode"), id="nested-1000"),
    pytest.param(signed(nested_list(2000)), {}, invalid("decode"), id="nested-2000"),
    # Deep enough to decode, too deep to serialize again.
    pytest.param(signed(nested_list(600)), {}, invalid("decode"), id="nested-600"),
    # -- koa's bookkeeping -------------------------------------------------
    # Differs from koa: koa ignores an _expire that is not a number and takes
    # any _maxAge; a cookie with wrong bookkeeping is not one koa wrote.
    bookkeeping_case('"_expire":"tomorrow"', "expire-string"),
    bookkeeping_case('"_expire":[1]', "expire-list"),
    bookkeeping_case('"_expire":true', "expire-bool"),
    bookkeeping_case('"_expire":{"t":1}', "expire-object"),
    bookkeeping_case('"_maxAge":"1000"', "max-age-string"),
    bookkeeping_case('"_maxAge":-1', "max-age-negative"),
    bookkeeping_case('"_maxAge":0', "max-age-zero"),
    bookkeeping_case('"_maxAge":false', "max-age-bool"),
    bookkeeping_case('"_maxAge":[86400000]', "max-age-list"),
    bookkeeping_case('"_maxAge":1e999', "max-age-infinite"),
    bookkeeping_case('"_maxAge":1e300', "max-age-beyond-any-date"),
    pytest.param(
        signed(EXPIRED_TEXT),
        {},
        [("expired", {"key": None, "value": json.loads(EXPIRED_TEXT)})],
        id="expired",
    ),
    # -- nothing there -----------------------------------------------------
    pytest.param("koa.sess=", {}, [], id="empty-value"),
    pytest.param(signed_cookie_header(""), {}, [], id="empty-value-signed"),
    pytest.param("other=1; koa.sess.sig=" + GOOD_SIG, {}, [], id="signature-alone"),
    # -- signed=False ------------------------------------------------------
    pytest.param(
        "koa.sess=garbage!!",
        {"signed": False},
        invalid("decode"),
        id="unsigned-garbage",
    ),
    pytest.param(
        f"koa.sess={b64('[1]')}",
        {"signed": False},
        invalid("decode"),
        id="unsigned-array",
    ),
    pytest.param(
        f"koa.sess={b64(nested_list(600))}",
        {"signed": False},
        invalid("decode"),
        id="unsigned-nested-600",
    ),
    pytest.param(
        f"koa.sess={b64(EXPIRED_TEXT)}",
        {"signed": False},
        [("expired", {"key": None, "value": json.loads(EXPIRED_TEXT)})],
        id="unsigned-expired",
    ),
    *SEALED_CASES,
]


def read_cookie(value: str, options: dict[str, t.Any]) -> dict[str, t.Any]:
    """The payload of a cookie value the app with ``options`` wrote."""
    if options.get("encrypt") or options.get("compress"):
        payload: dict[str, t.Any] = json.loads(sealer_for(options).unseal(value)[0])
        return payload
    return decode_cookie(value)


@pytest.mark.parametrize(("cookie", "options", "expected"), CASES)
def test_hostile_cookie_gives_fresh_session(
    cookie: str, options: dict[str, t.Any], expected: list[t.Any]
) -> None:
    app = make_app(**options)
    signed_mode = options.get("signed", True)

    with Signals() as signals:
        response = raw_client(app).get("/probe", headers={"Cookie": cookie})
    assert response.status_code == 200
    assert response.json == {"new": True, "data": {}}
    assert signals.sent == expected
    # Nothing is written for a rejected cookie, except that a signature that
    # signs nothing we accept is expired, as koa's cookies module does.
    written = cookie_attributes(response)
    if expected and expected[0][1].get("reason") == "signature":
        assert written == {"koa.sess.sig": ("", written["koa.sess.sig"][1])}
        assert written["koa.sess.sig"][1]["expires"] == EPOCH
    else:
        assert written == {}

    # The next write replaces the bad cookie with a valid pair.
    write = raw_client(app).get("/set?k=v", headers={"Cookie": cookie})
    assert write.status_code == 200
    written = cookie_attributes(write)
    value = written["koa.sess"][0]
    payload = read_cookie(value, options)
    assert payload["k"] == "v"
    assert list(payload) == ["k", "_expire", "_maxAge"]
    if signed_mode:
        assert set(written) == {"koa.sess", "koa.sess.sig"}
        assert written["koa.sess.sig"][0] == sign(value)
        new_cookie = signed_cookie_header(value)
    else:
        assert set(written) == {"koa.sess"}
        new_cookie = f"koa.sess={value}"

    after = raw_client(app).get("/probe", headers={"Cookie": new_cookie})
    assert after.json == {"new": False, "data": {"k": "v"}}


def test_quoted_cookie_is_read_like_koa() -> None:
    # koa's cookies module strips the quotes of a quoted value (and signs the
    # unquoted value); Werkzeug unquotes it too, so a quoted cookie is the same
    # session.
    app = make_app()
    cookie = f'koa.sess="{GOOD}"; koa.sess.sig={GOOD_SIG}'

    response = raw_client(app).get("/probe", headers={"Cookie": cookie})
    assert response.json == {"new": False, "data": {"user": "alice"}}


def test_duplicate_cookie_first_one_wins() -> None:
    # koa's cookies module matches the first `koa.sess=` in the header.
    app = make_app()
    cookie = f"koa.sess={GOOD}; koa.sess={OTHER}; koa.sess.sig={GOOD_SIG}"

    response = raw_client(app).get("/probe", headers={"Cookie": cookie})
    assert response.json == {"new": False, "data": {"user": "alice"}}


def test_valid_hook_rejection_is_signalled() -> None:
    def valid(request: flask.Request, data: dict[str, t.Any]) -> bool:
        return data.get("user") != "alice"

    app = make_app(valid=valid)
    cookie = f"koa.sess={GOOD}; koa.sess.sig={GOOD_SIG}"

    with Signals() as signals:
        response = raw_client(app).get("/probe", headers={"Cookie": cookie})
    assert response.json == {"new": True, "data": {}}
    assert signals.sent == invalid("valid", decode_cookie(GOOD))


# --- too much, or the wrong kind of, data --------------------------------------


def big_app(size: int, *, testing: bool = True) -> flask.Flask:
    app = make_app(testing=testing)

    @app.get("/big")
    def big() -> str:
        flask.session["big"] = incompressible(size)
        return "ok"

    return app


def test_session_too_large_raises() -> None:
    app = big_app(5000)

    with pytest.raises(SessionTooLargeError) as caught:
        raw_client(app).get("/big")
    assert caught.value.limit == 4093
    assert caught.value.size > 4093
    assert "MAX_COOKIE_SIZE" in str(caught.value)


def test_session_too_large_is_a_500_without_cookies() -> None:
    app = big_app(5000, testing=False)

    response = raw_client(app).get("/big")
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers


def test_session_under_the_limit_is_written() -> None:
    # About 2 900 characters of data: a Set-Cookie line just under 4 093 bytes.
    app = big_app(2900)

    response = raw_client(app).get("/big")
    header = response.headers.getlist("Set-Cookie")[0]
    assert 3900 < len(header) <= 4093
    assert decode_cookie(cookie_attributes(response)["koa.sess"][0])[
        "big"
    ] == incompressible(2900)


def test_max_cookie_size_is_configurable() -> None:
    app = big_app(900)
    app.config["MAX_COOKIE_SIZE"] = 1000
    with pytest.raises(SessionTooLargeError) as caught:
        raw_client(app).get("/big")
    assert caught.value.limit == 1000

    app = big_app(5000)
    app.config["MAX_COOKIE_SIZE"] = 0  # as in Flask: 0 turns the check off
    response = raw_client(app).get("/big")
    assert response.status_code == 200
    assert len(response.headers.getlist("Set-Cookie")[0]) > 5000


@pytest.mark.parametrize("max_cookie_size", [16384, 0])
def test_a_session_written_under_max_cookie_size_is_read_back(
    max_cookie_size: int,
) -> None:
    # What MAX_COOKIE_SIZE lets the app write, the app reads on the next
    # request (it used to be ignored as "too_large": logged out silently).
    app = big_app(10_000)
    app.config["MAX_COOKIE_SIZE"] = max_cookie_size

    @app.get("/size")
    def size() -> str:
        return str(len(flask.session.get("big", "")))

    client = app.test_client()
    write = client.get("/big")
    assert write.status_code == 200
    assert len(cookie_attributes(write)["koa.sess"][0]) > 10_000
    with Signals() as signals:
        assert client.get("/size").text == "10000"
    assert signals.sent == []


def test_a_value_larger_than_max_cookie_size_allows_is_not_decoded() -> None:
    # The app could not have written it: hostile, ignored unread.
    app = make_app()
    app.config["MAX_COOKIE_SIZE"] = 16384
    cookie = signed('{"a":"' + "x" * 16384 + '"}')
    with Signals() as signals:
        response = raw_client(app).get("/probe", headers={"Cookie": cookie})
    assert response.json == {"new": True, "data": {}}
    assert signals.sent == invalid("too_large")


@pytest.mark.parametrize("signed_cookie", [False, True])
def test_rolling_does_not_fail_on_a_cookie_larger_than_the_app_may_write(
    signed_cookie: bool,
) -> None:
    # Read (it is under the incoming limit), but too large to write back:
    # an unsigned one anyone can forge, a signed one a Koa app wrote. A
    # rolling re-send of it is skipped rather than a 500 on every request;
    # the browser keeps the cookie it has.
    app = make_app(rolling=True, signed=signed_cookie)
    big = incompressible(5000)
    data = f'{{"a":"{big}","_expire":{FUTURE},"_maxAge":{DAY}}}'
    cookie = signed(data) if signed_cookie else f"koa.sess={b64(data)}"
    response = raw_client(app).get("/probe", headers={"Cookie": cookie})
    assert response.status_code == 200
    assert response.json["data"] == {"a": big}
    assert response.headers.getlist("Set-Cookie") == []
    # A change of it is the app's own doing: still an error.
    with pytest.raises(SessionTooLargeError):
        raw_client(app).get("/set?b=1", headers={"Cookie": cookie})


def test_a_cookie_signed_with_an_older_key_and_too_large_to_resign_is_kept() -> None:
    # Key rotation re-signs an unchanged session: skipped like a rolling
    # re-send when the value cannot be written back.
    app = make_app()
    app.config["SECRET_KEY_FALLBACKS"] = ["older"]
    big = incompressible(5000)
    value = b64(f'{{"a":"{big}","_expire":{FUTURE},"_maxAge":{DAY}}}')
    cookie = f"koa.sess={value}; koa.sess.sig={sign(value, keys=['older'])}"
    response = raw_client(app).get("/probe", headers={"Cookie": cookie})
    assert response.status_code == 200
    assert response.json["data"] == {"a": big}
    assert response.headers.getlist("Set-Cookie") == []


def test_before_save_growing_a_rolling_session_too_large_is_an_error() -> None:
    # What before_save adds to a rolling re-send is this app's own doing:
    # no quiet skip.
    def grow(request: flask.Request, session: t.Any) -> None:
        if request.path == "/probe":
            session["padding"] = incompressible(5000)

    app = make_app(rolling=True, before_save=grow)
    client = app.test_client()  # with a cookie jar
    assert client.get("/set?a=1").status_code == 200
    with pytest.raises(SessionTooLargeError):
        client.get("/probe")


@pytest.mark.parametrize("rolling", [False, True])
def test_a_custom_decode_giving_keys_json_cannot_hold_is_a_bad_cookie(
    rolling: bool,
) -> None:
    # msgpack, say, can hand back bytes keys, and an unsigned cookie is the
    # client's to choose: read as a bad cookie, never a 500 when re-sent.
    app = make_app(
        signed=False,
        decode=lambda value: {b"k": "v", 1: 2},
        encode=lambda payload: base64.b64encode(json.dumps(payload).encode()).decode(),
        rolling=rolling,
    )
    with Signals() as signals:
        response = raw_client(app).get("/probe", headers={"Cookie": "koa.sess=x"})
    assert response.status_code == 200
    assert response.json == {"new": True, "data": {}}
    assert signals.sent == invalid("decode")


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_value_json_cannot_hold_is_a_clear_error(number: float) -> None:
    # JSON.stringify would silently write null; the extension refuses instead.
    app = make_app()

    @app.get("/nan")
    def nan() -> str:
        flask.session["x"] = {"deep": [number]}
        return "ok"

    with pytest.raises(ValueError, match="JSON"):
        raw_client(app).get("/nan")

    app.testing = False
    response = raw_client(app).get("/nan")
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers


# --- fuzz -----------------------------------------------------------------------


def random_json(rng: random.Random, depth: int = 0) -> t.Any:
    """A random JSON value, with koa's bookkeeping keys among the object keys."""
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(2**53), 2**53)
    if kind == 2:
        return rng.uniform(-1e6, 1e6)
    if kind == 3:
        return "".join(
            chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(8))
        )
    if kind == 4:
        return rng.choice(["_expire", "_maxAge", "_session", "", " t", " d"])
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["_expire", "_maxAge", "_session", "a", "views", " t", " b", " m"]
    return {
        rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(5))
    }


def random_cookie(rng: random.Random) -> tuple[str, dict[str, t.Any]]:
    """A random Cookie header (and app options) from one of four generators."""
    choice = rng.randrange(4)
    alphabet = [chr(c) for c in range(0x21, 0x7F) if chr(c) != ";"] + ["\xe9", "\xff"]
    if choice == 0:  # garbage value and signature
        value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
        signature = "".join(rng.choice(alphabet) for _ in range(rng.randrange(30)))
        return f"koa.sess={value}; koa.sess.sig={signature}", {}
    if choice == 1:  # random bytes, correctly signed
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(80)))
        return signed(raw), {}
    if choice == 2:  # random JSON, correctly signed
        return signed(json.dumps(random_json(rng), ensure_ascii=rng.random() < 0.5)), {}
    value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
    return f"koa.sess={value}", {"signed": False}


def test_fuzz_never_a_500() -> None:
    rng = random.Random(20240506)
    apps = {True: make_app(testing=False), False: make_app(testing=False, signed=False)}
    for _ in range(500):
        cookie, options = random_cookie(rng)
        app = apps[options.get("signed", True)]
        probe = raw_client(app).get("/probe", headers={"Cookie": cookie})
        assert probe.status_code == 200, cookie
        assert isinstance(probe.json["new"], bool)
        write = raw_client(app).get("/set?k=v", headers={"Cookie": cookie})
        assert write.status_code == 200, cookie
        assert decode_cookie(cookie_attributes(write)["koa.sess"][0])["k"] == "v"


#: What a sealed cookie may be refused for (session_invalid's reason).
SEALED_REASONS = {
    "tampered",
    "wrong_key",
    "junk",
    "truncated",
    "zip_bomb",
    "too_large",
    "unencrypted",
    "encrypted",
    "decode",
    "bookkeeping",
    "signature",
}


def damaged(rng: random.Random, seeds: list[str]) -> str:
    """A sealed value damaged at random, or sealed-looking junk."""
    value = rng.choice(seeds)
    data = bytearray(unb64url(value)) if value.startswith("A") else bytearray()
    action = rng.randrange(8)
    if action < 4 and data:
        at = rng.randrange(len(data))
        if action == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif action == 1:
            del data[at:]
        elif action == 2:
            data[at:at] = rng.randbytes(rng.randrange(1, 5))
        else:
            del data[at : at + rng.randrange(1, 5)]
        return b64url(bytes(data))
    if action == 4:
        return value[: rng.randrange(len(value))]
    if action == 5:
        at = rng.randrange(len(value))
        return value[:at] + rng.choice("A-_+/=.e~!") + value[at + 1 :]
    if action == 6:  # a format byte, then random bytes
        return b64url(bytes((rng.randrange(5),)) + rng.randbytes(rng.randrange(60)))
    return "A" + "".join(rng.choice("AZaz09-_") for _ in range(rng.randrange(80)))


@pytest.mark.parametrize(
    "options",
    [ENCRYPT, COMPRESS, BOTH, {**BOTH, "signed": False}, {**COMPRESS, "signed": False}],
    ids=["encrypt", "compress", "both", "both-unsigned", "compress-unsigned"],
)
def test_fuzz_sealed_never_a_500(options: dict[str, t.Any]) -> None:
    """Sealed values damaged at random (bits, bytes, characters, cuts), each
    correctly signed when the app signs so that unsealing is reached: a
    fresh session or the session, one signal with a known reason, never a
    500; and the next write replaces the cookie with one that opens."""
    rng = random.Random(f"sealed-{sorted(options.items())}")
    app = make_app(testing=False, **options)
    writer = sealer_for(options)
    texts = [GOOD_TEXT, EXPIRED_TEXT, cart_json(80), "{}", '{"a":[1,{"b":null}]}']
    seeds = [writer.seal(text) for text in texts]
    seeds += [s for s in (flip(GOOD_SEALED, 0), GOOD) if s not in seeds]
    reasons: set[str] = set()
    for _ in range(150):
        value = damaged(rng, seeds)
        cookie = (
            f"koa.sess={value}"
            if options.get("signed") is False
            else signed_cookie_header(value)
        )
        with Signals() as signals:
            probe = raw_client(app).get("/probe", headers={"Cookie": cookie})
        assert probe.status_code == 200, value
        assert len(signals.sent) <= 1, (value, signals.sent)
        for name, sent in signals.sent:
            if name == "invalid":
                assert sent["reason"] in SEALED_REASONS, (value, sent)
                reasons.add(sent["reason"])
        write = raw_client(app).get("/set?k=v", headers={"Cookie": cookie})
        assert write.status_code == 200, value
        assert read_cookie(cookie_attributes(write)["koa.sess"][0], options)["k"] == "v"
    assert {"junk", "truncated"} <= reasons
    assert ("tampered" in reasons) == bool(options.get("encrypt"))


@pytest.mark.parametrize(
    ("payload", "data"),
    [
        # Written by a Koa app (no "_tagged" marker): plain JSON, never types.
        ('{"x":{" u":"not-a-uuid"}}', {"x": {" u": "not-a-uuid"}}),
        ('{"x":{" t":5}}', {"x": {" t": 5}}),
        ('{"x":{" m":"<script>"}}', {"x": {" m": "<script>"}}),
        # Marked, but the tags are damaged: kept as the objects they are.
        ('{"x":{" t":5},"_tagged":true}', {"x": {" t": 5}}),
        # (Flask's date tag reads what is not a date as None, without error.)
        ('{"x":{" d":[]},"_tagged":true}', {"x": None}),
    ],
    ids=["uuid-lookalike", "tuple-lookalike", "markup-lookalike", "bad-t", "bad-d"],
)
def test_tag_lookalikes_are_plain_data(payload: str, data: dict[str, t.Any]) -> None:
    app = make_app()
    cookie = signed(payload[:-1] + ',"_expire":9999999999999,"_maxAge":1000}')
    response = raw_client(app).get("/probe", headers={"Cookie": cookie})
    assert response.status_code == 200
    assert response.json == {"new": False, "data": data}


#: An unsigned cookie anyone can plant (from a sibling subdomain, say): tagged
#: as this extension tags Markup, with the marker that allows untagging.
FORGED_MARKUP = {
    "name": {" m": "<script>alert(1)</script>"},
    "_tagged": True,
    "_expire": FUTURE,
    "_maxAge": DAY,
}


def test_unsigned_cookie_is_never_untagged_into_markup() -> None:
    app = make_app(signed=False)

    @app.get("/hello")
    def hello() -> str:
        return flask.render_template_string("<p>{{ session.get('name') }}</p>")

    cookie = f"koa.sess={b64(json.dumps(FORGED_MARKUP))}"
    page = raw_client(app).get("/hello", headers={"Cookie": cookie})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The session is the plain JSON that was sent, marker dropped.
    probe = raw_client(app).get("/probe", headers={"Cookie": cookie})
    assert probe.json == {"new": False, "data": {"name": FORGED_MARKUP["name"]}}


def test_signed_cookie_with_the_same_payload_is_untagged() -> None:
    # The same payload, signed, is this app's own writing: Markup comes back.
    app = make_app()

    @app.get("/hello")
    def hello() -> str:
        return flask.render_template_string("<p>{{ session.get('name') }}</p>")

    cookie = signed(json.dumps(FORGED_MARKUP))
    html = raw_client(app).get("/hello", headers={"Cookie": cookie}).text
    assert html == "<p><script>alert(1)</script></p>"
