"""Sealed cookie values (flask_koasession.sealing): encryption, compression,
key rotation, and every way a hostile value fails with a typed reason.

The fixed vectors in ``tests/fixtures/sealed_vectors.json`` are checked here in
Python and in ``tests/interop/test_sealed_interop.py`` in Node.js.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import tracemalloc
import typing as t
import zlib
from pathlib import Path

import pytest

from devkit.payloads import cart_json
from flask_koasession import codec, cookies, sealing
from flask_koasession.exceptions import SessionTooLargeError
from flask_koasession.sealing import Opened, SealedTooLargeError, Sealer, SealError

VECTORS = json.loads(
    (Path(__file__).parent / "fixtures" / "sealed_vectors.json").read_text("utf-8")
)
HELLO = '{"message":"hello","_expire":1,"_maxAge":86400000}'
UNICODE = '{"name":"Zoë Ångström","emoji":"😀👍🏽","jp":"こんにちは","_session":true}'
TEXTS = [HELLO, UNICODE, "{}", cart_json(500)]
MODES = {
    "encrypt": {"encrypt": True, "compress": False},
    "compress": {"encrypt": False, "compress": True},
    "both": {"encrypt": True, "compress": True},
}
KEYS = ["current-secret", "previous-secret"]
BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
#: What browsers keep of one cookie (Flask's MAX_COOKIE_SIZE default).
COOKIE_LIMIT = 4093


def make(
    mode: str = "both", keys: t.Sequence[str | bytes] = KEYS, **kw: t.Any
) -> Sealer:
    return Sealer(keys, "koa.sess", **MODES[mode], **kw)


def unb64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def reason(sealer: Sealer, value: str) -> str:
    with pytest.raises(SealError) as info:
        sealer.unseal(value)
    return info.value.reason


def set_cookie_header(value: str) -> str:
    """A typical ``Set-Cookie`` value for the session cookie, as sent."""
    return (
        f"koa.sess={value}; path=/; expires=Thu, 01 Jan 2026 00:00:00 GMT;"
        " samesite=lax; secure; httponly"
    )


# -- round trips ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("text", TEXTS, ids=["hello", "unicode", "empty", "cart"])
def test_round_trip(mode: str, text: str) -> None:
    sealer = make(mode)
    value = sealer.seal(text)
    if len(value) > sealing.MAX_VALUE_LENGTH:
        # The cart without compression: no browser keeps such a cookie, and
        # no such value is even looked at, as for plain cookies.
        assert (mode, text) == ("encrypt", TEXTS[-1])
        assert reason(sealer, value) == "too_large"
        return
    assert sealer.unseal(value) == Opened(text, 0)
    assert isinstance(sealer.unseal(value), tuple)


@pytest.mark.parametrize("mode", ["encrypt", "both"])
def test_encrypted_value_reveals_nothing(mode: str) -> None:
    sealer = make(mode)
    secret = '{"email":"alice@example.com","card":"4111111111111111"}'
    value = sealer.seal(secret)
    raw = unb64url(value)
    for needle in (b"alice", b"4111", b"email"):
        assert needle not in raw
    assert "alice" not in value
    assert codec.encode_text("alice")[:6] not in value
    # Same text, new nonce: nothing in common after the header.
    again = unb64url(sealer.seal(secret))
    assert raw[:5] == again[:5]
    assert raw[5:17] != again[5:17]
    assert raw[17:] != again[17:]


def test_str_keys_are_utf8_bytes() -> None:
    value = make(keys=["clé"]).seal(HELLO)
    assert make(keys=["clé".encode()]).unseal(value) == (HELLO, 0)
    assert sealing.derive("clé") == sealing.derive(b"cl\xc3\xa9")


# -- key rotation -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["encrypt", "both"])
def test_every_key_opens_and_reports_its_index(mode: str) -> None:
    keys = ["k0", "k1", "k2"]
    reader = make(mode, keys)
    for index, key in enumerate(keys):
        value = make(mode, [key]).seal(HELLO)
        assert reader.unseal(value) == (HELLO, index)


def test_rotation_reseals_with_the_current_key() -> None:
    old = make(keys=["old"]).seal(HELLO)
    rotated = make(keys=["new", "old"])
    text, index = rotated.unseal(old)
    assert index == 1
    resealed = rotated.seal(text)
    assert make(keys=["new"]).unseal(resealed) == (HELLO, 0)
    # Once "old" is dropped, cookies still sealed with it are a wrong key.
    assert reason(make(keys=["new"]), old) == "wrong_key"


def test_keys_sharing_an_id_are_each_tried() -> None:
    # Two keys whose 4-byte ids collide (a 1 in 2**32 chance): both are tried.
    sealer = make(keys=["a", "b"])
    shared = sealer._keys[0].key_id
    second = sealer._keys[1] = sealer._keys[1]._replace(key_id=shared)
    header = bytes((sealing.FORMAT_AES_GCM,)) + shared
    nonce = bytes(12)
    body = second.aead.encrypt(nonce, HELLO.encode(), header + b"koa.sess")
    assert sealer.unseal(b64url(header + nonce + body)) == (HELLO, 1)


# -- hostile values ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["encrypt", "both"])
def test_changing_any_byte_fails_with_the_reason_of_its_region(mode: str) -> None:
    sealer = make(mode)
    data = unb64url(sealer.seal(cart_json(5)))
    for at in range(len(data)):
        changed = bytearray(data)
        changed[at] ^= 0x01
        got = reason(sealer, b64url(bytes(changed)))
        # The format byte 0x02 <-> 0x03 is still a format, but it is bound as
        # associated data; the key id selects no key; the rest authenticates.
        assert got == ("wrong_key" if 1 <= at <= 4 else "tampered"), at


@pytest.mark.parametrize("mode", ["encrypt", "both"])
def test_every_truncation_fails(mode: str) -> None:
    sealer = make(mode)
    value = sealer.seal(HELLO)
    data = unb64url(value)
    for length in range(len(value)):
        got = reason(sealer, value[:length])
        prefix = value[:length]
        if length % 4 == 1 or not prefix:
            assert got == "junk"
        elif len(unb64url(prefix)) < 33:
            assert got == "truncated"
        else:
            assert got == "tampered"
    for length in range(1, 33):
        assert reason(sealer, b64url(data[:length])) == "truncated"


def test_a_value_moved_to_another_cookie_name_does_not_open() -> None:
    value = make().seal(HELLO)
    other = Sealer(KEYS, "koa.sess.other", encrypt=True, compress=True)
    assert reason(other, value) == "tampered"


@pytest.mark.parametrize(
    "value",
    [
        "A" * 5,  # a length base64 cannot have
        "A+/=" * 8,  # standard base64 characters
        "AAAA AAAA",
        "A\u00e9AA",
        "AAAA;AAAA",
        b64url(b"\x00" + bytes(40)),  # format byte 0x00
        b64url(b"\x04" + bytes(40)),  # a future format
        "Z29vZA",
        "%7B%7D",
    ],
)
def test_junk(value: str) -> None:
    assert reason(make(), value) == "junk"


def test_plain_and_compressed_values_are_refused_when_encrypting() -> None:
    sealer = make("encrypt")
    assert reason(sealer, codec.encode_text(HELLO)) == "unencrypted"
    compressed = make("compress").seal(cart_json(20))
    assert compressed.startswith("A")
    assert reason(sealer, compressed) == "unencrypted"


def test_encrypted_values_are_refused_without_encryption() -> None:
    assert reason(make("compress"), make("encrypt").seal(HELLO)) == "encrypted"
    assert reason(make("compress"), make("both").seal(cart_json(20))) == "encrypted"


@pytest.mark.parametrize("mode", MODES)
def test_too_long_a_value_is_not_looked_at(mode: str) -> None:
    sealer = make(mode, max_value_length=100)
    assert reason(sealer, "A" * 101) == "too_large"
    assert reason(make(mode), "e" * 8193) == "too_large"
    short = make(mode).seal('{"a":1}')
    assert len(short) <= 100
    assert sealer.unseal(short).json_text == '{"a":1}'


def test_seal_refuses_text_it_could_not_read_back() -> None:
    sealer = make(max_size=1000)
    text = '{"a":"' + "x" * 992 + '"}'
    assert len(text) == 1000
    assert sealer.unseal(sealer.seal(text)).json_text == text
    with pytest.raises(SealedTooLargeError) as info:
        sealer.seal(text[:-2] + 'x"}')
    assert isinstance(info.value, SessionTooLargeError)
    assert (info.value.size, info.value.limit) == (1001, 1000)
    assert "1001 bytes" in str(info.value)


def _bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(b"0" * size) + compressor.flush()


def test_a_zip_bomb_is_a_bad_cookie_and_memory_stays_bounded() -> None:
    # 6 MB of zeros deflate to ~6 KB: the largest bomb a cookie value can hold.
    value = b64url(b"\x01" + _bomb(6_000_000))
    assert len(value) <= sealing.MAX_VALUE_LENGTH
    sealer = make("compress")
    tracemalloc.start()
    try:
        assert reason(sealer, value) == "zip_bomb"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * sealing.MAX_SIZE + 100_000, peak


def test_an_encrypted_zip_bomb_is_bounded_too() -> None:
    # Only a key holder can make one, and it is still only a bad cookie.
    text = '{"a":"' + "0" * 2_000_000 + '"}'
    value = make("both", max_size=4_000_000).seal(text)
    assert len(value) < 8192
    assert reason(make("both"), value) == "zip_bomb"


def test_inflating_to_exactly_max_size_opens() -> None:
    text = '{"a":"' + "0" * 992 + '"}'
    assert len(text) == 1000
    value = make("compress").seal(text)
    assert make("compress", max_size=1000).unseal(value).json_text == text
    assert reason(make("compress", max_size=999), value) == "zip_bomb"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x01", "truncated"),
        (b"\x01\xff\xff\xff", "junk"),
        (b"\x01" + zlib.compress(b"{}" * 50, 9, -15)[:-3], "truncated"),
        (b"\x01" + zlib.compress(b"{}" * 50, 9, -15) + b"\x00", "junk"),
        (b"\x01" + zlib.compress(b'{"a":"\xc3"}', 9, -15), "junk"),
    ],
    ids=["empty", "invalid", "cut", "trailing", "not-utf8"],
)
def test_broken_deflate_data(data: bytes, expected: str) -> None:
    assert reason(make("compress"), b64url(data)) == expected


def test_seal_error_carries_its_reason() -> None:
    with pytest.raises(SealError, match="cannot unseal the cookie value: wrong_key"):
        make(keys=["other"]).unseal(make().seal(HELLO))


# -- what is written --------------------------------------------------------------


def test_every_write_has_a_new_nonce() -> None:
    sealer = make("encrypt")
    values = {sealer.seal(HELLO) for _ in range(2000)}
    nonces = {unb64url(v)[5:17] for v in values}
    assert len(values) == len(nonces) == 2000


@pytest.mark.parametrize("mode", MODES)
def test_values_are_cookie_safe(mode: str) -> None:
    sealer = make(mode)
    texts = [*TEXTS, json.dumps({"k": "".join(map(chr, range(32, 2000)))})]
    for text in texts:
        value = sealer.seal(text)
        assert cookies.not_cookie_octets(value) is None, value  # RFC 6265
        if value.startswith("A"):
            assert BASE64URL.fullmatch(value), value
        else:  # compression alone that did not shrink: koa's own base64
            assert mode == "compress"
            assert value == codec.encode_text(text)


def test_compression_is_used_only_when_it_shrinks() -> None:
    short = '{"t":"q8Zx","_session":true}'
    # Compression alone: a value that does not shrink is koa-session's own.
    assert make("compress").seal(short) == codec.encode_text(short)
    assert unb64url(make("compress").seal(cart_json(20)))[0] == sealing.FORMAT_DEFLATE
    # With encryption: the format byte says whether the plaintext is deflated.
    assert unb64url(make("both").seal(short))[0] == sealing.FORMAT_AES_GCM
    assert unb64url(make("both").seal(cart_json(20)))[0] == (
        sealing.FORMAT_AES_GCM_DEFLATE
    )
    assert unb64url(make("encrypt").seal(cart_json(20)))[0] == sealing.FORMAT_AES_GCM


def test_compression_alone_reads_koa_values_as_koa_does() -> None:
    sealer = make("compress")
    payload = {"message": "hello", "_expire": 1, "_maxAge": 86_400_000}
    koa_value = codec.encode(payload)
    assert sealer.unseal(koa_value) == (HELLO, 0)
    # koa decodes leniently: URL-safe alphabet, no padding.
    lenient = koa_value.rstrip("=").replace("+", "-").replace("/", "_")
    assert sealer.unseal(lenient) == (HELLO, 0)


def test_a_500_item_cart_fits_in_a_cookie_only_compressed() -> None:
    text = cart_json(500)
    plain = codec.encode_text(text)
    assert len(set_cookie_header(plain)) > 10 * COOKIE_LIMIT
    for mode in ("compress", "both"):
        value = make(mode).seal(text)
        assert len(set_cookie_header(value)) <= COOKIE_LIMIT, (mode, len(value))
        assert make(mode).unseal(value).json_text == text


# -- set-up -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "options", "message"),
    [
        (["k"], {"encrypt": False, "compress": False}, "nothing to do"),
        ([], {"encrypt": True, "compress": False}, "needs a list of keys"),
        ("secret", {"encrypt": True, "compress": False}, "needs a list of keys"),
        (["k", ""], {"encrypt": True, "compress": False}, r"keys\[1\]=''"),
        (["k", None], {"encrypt": True, "compress": False}, r"keys\[1\]=None"),
        (["k"], {"encrypt": True, "compress": True, "max_size": 0}, "max_size=0"),
    ],
)
def test_configuration_mistakes(
    keys: t.Any, options: dict[str, t.Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Sealer(keys, "koa.sess", **options)


def test_compression_alone_needs_no_keys() -> None:
    sealer = Sealer([], "koa.sess", encrypt=False, compress=True)
    assert sealer.unseal(sealer.seal(cart_json(10))).json_text == cart_json(10)


def test_without_cryptography_encryption_fails_at_set_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None
    )
    with pytest.raises(RuntimeError, match=r"flask-koasession\[encrypt\]"):
        make("encrypt")
    sealer = make("compress")  # compression alone needs only zlib
    assert sealer.unseal(sealer.seal(HELLO)).json_text == HELLO


def test_the_javascript_module_ships_in_the_package() -> None:
    assert sealing.JS_MODULE.is_file()
    assert sealing.JS_MODULE.parent.parent == Path(sealing.__file__).parent
    source = sealing.JS_MODULE.read_text("utf-8")
    # The constants both sides must agree on.
    assert sealing.HKDF_SALT.decode() in source
    assert sealing.HKDF_INFO.decode() in source


# -- fixed vectors (Node.js checks the same file) ----------------------------------


def _vector_sealer(entry: dict[str, t.Any], keys_field: str = "keys") -> Sealer:
    keys = [
        bytes.fromhex(k["hex"]) if isinstance(k, dict) else k
        for k in entry.get(keys_field) or entry["keys"]
    ]
    return Sealer(
        keys, entry["cookie_name"], encrypt=entry["encrypt"], compress=entry["compress"]
    )


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_vector(vector: dict[str, t.Any]) -> None:
    opened = _vector_sealer(vector).unseal(vector["value"])
    assert opened == (vector["json"], vector["index"])
    if vector["deterministic"]:
        sealer = _vector_sealer(vector, "seal_keys")
        nonce = bytes.fromhex(vector["nonce"])
        assert sealer._seal(vector["json"], nonce) == vector["value"]


@pytest.mark.parametrize("vector", VECTORS["hostile"], ids=lambda v: v["name"])
def test_hostile_vector(vector: dict[str, t.Any]) -> None:
    assert reason(_vector_sealer(vector), vector["value"]) == vector["reason"]


def test_vector_key_derivation() -> None:
    assert VECTORS["hkdf"] == {
        "salt": sealing.HKDF_SALT.decode(),
        "info": sealing.HKDF_INFO.decode(),
    }
    for entry in VECTORS["derived"]:
        key = entry["key"]
        raw = bytes.fromhex(key["hex"]) if isinstance(key, dict) else key
        aes_key, key_id = sealing.derive(raw)
        assert (aes_key.hex(), key_id.hex()) == (entry["aes_key"], entry["key_id"])
