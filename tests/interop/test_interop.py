"""A Koa app (koa-session 7) and a Flask app (flask-koasession) share sessions.

Every scenario runs in both directions (``koa-first``: Koa writes the session
and Flask reads or changes it next; ``flask-first``: the other way round) and in
every mode: ``cookie`` sessions; sealed cookie sessions (``sealed-encrypt``,
``sealed-compress``, ``sealed-both``: the options ``encrypt`` and ``compress``
on the Flask side, ``flask_koasession/js/koa-sealed.cjs`` as koa-session's
``encode``/``decode`` on the Koa side); and ``store`` sessions in one real
Redis (koa-redis on the Koa side, ``RedisStore`` on ours). One ``requests``
cookie jar visits both servers, as a browser visits two services of one site.

The last scenarios race the two: Flask's ``/set-around`` loads the session,
lets a request of either side save or destroy it, then saves its own change,
so the other request falls between its load and its save every time.

On failure, the message shows the last HTTP exchanges (Cookie and Set-Cookie
headers) and the Koa server's stderr.
"""

from __future__ import annotations

import base64
import json
import re
import time
import typing as t
import uuid
from dataclasses import dataclass

import flask
import pytest

from devkit.payloads import cart_json
from flask_koasession.sealing import Sealer
from tests.interop import harness
from tests.interop.harness import (
    Browser,
    keygrip_sign,
    koa_decode_text,
    set_cookies,
    strip_bookkeeping,
)

if t.TYPE_CHECKING:
    import requests

    from tests.interop.conftest import ServerPool

KEY = "interop-secret"
BASE = {"KEYS": json.dumps([KEY]), "MAX_AGE": "3600000"}
#: The sealed cookie modes: the SEAL configuration of both sides.
SEALS = {
    "sealed-encrypt": {"encrypt": True, "compress": False},
    "sealed-compress": {"encrypt": False, "compress": True},
    "sealed-both": {"encrypt": True, "compress": True},
}
COOKIE_MODES = ["cookie", *SEALS]
ENCRYPTING = ["sealed-encrypt", "sealed-both"]
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
UUID4 = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)

NESTED = {
    "user": {"name": "Zoë Ångström", "roles": ["admin", "editor"], "id": 42},
    "greeting": "こんにちは, привет, مرحبا",
    "emoji": "😀👍🏽🎉",
    "list": [1, 2.5, -3, None, True, False, {"deep": ["a", {"deeper": "ü"}]}],
    "empty": {"obj": {}, "arr": [], "str": ""},
    "quotes": 'a "quoted" \\ back\\slash / slash <tag> & amp',
}


@dataclass
class Pair:
    """The two sides of one scenario, in the order of the direction."""

    first: harness.Server
    second: harness.Server
    mode: str
    browser: Browser
    redis: t.Any = None
    cookie_name: str = "koa.sess"
    digest: str = "sha1"
    prefix: str = ""
    #: Opens the cookie values of a sealed mode (every key of both sides).
    sealer: Sealer | None = None

    @property
    def koa(self) -> harness.Server:
        return self.first if self.first.name == "koa" else self.second

    @property
    def flask(self) -> harness.Server:
        return self.first if self.first.name == "flask" else self.second

    def report(self) -> str:
        return self.browser.report(self.koa)

    def check(self, condition: object, message: str = "") -> None:
        """``assert`` with the transcript in the message."""
        if not condition:
            raise AssertionError(f"{message}\n{self.report()}")

    def value(self) -> str | None:
        """The value cookie in the jar (the store id in store mode)."""
        return self.browser.cookies().get(self.cookie_name)

    def stored_text(self, value: str | None = None) -> str | None:
        """The session's JSON text where it is kept: the cookie, or Redis."""
        value = self.value() if value is None else value
        if not value:
            return None
        if self.mode == "cookie":
            return self.open(value)
        return self.redis.get(value)

    def open(self, value: str) -> str:
        """The JSON text of a cookie value, sealed or koa's base64."""
        if self.sealer is None:
            return koa_decode_text(value)
        return self.sealer.unseal(value).json_text

    def make_value(self, payload: dict[str, t.Any]) -> str:
        """A cookie value for ``payload``, as this mode writes it."""
        if self.sealer is None:
            return harness.koa_encode(payload)
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        return self.sealer.seal(text)

    def stored(self, value: str | None = None) -> t.Any:
        text = self.stored_text(value)
        return None if text is None else json.loads(text)

    def events(self, server: harness.Server) -> list[dict[str, t.Any]]:
        return self.browser.json(server, "/events")


