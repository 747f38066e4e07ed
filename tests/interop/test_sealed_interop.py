"""Sealed cookies across languages: flask_koasession.sealing (Python) and
flask_koasession/js/koa-sealed.cjs (Node.js) read and write the same values.

- The module itself, run by ``node tests/interop/sealed.js`` (no node_modules
  needed): the fixed vectors, values sealed by one language opened by the
  other (encrypt, compress, both; with key rotation), and a differential fuzz
  where both must refuse a damaged value for the same reason.
- The module as the real koa-session's ``encode``/``decode`` (``server.js``
  with ``SEAL``): Koa writes sealed cookies that Python opens, reads and
  rewrites cookies that Python sealed (a 500-item cart included), re-seals a
  cookie sealed under an older key, and gives a fresh session (never a 500)
  for every hostile value.

These tests seal and open with :class:`~flask_koasession.sealing.Sealer`
directly; a Flask app sealing through the ``encrypt`` and ``compress``
options meets the real koa-session in ``test_interop.py``'s sealed modes.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
import typing as t
from pathlib import Path

import pytest

from devkit.payloads import cart_json
from flask_koasession import codec, sealing
from flask_koasession.sealing import Sealer, SealError
from tests.interop import harness
from tests.interop.harness import keygrip_sign, set_cookies

if t.TYPE_CHECKING:
    from tests.interop.conftest import ServerPool

SEALED_JS = harness.INTEROP_DIR / "sealed.js"
VECTORS = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "sealed_vectors.json").read_text("utf-8")
)
MODES = {
    "encrypt": {"encrypt": True, "compress": False},
    "compress": {"encrypt": False, "compress": True},
    "both": {"encrypt": True, "compress": True},
}
KEYS = ["current-secret", "previous-secret"]
NESTED = {
    "user": {"name": "Zoë Ångström", "roles": ["admin", "editor"], "id": 42},
    "greeting": "こんにちは, привет, مرحبا",
    "emoji": "😀👍🏽🎉",
    "list": [1, 2.5, -3, None, True, False, {"deep": ["a", {"deeper": "ü"}]}],
    "quotes": 'a "quoted" \\ back\\slash / slash <tag> & amp',
}
TEXTS = [
    '{"message":"hello","_expire":1,"_maxAge":86400000}',
    '{"t":"q8Zx","_session":true}',
    "{}",
    json.dumps(NESTED, separators=(",", ":"), ensure_ascii=False),
    cart_json(40),
]
#: What browsers keep of one cookie (Flask's MAX_COOKIE_SIZE default).
COOKIE_LIMIT = 4093
MAX_AGE = 3_600_000


@pytest.fixture(scope="module")
def node() -> str:
    """Fails (never skips) without Node.js."""
    try:
        return harness.node_binary()
    except harness.HarnessError as error:
        pytest.fail(str(error), pytrace=False)


def run_js(node: str, ops: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Run a batch of operations on the JavaScript module (see sealed.js)."""
    result = subprocess.run(
        [node, str(SEALED_JS)],
        input=json.dumps({"module": str(sealing.JS_MODULE), "ops": ops}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    results: list[dict[str, t.Any]] = json.loads(result.stdout)
    assert len(results) == len(ops)
    return results


def js_options(keys: t.Sequence[t.Any], name: str, mode: str) -> dict[str, t.Any]:
    return {"keys": list(keys), "key": name, **MODES[mode]}


def sealer(keys: t.Sequence[str | bytes], mode: str, name: str = "koa.sess") -> Sealer:
    return Sealer(keys, name, **MODES[mode])


def opened(result: dict[str, t.Any]) -> tuple[str, int]:
    assert "ok" in result, result
    return result["ok"]["text"], result["ok"]["index"]


def python_outcome(reader: Sealer, value: str) -> tuple[str, t.Any]:
    try:
        return ("ok", tuple(reader.unseal(value)))
    except SealError as error:
        return ("error", error.reason)


def js_outcome(result: dict[str, t.Any]) -> tuple[str, t.Any]:
    if "ok" in result:
        return ("ok", (result["ok"]["text"], result["ok"]["index"]))
    assert result["error"]["syntax"], result  # koa-session: a bad cookie, no 500
    return ("error", result["error"]["reason"])


def _key(k: t.Any) -> str | bytes:
    return bytes.fromhex(k["hex"]) if isinstance(k, dict) else k


# -- the module alone -------------------------------------------------------------


def test_vectors_in_node(node: str) -> None:
    """The fixed vectors that tests/test_sealing.py checks in Python."""
    ops: list[dict[str, t.Any]] = []
    for v in VECTORS["vectors"]:
        options = {
            "keys": v["keys"],
            "key": v["cookie_name"],
            "encrypt": v["encrypt"],
            "compress": v["compress"],
        }
        ops.append({"op": "unseal", "options": options, "value": v["value"]})
        seal_options = {**options, "keys": v.get("seal_keys", v["keys"])}
        ops.append(
            {
                "op": "sealWithNonce",
                "options": seal_options,
                "text": v["json"],
                "nonce": v["nonce"],
            }
        )
    for h in VECTORS["hostile"]:
        options = {
            "keys": h["keys"],
            "key": h["cookie_name"],
            "encrypt": h["encrypt"],
            "compress": h["compress"],
        }
        ops.append({"op": "unseal", "options": options, "value": h["value"]})
    ops.extend({"op": "derive", "key": d["key"]} for d in VECTORS["derived"])
    results = iter(run_js(node, ops))

    for v in VECTORS["vectors"]:
        assert opened(next(results)) == (v["json"], v["index"]), v["name"]
        sealed = next(results)["ok"]
        if v["deterministic"]:
            assert sealed == v["value"], v["name"]
        # Deflate bytes may differ between zlib builds; the text never does.
        reader = Sealer(
            [_key(k) for k in v["keys"]],
            v["cookie_name"],
            encrypt=v["encrypt"],
            compress=v["compress"],
        )
        assert reader.unseal(sealed) == (v["json"], v["index"]), v["name"]
    for h in VECTORS["hostile"]:
        assert js_outcome(next(results)) == ("error", h["reason"]), h["name"]
    for d in VECTORS["derived"]:
        assert next(results)["ok"] == {"aesKey": d["aes_key"], "keyId": d["key_id"]}


@pytest.mark.parametrize("mode", MODES)
def test_python_sealed_values_open_in_node(node: str, mode: str) -> None:
    values = [sealer(KEYS, mode).seal(text) for text in TEXTS]
    old = [sealer(KEYS[1:], mode).seal(text) for text in TEXTS]
    named = sealer(KEYS, mode, name="sid").seal(TEXTS[0])
    options = js_options(KEYS, "koa.sess", mode)
    ops = [{"op": "unseal", "options": options, "value": v} for v in values + old]
    ops.append(
        {"op": "unseal", "options": js_options(KEYS, "sid", mode), "value": named}
    )
    results = run_js(node, ops)
    # Keyed forms report the key; compression alone involves none (index 0).
    rotated = 1 if MODES[mode]["encrypt"] else 0
    expected = [(text, 0) for text in TEXTS] + [(text, rotated) for text in TEXTS]
    assert [opened(r) for r in results] == [*expected, (TEXTS[0], 0)]


@pytest.mark.parametrize("mode", MODES)
def test_node_sealed_values_open_in_python(node: str, mode: str) -> None:
    ops = [
        {"op": "seal", "options": js_options(keys, name, mode), "text": text}
        for keys, name in ((KEYS, "koa.sess"), (KEYS[1:], "koa.sess"), (KEYS, "sid"))
        for text in TEXTS
    ]
    results = run_js(node, ops)
    values = [r["ok"] for r in results]
    n = len(TEXTS)
    reader = sealer(KEYS, mode)
    rotated = 1 if MODES[mode]["encrypt"] else 0
    assert [reader.unseal(v) for v in values[:n]] == [(text, 0) for text in TEXTS]
    assert [reader.unseal(v) for v in values[n : 2 * n]] == [
        (text, rotated) for text in TEXTS
    ]
    sid = sealer(KEYS, mode, name="sid")
    assert [sid.unseal(v).json_text for v in values[2 * n :]] == TEXTS
    if MODES[mode]["encrypt"]:
        # The name is bound: a value moved to another cookie does not open.
        with pytest.raises(SealError, match="tampered"):
            reader.unseal(values[2 * n])


@pytest.mark.parametrize("mode", MODES)
def test_node_encode_is_json_stringify_sealed(node: str, mode: str) -> None:
    """koa-session's ``encode(obj)``: the text Python opens is the one
    :func:`codec.dumps_json` writes for the same payload."""
    payload = {**NESTED, "_expire": 4_102_444_800_000, "_maxAge": MAX_AGE}
    options = js_options(KEYS, "koa.sess", mode)
    (result,) = run_js(node, [{"op": "encode", "options": options, "obj": payload}])
    assert sealer(KEYS, mode).unseal(result["ok"]) == (codec.dumps_json(payload), 0)


@pytest.mark.parametrize("mode", ["encrypt", "both"])
def test_node_decode_asks_koa_to_reseal_after_rotation(node: str, mode: str) -> None:
    current = sealer(KEYS, mode).seal(TEXTS[0])
    old = sealer(KEYS[1:], mode).seal(TEXTS[0])
    options = js_options(KEYS, "koa.sess", mode)
    no_reseal = {**options, "resealOnRotation": False}
    results = run_js(
        node,
        [
            {"op": "decode", "options": options, "value": current},
            {"op": "decode", "options": options, "value": old},
            {"op": "decode", "options": no_reseal, "value": old},
        ],
    )
    payload = json.loads(TEXTS[0])
    assert [r["ok"] for r in results] == [
        payload,
        {**payload, "_requireSave": True},
        payload,
    ]


@pytest.mark.parametrize("mode", MODES)
def test_damaged_values_fail_alike_in_both_languages(node: str, mode: str) -> None:
    """A differential fuzz: 300 damaged values (bytes changed, cut, inserted or
    dropped; characters cut or changed), each refused by both languages with
    the same reason, or opened by both to the same text.
    """
    rng = random.Random(f"sealed-{mode}")
    writer = sealer(KEYS, mode)
    seeds = [writer.seal(text) for text in (*TEXTS, cart_json(200))]
    seeds = [s for s in seeds if s.startswith("A")]
    values = []
    for _ in range(300):
        value = rng.choice(seeds)
        data = bytearray(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        action = rng.randrange(6)
        at = rng.randrange(len(data))
        if action == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif action == 1:
            data = data[:at]
        elif action == 2:
            data[at:at] = rng.randbytes(rng.randrange(1, 4))
        elif action == 3:
            del data[at : at + rng.randrange(1, 4)]
        if action <= 3:
            value = base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode()
        elif action == 4:
            value = value[: rng.randrange(len(value))]
        else:
            i = rng.randrange(len(value))
            value = value[:i] + rng.choice("A-_+/=.e ~") + value[i + 1 :]
        values.append(value)
    reader = sealer(KEYS, mode)
    options = js_options(KEYS, "koa.sess", mode)
    results = run_js(
        node, [{"op": "unseal", "options": options, "value": v} for v in values]
    )
    outcomes = [
        (python_outcome(reader, v), js_outcome(r))
        for v, r in zip(values, results, strict=True)
    ]
    differ = [
        (v, py, js) for v, (py, js) in zip(values, outcomes, strict=True) if py != js
    ]
    assert not differ, differ[:5]
    refused = {py[1] for py, _ in outcomes if py[0] == "error"}
    assert "junk" in refused
    assert ("tampered" in refused) == MODES[mode]["encrypt"]


# -- the module in the real koa-session -------------------------------------------


def koa_env(mode: str, keys: t.Sequence[str] = KEYS) -> dict[str, str]:
    return {
        "KEYS": json.dumps(list(keys)),
        "MAX_AGE": str(MAX_AGE),
        "SEAL": json.dumps(MODES[mode]),
    }


def signed_header(value: str, key: str = KEYS[0], name: str = "koa.sess") -> str:
    return f"{name}={value}; {name}.sig={keygrip_sign(key, f'{name}={value}')}"


def session_cookie(response: t.Any, key: str = KEYS[0]) -> str:
    """The ``koa.sess`` value a response sets, after checking its signature."""
    cookies = set_cookies(response)
    value = cookies["koa.sess"][0]
    assert cookies["koa.sess.sig"][0] == keygrip_sign(key, f"koa.sess={value}")
    return value


def sealed_payload(data: dict[str, t.Any]) -> str:
    return codec.dumps_json(
        {**data, "_expire": harness.now_ms() + MAX_AGE, "_maxAge": MAX_AGE}
    )


@pytest.mark.parametrize("mode", MODES)
def test_koa_writes_sealed_cookies_that_python_opens(
    server_pool: ServerPool, browser: harness.Browser, mode: str
) -> None:
    koa = server_pool.koa(koa_env(mode))
    response = browser.get(koa, "/set", params={"json": json.dumps(NESTED)})
    value = session_cookie(response)
    text, index = sealer(KEYS, mode).unseal(value)
    payload = json.loads(text)
    assert index == 0
    assert harness.strip_bookkeeping(payload) == NESTED, browser.report(koa)
    assert payload["_maxAge"] == MAX_AGE
    if MODES[mode]["encrypt"]:
        assert value.startswith("A")
        assert b"Zo\xc3\xab" not in base64.urlsafe_b64decode(value + "==")
    else:  # deflate shortens this JSON, so it is compressed
        assert base64.urlsafe_b64decode(value + "==")[0] == sealing.FORMAT_DEFLATE


@pytest.mark.parametrize("mode", MODES)
def test_koa_reads_and_rewrites_what_python_sealed(
    server_pool: ServerPool, browser: harness.Browser, mode: str
) -> None:
    koa = server_pool.koa(koa_env(mode))
    compressing = MODES[mode]["compress"]
    cart = json.loads(cart_json(500 if compressing else 5))["cart"]
    value = sealer(KEYS, mode).seal(sealed_payload({"cart": cart, "views": 41}))
    if compressing:  # the cart fits in one cookie only compressed
        assert len(f"koa.sess={value}") < COOKIE_LIMIT - 100
    response = browser.get(koa, "/incr", cookie=signed_header(value))
    assert response.json() == {"views": 42}, browser.report(koa)
    rewritten = session_cookie(response)
    line = next(
        line
        for line in harness.set_cookie_lines(response)
        if line.startswith("koa.sess=")
    )
    assert len(line) <= COOKIE_LIMIT
    payload = json.loads(sealer(KEYS, mode).unseal(rewritten).json_text)
    assert payload["views"] == 42
    assert payload["cart"] == cart


@pytest.mark.parametrize("mode", ["encrypt", "both"])
def test_koa_reseals_a_cookie_sealed_under_an_older_key(
    server_pool: ServerPool, browser: harness.Browser, mode: str
) -> None:
    koa = server_pool.koa(koa_env(mode, ["new-key", "old-key"]))
    value = sealer(["old-key"], mode).seal(sealed_payload({"user": "alice"}))
    response = browser.get(koa, "/session", cookie=signed_header(value, "old-key"))
    state = response.json()
    assert state["isNew"] is False
    assert state["session"] == {"user": "alice"}, browser.report(koa)
    # A read-only request, yet the cookie is re-sealed (and re-signed) with
    # the current key.
    resealed = session_cookie(response, "new-key")
    text, index = sealer(["new-key"], mode).unseal(resealed)
    assert index == 0
    assert json.loads(text)["user"] == "alice"
    assert "_requireSave" not in text
    # Healed: nothing more to re-send.
    response = browser.get(koa, "/session", cookie=signed_header(resealed, "new-key"))
    assert response.json()["session"] == {"user": "alice"}
    assert harness.set_cookie_lines(response) == [], browser.report(koa)


@pytest.mark.parametrize("mode", ["both", "compress"])
def test_koa_gives_a_fresh_session_for_hostile_sealed_cookies(
    server_pool: ServerPool, browser: harness.Browser, mode: str
) -> None:
    """Every hostile vector of the mode, correctly signed so that koa-session
    reaches ``decode``: a fresh session, never a 500."""
    koa = server_pool.koa(koa_env(mode, ["a"]))
    cases = [
        h
        for h in VECTORS["hostile"]
        if h["encrypt"] == MODES[mode]["encrypt"]
        and h["keys"] in (["a"], [])
        and h["cookie_name"] == "koa.sess"
    ]
    assert len(cases) >= 7
    for case in cases:
        response = browser.get(
            koa, "/session", cookie=signed_header(case["value"], "a")
        )
        state = response.json()
        assert state["isNew"] is True, (case["name"], browser.report(koa))
        assert state["session"] == {}, case["name"]
    assert "koa error" not in koa.stderr()