@pytest.fixture(params=[*COOKIE_MODES, "store"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=["koa-first", "flask-first"])
def direction(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_pair(
    mode: str,
    direction: str,
    server_pool: ServerPool,
    browser: Browser,
    request: pytest.FixtureRequest,
) -> t.Callable[..., Pair]:
    """``make_pair(**env)``: the Koa and Flask servers for one configuration.

    ``first_env``/``second_env`` give the two sides different settings (key
    rotation). In store mode both use the interop Redis database; in a
    sealed mode both seal (``SEAL``), and ``pair.mode`` is ``"cookie"``.
    """

    def make(
        first_env: t.Mapping[str, str] | None = None,
        second_env: t.Mapping[str, str] | None = None,
        **env: str,
    ) -> Pair:
        redis = None
        envs = []
        seal = SEALS.get(mode)
        for extra in (first_env, second_env):
            full = {**BASE, **env, **(extra or {})}
            if seal is not None:
                full["SEAL"] = json.dumps(seal)
            if mode == "store":
                full["REDIS_URL"] = request.getfixturevalue("interop_redis_url")
                redis = request.getfixturevalue("interop_redis")
            envs.append(full)
        if direction == "koa-first":
            first, second = server_pool.koa(envs[0]), server_pool.flask(envs[1])
        else:
            first, second = server_pool.flask(envs[0]), server_pool.koa(envs[1])
        sealer = None
        if seal is not None:
            keys = [k for e in envs for k in json.loads(e["KEYS"])]
            name = envs[0].get("KEY", "koa.sess")
            sealer = Sealer(list(dict.fromkeys(keys)), name, **seal)
        pair = Pair(
            first,
            second,
            "store" if mode == "store" else "cookie",
            browser,
            redis,
            cookie_name=envs[0].get("KEY", "koa.sess"),
            digest=envs[0].get("DIGEST", "sha1"),
            prefix=envs[0].get("PREFIX", ""),
            sealer=sealer,
        )
        for server in (first, second):
            pair.events(server)  # start from an empty event list
        browser.transcript.clear()
        return pair

    return make


def expect_saved(pair: Pair, response: requests.Response) -> dict[str, t.Any]:
    """Check that ``response`` saved the session; return its cookies."""
    cookies = set_cookies(response)
    name = pair.cookie_name
    pair.check(name in cookies, f"{name} was not sent")
    pair.check(f"{name}.sig" in cookies, f"{name}.sig was not sent")
    value = cookies[name][0]
    signature = cookies[f"{name}.sig"][0]
    pair.check(
        signature == keygrip_sign(KEY, f"{name}={value}", pair.digest),
        "the signature is not keygrip's over name=value with the first key",
    )
    if pair.mode == "store":
        prefix = pair.prefix
        pair.check(value.startswith(prefix), f"store id {value!r} lacks {prefix!r}")
        pair.check(UUID4.match(value[len(prefix) :]), f"store id {value!r}: no UUID4")
    return cookies


# -- the scenarios ----------------------------------------------------------------


def test_cookie_jar_is_port_agnostic(server_pool: ServerPool, browser: Browser) -> None:
    """The harness itself: a cookie from one port is sent to the other."""
    koa = server_pool.koa(BASE)
    flask = server_pool.flask(BASE)
    assert koa.port != flask.port
    browser.get(koa, "/incr")
    sent = browser.get(flask, "/session").request.headers.get("Cookie", "")
    assert "koa.sess=" in sent, browser.report(koa)
    assert "koa.sess.sig=" in sent, browser.report(koa)


def test_counter_alternates(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair()
    b = pair.browser
    for n in range(1, 7):
        side = pair.first if n % 2 else pair.second
        response = b.get(side, "/incr")
        pair.check(response.json() == {"views": n}, f"{side.name} counted wrong")
        expect_saved(pair, response)
    payload = pair.stored()
    pair.check(list(payload) == ["views", "_expire", "_maxAge"], f"payload {payload}")
    pair.check(payload["views"] == 6 and payload["_maxAge"] == 3_600_000)
    now = harness.now_ms()
    pair.check(now < payload["_expire"] <= now + 3_600_000, f"_expire {payload}")
    for side in (pair.first, pair.second):
        state = b.json(side, "/session")
        pair.check(state["isNew"] is False and state["maxAge"] == 3_600_000, state)


@pytest.mark.parametrize("mode", ["store"])
def test_store_entry_matches_koa_redis(make_pair: t.Callable[..., Pair]) -> None:
    """The Redis key, value and TTL that each side writes."""
    pair = make_pair()
    b = pair.browser
    response = b.get(pair.first, "/set", params={"json": json.dumps(NESTED)})
    key = expect_saved(pair, response)[pair.cookie_name][0]
    text = pair.redis.get(key)
    data_text = json.dumps(NESTED, separators=(",", ":"), ensure_ascii=False)
    pair.check(text.startswith(data_text[:-1] + ',"_expire":'), f"value {text!r}")
    ttl = pair.redis.ttl(key)
    pair.check(ttl in (3609, 3610), f"TTL {ttl}, koa-redis sets ceil(3610000/1000)")
    state = b.json(pair.second, "/session")
    pair.check(state["externalKey"] == key, f"externalKey {state}")
    b.get(pair.second, "/incr")
    pair.check(b.cookies()[pair.cookie_name] == key, "the id changed on a save")
    pair.check(pair.stored(key)["views"] == 1)
    pair.check(pair.redis.ttl(key) in (3609, 3610))


def test_nested_unicode_and_emoji(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair()
    b = pair.browser
    response = b.get(pair.first, "/set", params={"json": json.dumps(NESTED)})
    expect_saved(pair, response)
    # Byte for byte what JSON.stringify writes: compact, non-ASCII raw.
    data_text = json.dumps(NESTED, separators=(",", ":"), ensure_ascii=False)
    text = pair.stored_text()
    pair.check(text.startswith(data_text[:-1] + ","), f"JSON text {text!r}")
    state = b.json(pair.second, "/session")
    pair.check(strip_underscored(state["session"]) == NESTED, f"read {state}")
    change = {"user": {"name": "Zoë 🎉", "roles": []}, "more": "ß 🙂"}
    b.get(pair.second, "/set", params={"json": json.dumps(change)})
    state = b.json(pair.first, "/session")
    pair.check(strip_underscored(state["session"]) == {**NESTED, **change}, state)
    # A change deep inside a list is saved too.
    deep = {"list": [*NESTED["list"][:-1], {"deep": ["a", {"deeper": "ÿ"}]}]}
    b.get(pair.first, "/set", params={"json": json.dumps(deep)})
    state = b.json(pair.second, "/session")
    pair.check(state["session"]["list"] == deep["list"], state)


def strip_underscored(data: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {k: v for k, v in data.items() if not k.startswith("_")}


@pytest.mark.parametrize("mode", COOKIE_MODES)  # store mode: the next test
def test_max_age_session(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair(MAX_AGE="session")
    b = pair.browser
    for n, side in enumerate((pair.first, pair.second, pair.first), start=1):
        response = b.get(side, "/incr")
        cookies = expect_saved(pair, response)
        for name, (_, attrs) in cookies.items():
            pair.check("expires" not in attrs, f"{side.name}: {name} has expires")
            pair.check("max-age" not in attrs, f"{side.name}: {name} has max-age")
        pair.check(
            pair.stored_text() == f'{{"views":{n},"_session":true}}',
            f"{side.name} payload",
        )
    for side in (pair.first, pair.second):
        state = b.json(side, "/session")
        pair.check(state["maxAge"] == "session" and not state["isNew"], state)


@pytest.mark.parametrize("mode", ["store"])
def test_store_max_age_session_koa_redis_fails(
    make_pair: t.Callable[..., Pair], direction: str
) -> None:
    """koa-redis 4 sends ``SETEX id "session" ...``: Redis refuses, Koa answers 500.

    Our RedisStore writes such a session without a TTL, and Koa reads it.
    """
    pair = make_pair(MAX_AGE="session")
    b = pair.browser
    if direction == "koa-first":
        response = b.get(pair.koa, "/incr", expect=500)
        pair.check("ERR value is not an integer" in pair.koa.stderr(), "koa stderr")
        b.get(pair.flask, "/incr")
    else:
        b.get(pair.flask, "/incr")
        response = b.get(pair.koa, "/session")
        state = response.json()
        pair.check(state["session"] == {"views": 1} and state["maxAge"] == "session")
    key = pair.value()
    pair.check(pair.redis.get(key) == '{"views":1,"_session":true}', "entry")
    pair.check(pair.redis.ttl(key) == -1, "a 'session' entry has no TTL by default")


def test_read_only_request_sends_nothing(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair()
    b = pair.browser
    b.get(pair.first, "/incr")
    for side in (pair.second, pair.first):
        response = b.get(side, "/touch")
        pair.check(response.json()["session"].get("views") == 1)
        pair.check(not harness.set_cookie_lines(response), f"{side.name} sent cookies")


def test_rolling(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair(ROLLING="1")
    b = pair.browser
    b.get(pair.first, "/incr")
    before = pair.stored()
    value = pair.value()
    for side in (pair.second, pair.first):
        time.sleep(0.005)  # so that the new _expire is a later millisecond
        response = b.get(side, "/touch")
        cookies = expect_saved(pair, response)
        after = pair.stored(cookies[pair.cookie_name][0])
        pair.check(strip_bookkeeping(after) == {"views": 1}, f"{side.name}: {after}")
        pair.check(after["_expire"] > before["_expire"], f"{side.name} did not roll")
        pair.check("expires" in cookies[pair.cookie_name][1])
        if pair.mode == "store":
            pair.check(cookies[pair.cookie_name][0] == value, "the id changed")
            pair.check(pair.redis.ttl(value) in (3609, 3610))
        before = after


def test_renew(make_pair: t.Callable[..., Pair]) -> None:
    """renew re-sends when less than half of max age is left; max age travels."""
    pair = make_pair(RENEW="1")
    b = pair.browser
    b.get(pair.first, "/incr")
    state = b.json(pair.first, "/maxage", params={"value": "2000"})
    pair.check(state["maxAge"] == 2000, state)
    written = harness.now_ms()
    header = b.cookie_header()
    pair.check(pair.stored()["_maxAge"] == 2000, pair.stored())
    response = b.get(pair.second, "/touch")
    pair.check(response.json()["maxAge"] == 2000, f"{pair.second.name} lost maxAge")
    pair.check(not harness.set_cookie_lines(response), "renewed too early")
    time.sleep(max(0.0, (written + 1150 - harness.now_ms()) / 1000))
    # The jar may have dropped the cookie already (its expires has whole
    # seconds): send it by hand.
    response = b.get(pair.second, "/touch", cookie=header)
    pair.check(response.json()["session"].get("views") == 1, "session lost")
    cookies = expect_saved(pair, response)
    after = pair.stored(cookies[pair.cookie_name][0])
    now = harness.now_ms()
    pair.check(after["_maxAge"] == 2000, after)
    pair.check(now < after["_expire"] <= now + 2000, f"not renewed: {after}")
    if pair.mode == "store":
        ttl = pair.redis.ttl(cookies[pair.cookie_name][0])
        pair.check(ttl in (11, 12), f"TTL {ttl}: ceil((2000 + 10000) / 1000)")


def test_key_rotation(make_pair: t.Callable[..., Pair]) -> None:
    """Old key signs on one side; the other signs with a new key, old as fallback."""
    old = {"KEYS": '["old-key"]', "FLASK_KEYS_FROM_CONFIG": "1"}
    new = {"KEYS": '["new-key", "old-key"]', "FLASK_KEYS_FROM_CONFIG": "1"}
    pair = make_pair(first_env=old, second_env=new)
    b = pair.browser
    name = pair.cookie_name
    b.get(pair.first, "/set", params={"user": "alice"})
    value = pair.value()
    pair.check(
        b.cookies()[f"{name}.sig"] == keygrip_sign("old-key", f"{name}={value}"),
        "the first side did not sign with old-key",
    )
    response = b.get(pair.second, "/session")
    state = response.json()
    pair.check(state["session"].get("user") == "alice" and not state["isNew"], state)
    cookies = set_cookies(response)
    pair.check(f"{name}.sig" in cookies, "the .sig was not re-issued")
    # koa re-issues the .sig alone; re-sending the value too is allowed, then
    # the .sig must sign the value sent.
    sent = cookies[name][0] if name in cookies else value
    pair.check(
        cookies[f"{name}.sig"][0] == keygrip_sign("new-key", f"{name}={sent}"),
        "the re-issued .sig is not signed with new-key",
    )
    pair.check(pair.stored(sent)["user"] == "alice")
    if pair.sealer is not None and pair.sealer.encrypt:
        # Sealed under old-key: the whole value is re-sealed under new-key.
        pair.check(name in cookies, "the value was not re-sealed")
        current = Sealer(["new-key"], name, encrypt=True, compress=pair.sealer.compress)
        pair.check(current.unseal(sent).key_index == 0, "not sealed under new-key")
    # Healed: the next request has nothing to re-issue.
    response = b.get(pair.second, "/session")
    pair.check(not harness.set_cookie_lines(response), "re-issued twice")
    # The side that only knows old-key cannot verify new-key's signature.
    response = b.get(pair.first, "/session")
    state = response.json()
    pair.check(state["isNew"] and "user" not in state["session"], state)
    cookies = set_cookies(response)
    pair.check(cookies.get(f"{name}.sig", ("x",))[0] == "", "bad .sig not expired")


def test_sha256_keygrip(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair(DIGEST="sha256")
    b = pair.browser
    response = b.get(pair.first, "/incr")
    cookies = expect_saved(pair, response)  # checks the sha256 signature
    pair.check(len(cookies[f"{pair.cookie_name}.sig"][0]) == 43)
    pair.check(b.json(pair.second, "/incr") == {"views": 2})
    pair.check(b.json(pair.first, "/incr") == {"views": 3})
    # A sha1 signature of the same value is refused.
    value = pair.value()
    forged = f"koa.sess={value}; koa.sess.sig={keygrip_sign(KEY, 'koa.sess=' + value)}"
    for side in (pair.first, pair.second):
        state = b.json(side, "/session", cookie=forged)
        pair.check(state["isNew"] and state["session"] == {}, f"{side.name}: {state}")


def test_tampered_value_or_signature_rejected(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair()
    b = pair.browser
    name = pair.cookie_name
    b.get(pair.first, "/incr")
    value, signature = b.cookies()[name], b.cookies()[f"{name}.sig"]
    if pair.mode == "cookie":
        payload = json.loads(pair.open(value))
        other = pair.make_value({**payload, "views": 1000})
    else:
        other = str(uuid.uuid4())
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    attempts = {
        "value changed": f"{name}={other}; {name}.sig={signature}",
        "signature changed": f"{name}={value}; {name}.sig={flipped}",
    }
    for side in (pair.first, pair.second):
        for what, header in attempts.items():
            response = b.get(side, "/session", cookie=header)
            state = response.json()
            pair.check(
                state["isNew"] and state["session"] == {},
                f"{side.name} accepted a cookie with its {what}: {state}",
            )
            cookies = set_cookies(response)
            # koa (the cookies module) expires the .sig it could not verify.
            pair.check(
                cookies.get(f"{name}.sig", ("x", {}))[0] == "",
                f"{side.name} did not expire the bad .sig ({what})",
            )
            pair.check(cookies[f"{name}.sig"][1].get("expires") == EPOCH)
        # No .sig at all: ignored too (koa then sends nothing).
        response = b.get(side, "/session", cookie=f"{name}={value}")
        state = response.json()
        pair.check(state["isNew"] and state["session"] == {}, f"{side.name}: {state}")
    # The untouched cookie is still good on both sides.
    for side in (pair.second, pair.first):
        pair.check(b.json(side, "/session")["session"].get("views") == 1)


@pytest.mark.parametrize("mode", ["store"])
def test_unknown_store_id_is_missed(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair()
    b = pair.browser
    name = pair.cookie_name
    unknown = str(uuid.uuid4())
    header = f"{name}={unknown}; {name}.sig={keygrip_sign(KEY, f'{name}={unknown}')}"
    for side in (pair.first, pair.second):
        state = b.json(side, "/session", cookie=header)
        pair.check(state["isNew"] and state["session"] == {}, f"{side.name}: {state}")
        pair.check(state["externalKey"] != unknown, f"{side.name} reused the id")
        events = [e["event"] for e in pair.events(side)]
        pair.check(events == ["missed"], f"{side.name} events {events}")
        response = b.get(side, "/incr", cookie=header)
        saved = set_cookies(response)[name][0]
        pair.check(saved != unknown, f"{side.name} saved under the unknown id")


def test_expired_session_ignored(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair()
    b = pair.browser
    b.get(pair.first, "/incr")
    b.get(pair.first, "/maxage", params={"value": "1000"})
    header = b.cookie_header()
    payload = pair.stored()
    pair.check(payload["_maxAge"] == 1000, payload)
    time.sleep(max(0.0, (payload["_expire"] + 50 - harness.now_ms()) / 1000))
    for side in (pair.second, pair.first):
        state = b.json(side, "/session", cookie=header)
        pair.check(state["isNew"] and state["session"] == {}, f"{side.name}: {state}")
        events = pair.events(side)
        pair.check(
            [e["event"] for e in events] == ["expired"], f"{side.name} events {events}"
        )
        pair.check(events[0]["value"]["views"] == 1, events)
        if pair.mode == "store":
            pair.check(events[0]["key"] == header.split(";")[0].split("=", 1)[1])


def test_destroy_seen_on_the_other_side(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair()
    b = pair.browser
    name = pair.cookie_name
    b.get(pair.first, "/incr")
    header = b.cookie_header()
    key = pair.value()
    response = b.get(pair.second, "/destroy")
    cookies = set_cookies(response)
    pair.check(cookies.get(name, ("x",))[0] == "", "value cookie not removed")
    pair.check(
        cookies.get(f"{name}.sig", ("",))[0] == keygrip_sign(KEY, f"{name}="),
        "the removal .sig is not the signature of 'koa.sess='",
    )
    for cookie_name in (name, f"{name}.sig"):
        pair.check(cookies[cookie_name][1].get("expires") == EPOCH, cookie_name)
        pair.check(cookies[cookie_name][1].get("path") == "/", cookie_name)
    pair.check(name not in b.cookies(), "the jar kept the cookie")
    if pair.mode == "store":
        pair.check(pair.redis.exists(key) == 0, "the Redis entry survived destroy")
        # The old cookie, replayed, no longer opens the session.
        state = b.json(pair.first, "/session", cookie=header)
        pair.check(state["isNew"] and state["session"] == {}, state)
    state = b.json(pair.first, "/session")
    pair.check(state["isNew"] and state["session"] == {}, state)
    pair.check(b.json(pair.first, "/incr") == {"views": 1})


def test_regenerate(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair()
    b = pair.browser
    name = pair.cookie_name
    b.get(pair.first, "/set", params={"user": "bob"})
    old = pair.value()
    response = b.get(pair.second, "/regenerate")
    cookies = expect_saved(pair, response)  # one value, one .sig (overwrite)
    new = cookies[name][0]
    pair.check(pair.stored(new)["user"] == "bob", "data lost on regenerate")
    if pair.mode == "store":
        pair.check(new != old, "regenerate kept the store id")
        pair.check(pair.redis.exists(old) == 0, "the old entry survived regenerate")
    state = b.json(pair.first, "/session")
    pair.check(state["session"].get("user") == "bob" and not state["isNew"], state)
    if pair.mode == "store":
        pair.check(state["externalKey"] == new, state)


def test_flash_read_once(make_pair: t.Callable[..., Pair]) -> None:
    """The seed's flash: set on one side, shown once on the other."""
    pair = make_pair()
    b = pair.browser
    message = "Saved ✓ 🎉"
    # koa's ctx.redirect() sends 302; Flask's redirect() its default code
    # (302 up to Flask 3.2, which sends 303).
    redirect_code = 302 if pair.first.name == "koa" else flask.redirect("/").status_code
    response = b.get(
        pair.first,
        "/flash",
        params={"msg": message},
        allow_redirects=False,
        expect=redirect_code,
    )
    pair.check(response.headers["Location"].endswith("/show-flash"))
    pair.check(b.json(pair.second, "/show-flash") == {"flash": message})
    pair.check(b.json(pair.second, "/show-flash") == {"flash": None})
    pair.check(b.json(pair.first, "/show-flash") == {"flash": None})
    # The seed's own flow, on one side: /flash redirects to /show-flash.
    for side in (pair.first, pair.second):
        pair.check(
            b.json(side, "/flash", params={"msg": side.name}) == {"flash": side.name}
        )
        pair.check(b.json(side, "/show-flash") == {"flash": None})


def test_custom_cookie_name(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair(KEY="koa:sess")
    b = pair.browser
    response = b.get(pair.first, "/incr")
    cookies = expect_saved(pair, response)
    pair.check(set(cookies) == {"koa:sess", "koa:sess.sig"}, f"names {set(cookies)}")
    pair.check(b.json(pair.second, "/incr") == {"views": 2})
    pair.check(b.json(pair.first, "/incr") == {"views": 3})
    pair.check("koa.sess" not in b.cookies())


def test_same_site_attributes(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair(SAME_SITE="Lax")
    b = pair.browser
    for side in (pair.first, pair.second):
        for path in ("/incr", "/destroy"):
            cookies = set_cookies(b.get(side, path))
            pair.check(len(cookies) == 2, f"{side.name} {path}: {cookies}")
            for name, (_, attrs) in cookies.items():
                same_site = str(attrs.get("samesite", "")).lower()
                pair.check(same_site == "lax", f"{side.name} {path}: {name} {attrs}")
                pair.check(attrs.get("httponly") is True and attrs.get("path") == "/")


def test_unsigned_cookies(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair(SIGNED="0")
    b = pair.browser
    for n, side in enumerate((pair.first, pair.second, pair.first), start=1):
        response = b.get(side, "/incr")
        pair.check(response.json() == {"views": n}, f"{side.name} counted wrong")
        cookies = set_cookies(response)
        pair.check(set(cookies) == {pair.cookie_name}, f"{side.name}: {cookies}")


@pytest.mark.parametrize("mode", ["store"])
def test_store_id_prefix(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair(PREFIX="sess:")
    b = pair.browser
    expect_saved(pair, b.get(pair.first, "/incr"))  # checks sess:<uuid4>
    key = pair.value()
    pair.check(pair.stored(key)["views"] == 1, "not in Redis under the prefixed id")
    pair.check(b.json(pair.second, "/incr") == {"views": 2})
    pair.check(pair.value() == key and pair.stored(key)["views"] == 2)


@pytest.mark.parametrize("direction", ["flask-first"])
def test_koa_rewrite_turns_flask_types_into_plain_json(
    make_pair: t.Callable[..., Pair],
) -> None:
    """Tagged values (datetime, tuple, bytes, UUID) are plain JSON objects to koa.
    Flask keeps their types while only Flask writes; a Koa write drops the
    "_tagged" marker (an "_" key), after which Flask reads them as the plain
    objects they are to Koa: data a Koa app wrote is never given Python types."""
    pair = make_pair()
    b = pair.browser
    written = b.json(pair.flask, "/typed", params={"set": "1"})
    pair.check(
        {name: kind for name, (kind, _) in written.items()}
        == {"when": "datetime", "pair": "tuple", "raw": "bytes", "id": "UUID"},
        f"{written}",
    )
    pair.check(b.json(pair.flask, "/typed") == written, "a type was lost")
    pair.check(b.json(pair.koa, "/incr") == {"views": 1})
    after = b.json(pair.flask, "/typed")
    pair.check(
        {name: kind for name, (kind, _) in after.items()}
        == dict.fromkeys(("when", "pair", "raw", "id"), "dict"),
        f"{after}",
    )


@pytest.mark.parametrize("direction", ["koa-first"])
def test_koa_written_tag_lookalikes_stay_plain_json(
    make_pair: t.Callable[..., Pair],
) -> None:
    """JSON a Koa app stores as it got it (say, from a client) may look like a
    Flask tag; Flask must read it as the plain object it is, never as Markup."""
    pair = make_pair()
    b = pair.browser
    hostile = {"name": {" m": "<script>alert(1)</script>"}, "pair": {" t": 5}}
    b.get(pair.koa, "/set", params={"json": json.dumps(hostile)})
    pair.check(b.json(pair.flask, "/session")["session"] == hostile)


@pytest.mark.parametrize("direction", ["flask-first"])
def test_koa_rewrite_drops_underscore_keys(make_pair: t.Callable[..., Pair]) -> None:
    """Known and documented: koa's toJSON() skips keys that start with "_", so a
    Koa app that saves the session drops Flask's _flashes, _user_id, _fresh..."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.flask, "/set", params={"_user_id": "7", "name": "x"})
    state = b.json(pair.koa, "/session")  # reading keeps the cookie as it is
    pair.check(state["session"] == {"name": "x"}, state)
    pair.check(b.json(pair.flask, "/session")["session"]["_user_id"] == "7")
    b.get(pair.koa, "/incr")  # a save on the Koa side
    state = b.json(pair.flask, "/session")
    pair.check(state["session"] == {"name": "x", "views": 1}, state)


# -- sealed cookies ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sealed-compress", "sealed-both"])
def test_a_500_item_cart_fits_in_one_cookie(make_pair: t.Callable[..., Pair]) -> None:
    """Written by one side, read and rewritten by the other: each time one
    cookie of at most 4093 bytes, as browsers keep (plain, it takes 57 KB)."""
    pair = make_pair()
    b = pair.browser
    cart = json.loads(cart_json(500))["cart"]
    response = b.get(pair.first, "/cart", params={"n": "500"})
    for side, path in ((pair.first, None), (pair.second, "/incr")):
        if path is not None:
            response = b.get(side, path)
        expect_saved(pair, response)
        (line,) = [
            line
            for line in harness.set_cookie_lines(response)
            if line.startswith(f"{pair.cookie_name}=")
        ]
        pair.check(len(line) <= 4093, f"{side.name}: a {len(line)}-byte cookie")
        pair.check(pair.stored()["cart"] == cart, f"{side.name}: not the cart")
    state = b.json(pair.first, "/session")
    pair.check(state["session"]["cart"] == cart and state["session"]["views"] == 1)


@pytest.mark.parametrize("mode", ENCRYPTING)
def test_an_encrypted_cookie_reveals_nothing(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair()
    b = pair.browser
    for side in (pair.first, pair.second):
        data = {**NESTED, "side": side.name}  # a change on each side
        response = b.get(side, "/set", params={"json": json.dumps(data)})
        value = expect_saved(pair, response)[pair.cookie_name][0]
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        for shown in ("Ångström", "admin", "deeper", '"user"'):
            pair.check(shown.encode() not in raw, f"{side.name} shows {shown}")
        pair.check(json.loads(pair.open(value))["user"] == NESTED["user"])


@pytest.mark.parametrize("mode", ENCRYPTING)
def test_an_unsigned_encrypted_cookie_cannot_be_forged(
    make_pair: t.Callable[..., Pair],
) -> None:
    """With signed=False, AES-GCM is the only check on both sides: a changed
    value, or a plain one, gives a fresh session (and no 500 on Koa)."""
    pair = make_pair(SIGNED="0")
    b = pair.browser
    name = pair.cookie_name
    b.get(pair.first, "/incr")
    value = pair.value()
    assert value is not None
    data = bytearray(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    data[25] ^= 0x01  # in the ciphertext
    changed = base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode()
    plain = harness.koa_encode({"views": 1000, "_expire": 2**42, "_maxAge": 1000})
    for side in (pair.first, pair.second):
        for header in (f"{name}={changed}", f"{name}={plain}"):
            state = b.json(side, "/session", cookie=header)
            pair.check(state["isNew"] and state["session"] == {}, f"{side.name}")
    reasons = [event["reason"] for event in pair.events(pair.flask)]
    pair.check(reasons == ["tampered", "unencrypted"], f"Flask's reasons {reasons}")
    pair.check(b.json(pair.second, "/incr") == {"views": 2})


# -- concurrent requests of one session (store mode, merged saves) ---------------


def set_around(pair: Pair, around: str, **values: str) -> requests.Response:
    """Flask's ``/set-around``: load, let ``around`` (a URL) run, then set
    ``values``, with the jar's cookies."""
    return pair.browser.get(
        pair.flask, "/set-around", params={"around": around, **values}
    )


@pytest.mark.parametrize("mode", ["store"])
@pytest.mark.parametrize(
    "around", ["koa", "flask"], ids=["koa-writes-between", "flask-writes-between"]
)
def test_a_write_in_between_is_merged(
    make_pair: t.Callable[..., Pair], around: str
) -> None:
    """A request (Koa's or Flask's) saves while a Flask request runs: the
    Flask save merges onto it, and Koa reads the merged entry as its own."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.first, "/set", params={"cart": "apple"})
    key = pair.value()
    between = pair.koa if around == "koa" else pair.flask
    response = set_around(pair, between.url + "/set?theme=dark", lang="fr")
    pair.check(set_cookies(response)[pair.cookie_name][0] == key, "the id changed")
    payload = pair.stored(key)
    pair.check(
        list(payload) == ["cart", "theme", "lang", "_expire", "_maxAge"],
        f"the entry is not the merge of both writes, in koa's layout: {payload}",
    )
    pair.check(payload["theme"] == "dark" and payload["lang"] == "fr", payload)
    pair.check(pair.redis.ttl(key) in (3609, 3610), "not koa-redis's TTL")
    state = b.json(pair.koa, "/session")
    pair.check(
        state["session"] == {"cart": "apple", "theme": "dark", "lang": "fr"}, state
    )
    b.get(pair.koa, "/set", params={"after": "1"})  # Koa writes onto it
    pair.check(pair.stored(key)["lang"] == "fr", "Koa's rewrite lost a key")


@pytest.mark.parametrize("mode", ["store"])
@pytest.mark.parametrize("direction", ["koa-first"])
def test_a_koa_logout_in_between_stays_a_logout(
    make_pair: t.Callable[..., Pair],
) -> None:
    """Koa destroys the session (koa-redis ``DEL``) while a Flask request
    runs: the Flask save is dropped and brings nothing back."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.koa, "/set", params={"user": "alice"})
    key = pair.value()
    header = b.cookie_header()
    response = set_around(pair, pair.koa.url + "/destroy", theme="dark")
    pair.check(set_cookies(response) == {}, "the dropped save sent a cookie")
    pair.check(pair.redis.exists(key) == 0, "the entry came back")
    events = pair.events(pair.flask)
    pair.check(
        [(e["event"], e["key"], e["reason"]) for e in events]
        == [("dropped", key, "gone")],
        events,
    )
    state = b.json(pair.koa, "/session", cookie=header)
    pair.check(state["isNew"] and state["session"] == {}, state)


@pytest.mark.parametrize("mode", ["store"])
@pytest.mark.parametrize("direction", ["koa-first"])
def test_a_koa_regenerate_in_between_keeps_the_old_id_gone(
    make_pair: t.Callable[..., Pair],
) -> None:
    """Koa moves the session to a new id (a login) while a Flask request
    runs on the old one: the old id stays gone, the new one is Koa's."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.koa, "/set", params={"cart": "apple"})
    old = pair.value()
    response = set_around(pair, pair.koa.url + "/regenerate", theme="dark")
    pair.check(set_cookies(response) == {}, "the dropped save sent a cookie")
    pair.check(pair.redis.exists(old) == 0, "the old id came back")
    # The id Koa's /regenerate moved the session to, from its Set-Cookie.
    lines = response.json()["around"]["setCookie"]
    [new] = [
        value
        for name, value, _ in map(harness.parse_set_cookie, lines)
        if name == pair.cookie_name and value
    ]
    pair.check(new != old, "Koa kept the id")
    pair.check(strip_bookkeeping(pair.stored(new)) == {"cart": "apple"}, new)
    events = pair.events(pair.flask)
    pair.check([e["reason"] for e in events] == ["gone"], events)
