"""What express-session 1.19 and connect-redis 9 put on the wire, pinned.

``express_session_server.js`` (Express 5, express-session, connect-redis with
a node-redis 5 client) runs for real; these tests talk HTTP to it and read
its Redis database directly (redis-py, and MONITOR through
:func:`devkit.traffic.redis_traffic` for the exact commands). Nothing here
runs flask-koasession: this is the spec that ``wire="express-session"``
implements, written down with examples in ``EXPRESS_SESSION_WIRE.md``
(its sections follow the ones here).
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import itertools
import json
import re
import time
import typing as t
import urllib.parse
from dataclasses import dataclass

import pytest

from devkit.traffic import Traffic, redis_traffic
from tests.interop import harness
from tests.interop.conftest import REDIS_DB
from tests.interop.harness import (
    Browser,
    express_session_cookie,
    express_session_sign,
    set_cookies,
)

if t.TYPE_CHECKING:
    import redis
    import requests

    from tests.interop.conftest import ServerPool

SECRET = "interop-secret"
HOUR = 3_600_000
NAME = "connect.sid"
PREFIX = "sess:"
BASE = {"KEYS": json.dumps([SECRET]), "MAX_AGE": str(HOUR)}
#: uid-safe(24): 24 random bytes in base64url, no padding.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{32}")
#: Date.prototype.toISOString(): always milliseconds, always Z.
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
HTTPS = {"X-Forwarded-Proto": "https"}
#: How far below the max age an originalMaxAge may be: Cookie's expires setter
#: recomputes it as ``expires - Date.now()`` a moment after expires was set
#: from it, so each set (creation, touch, a maxAge) may take a ms off.
DRIFT = 50


def near(value: object, max_age: int) -> bool:
    """``value`` is ``max_age`` or at most :data:`DRIFT` ms less."""
    return isinstance(value, int) and max_age - DRIFT <= value <= max_age


@dataclass
class Wire:
    """One express-session server, the Redis database under it, a browser."""

    server: harness.ExpressSessionServer
    redis: redis.Redis[str]
    redis_server: t.Any
    browser: Browser
    prefix: str = PREFIX

    def check(self, condition: object, message: str = "") -> None:
        """``assert`` with the transcript and the server's stderr."""
        if not condition:
            raise AssertionError(f"{message}\n{self.browser.report(self.server)}")

    def get(self, path: str, **kwargs: t.Any) -> requests.Response:
        return self.browser.get(self.server, path, **kwargs)

    def json(self, path: str, **kwargs: t.Any) -> t.Any:
        return self.browser.json(self.server, path, **kwargs)

    def traffic(self) -> t.ContextManager[Traffic]:
        """The Redis commands of the block (on the interop database)."""
        host, port = self.redis_server.host, self.redis_server.port
        return redis_traffic(host, port, db=REDIS_DB)

    def sid(self, value: str | None = None) -> str:
        """The session id in a ``connect.sid`` value (default: the jar's)."""
        value = self.browser.cookies()[NAME] if value is None else value
        signed = urllib.parse.unquote(value)
        self.check(signed.startswith("s:"), f"not a signed value: {value!r}")
        return signed[2:].rpartition(".")[0]

    def key(self, sid: str | None = None) -> str:
        return self.prefix + (self.sid() if sid is None else sid)

    def text(self, sid: str | None = None) -> str | None:
        """The Redis entry's JSON text."""
        return self.redis.get(self.key(sid))

    def entry(self, sid: str | None = None) -> t.Any:
        text = self.text(sid)
        self.check(text is not None, f"no entry {self.key(sid)}")
        return json.loads(t.cast("str", text))

    def write(self, sid: str, payload: t.Any, ttl: int = 600) -> None:
        """Put an entry in Redis by hand, as connect-redis would."""
        text = payload if isinstance(payload, str) else compact(payload)
        self.redis.set(self.key(sid), text, ex=ttl)

    def cookie_for(self, sid: str, secret: str = SECRET) -> str:
        return f"{NAME}={express_session_cookie(secret, sid)}"


def compact(payload: t.Any) -> str:
    """JSON.stringify's text: compact, non-ASCII as is."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def iso_ms(text: str) -> int:
    """An ISO 8601 date (toISOString) as ms since the epoch."""
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1000)


def iso(ms: int) -> str:
    """ms since the epoch as Date.prototype.toISOString() writes it."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def http_date(text: str) -> str:
    """cookie.expires (ISO) as the Expires attribute: toUTCString()."""
    moment = datetime.datetime.fromisoformat(text).replace(microsecond=0)
    return email.utils.format_datetime(moment, usegmt=True)


def attribute_names(response: requests.Response) -> list[list[str]]:
    lines = harness.set_cookie_lines(response)
    return [list(harness.parse_set_cookie(line)[2]) for line in lines]


def tamper(signed: str) -> str:
    """``signed`` with its last character changed."""
    return signed[:-1] + ("B" if signed.endswith("A") else "A")


def fresh_id() -> str:
    """A session id of the shape express-session makes (uid-safe(24))."""
    import secrets

    return secrets.token_urlsafe(24)


@pytest.fixture
def make_wire(
    server_pool: ServerPool,
    interop_redis_url: str,
    interop_redis: redis.Redis[str],
    redis_server: t.Any,
    browser: Browser,
) -> t.Callable[..., Wire]:
    """``make_wire(**env)``: the server for ``BASE`` with ``env`` on top."""

    def make(**env: str) -> Wire:
        full = {**BASE, "REDIS_URL": interop_redis_url, **env}
        server = server_pool.express_session(full)
        browser.transcript.clear()
        prefix = full.get("PREFIX", PREFIX)
        return Wire(server, interop_redis, redis_server, browser, prefix)

    return make


# -- 1. the cookie ----------------------------------------------------------------


def test_the_cookie_is_the_signed_id_url_encoded(
    make_wire: t.Callable[..., Wire],
) -> None:
    """``s:`` + id + ``.`` + base64
    (standard alphabet, ``=`` stripped) of HMAC-SHA256(secret, id), through
    encodeURIComponent; attributes Path, Expires, HttpOnly."""
    wire = make_wire()
    values: list[str] = []
    while len(values) < 20:  # until a signature has a + or a / to encode
        wire.browser.session.cookies.clear()
        response = wire.get("/incr")
        [line] = harness.set_cookie_lines(response)
        name, value, attrs = harness.parse_set_cookie(line)
        wire.check(name == NAME, line)
        sid = wire.sid(value)
        wire.check(SESSION_ID.fullmatch(sid), f"id {sid!r}")
        wire.check(len(base64.urlsafe_b64decode(sid)) == 24, f"id {sid!r}")
        wire.check(value == express_session_cookie(SECRET, sid), line)
        signed = express_session_sign(SECRET, sid)
        wire.check(urllib.parse.unquote(value) == signed, line)
        wire.check(value.startswith("s%3A") and len(signed) == 2 + 32 + 1 + 43)
        wire.check(list(attrs) == ["path", "expires", "httponly"], line)
        wire.check(attrs["path"] == "/", line)
        wire.check(attrs["expires"] == http_date(wire.entry(sid)["cookie"]["expires"]))
        values.append(value)
        if "%2B" in value or "%2F" in value:
            break
    wire.check("%2B" in values[-1] or "%2F" in values[-1], f"no + or /: {values}")


def test_the_cookie_is_read_decoded_or_not(make_wire: t.Callable[..., Wire]) -> None:
    """The cookie module decodes a value only when it holds a ``%``: the raw
    ``s:id.sig`` opens the session too."""
    wire = make_wire()
    sid = fresh_id()
    wire.write(sid, {"cookie": {"originalMaxAge": HOUR, "path": "/"}, "views": 7})
    for header in (
        wire.cookie_for(sid),
        f"{NAME}={express_session_sign(SECRET, sid)}",
    ):
        state = wire.json("/session", cookie=header)
        wire.check(state["session"] == {"views": 7} and not state["isNew"], header)


# -- 2. the entry -------------------------------------------------------------------


def test_the_entry_key_json_and_ttl(make_wire: t.Callable[..., Wire]) -> None:
    """``sess:<id>``: JSON.stringify of the session, ``cookie`` first (only the
    fields that are set), then the data in insertion order; ``SET ... EX`` with
    ceil((cookie.expires - now) / 1000)."""
    wire = make_wire()
    before = harness.now_ms()
    with wire.traffic() as traffic:
        wire.get("/incr")
    after = harness.now_ms()
    sid = wire.sid()
    text = wire.text(sid)
    pattern = (
        r'\{"cookie":\{"originalMaxAge":(\d+),"expires":"(' + ISO + r')",'
        r'"httpOnly":true,"path":"/"\},"views":1\}'
    )
    match = re.fullmatch(pattern, text or "")
    wire.check(match, f"entry {text!r}")
    assert match is not None
    wire.check(near(int(match[1]), HOUR), f"originalMaxAge {match[1]}")
    expires = iso_ms(match[2])
    wire.check(before + HOUR - DRIFT <= expires <= after + HOUR, f"{match[2]}")
    wire.check(wire.redis.exists(sid) == 0, "a key without the prefix")
    wire.check(wire.redis.ttl(wire.key(sid)) in (3599, 3600))
    # A new session: one SET, no GET (no cookie came in).
    wire.check(traffic.names == ["SET"], f"{traffic.commands}")
    [command] = traffic.commands
    wire.check(command.arguments == f"{PREFIX}{sid} {text} EX 3600", f"{command}")
    # Data keep their order, non-ASCII stays raw (JSON.stringify).
    data = {"b": 1, "a": "こんにちは 😀", "nested": {"z": [1, 2.5, None, True]}}
    wire.get("/set", params={"json": json.dumps(data)})
    text = wire.text(sid) or ""
    wire.check(text.endswith(',"views":1,' + compact(data)[1:]), text)
    state = wire.json("/session")
    wire.check(state["session"] == {"views": 1, **data} and not state["isNew"])
    wire.check(state["externalKey"] == sid, f"{state}")


@pytest.mark.parametrize(
    ("env", "headers", "cookie_json", "attributes", "ttl"),
    [
        pytest.param(
            {"MAX_AGE": "session", "SAME_SITE": "Lax", "SECURE": "0"},
            {},
            '{"originalMaxAge":null,"expires":null,"secure":false,"httpOnly":true,'
            '"path":"/","sameSite":"Lax"}',
            ["path", "httponly", "samesite"],
            86400,
            id="no-maxAge-lax-insecure",
        ),
        pytest.param(
            {"SAME_SITE": "Strict", "SECURE": "1"},
            HTTPS,
            '{"originalMaxAge":ORIGINAL,"expires":"EXPIRES","secure":true,'
            '"httpOnly":true,"path":"/","sameSite":"Strict"}',
            ["path", "expires", "httponly", "secure", "samesite"],
            3600,
            id="maxAge-strict-secure",
        ),
    ],
)
def test_cookie_fields_in_the_entry(
    make_wire: t.Callable[..., Wire],
    env: dict[str, str],
    headers: dict[str, str],
    cookie_json: str,
    attributes: list[str],
    ttl: int,
) -> None:
    """Every set cookie option is in ``cookie``, in the order of Cookie's
    ``data`` getter; no maxAge is ``null`` twice and connect-redis's default
    TTL of one day."""
    wire = make_wire(**env)
    response = wire.get("/incr", headers=headers)
    wire.check(attribute_names(response) == [attributes], "attributes")
    text = wire.text() or ""
    pattern = re.escape(cookie_json).replace("EXPIRES", ISO)
    pattern = r'\{"cookie":' + pattern.replace("ORIGINAL", r"\d+") + r',"views":1\}'
    wire.check(re.fullmatch(pattern, text), f"entry {text!r}")
    original = json.loads(text)["cookie"]["originalMaxAge"]
    wire.check(original is None or near(original, HOUR), f"entry {text!r}")
    wire.check(wire.redis.ttl(wire.key()) in (ttl - 1, ttl), "TTL")


def test_secure_over_plain_http_saves_without_a_cookie(
    make_wire: t.Callable[..., Wire],
) -> None:
    """``secure`` over plain HTTP: no Set-Cookie, yet the entry is written."""
    wire = make_wire(SECURE="1", PREFIX="wire-secure:")
    with wire.traffic() as traffic:
        response = wire.get("/incr")
    wire.check(response.json() == {"views": 1})
    wire.check(not harness.set_cookie_lines(response), "a cookie over HTTP")
    wire.check(traffic.names == ["SET"], f"{traffic.commands}")
    key = traffic.commands[0].arguments.split(" ")[0]
    wire.check(key.startswith("wire-secure:"), key)
    wire.check(json.loads(wire.redis.get(key) or "{}").get("views") == 1, key)


# -- 3. which requests write what ------------------------------------------------


def test_an_unmodified_request_only_touches(make_wire: t.Callable[..., Wire]) -> None:
    """A request that changes no data: ``GET`` then ``EXPIRE key ttl`` (connect-
    redis's touch, from a cookie.expires moved to now + originalMaxAge), the
    entry's text unchanged, no Set-Cookie."""
    wire = make_wire(MAX_AGE="10000")
    wire.get("/incr")
    sid = wire.sid()
    text = wire.text(sid)
    time.sleep(1.2)
    wire.check(wire.redis.pttl(wire.key(sid)) < 8900, "TTL")
    with wire.traffic() as traffic:
        response = wire.get("/touch")
    wire.check(response.json()["session"] == {"views": 1})
    wire.check(not harness.set_cookie_lines(response), "a cookie on a read")
    wire.check(traffic.names == ["GET", "EXPIRE"], f"{traffic.commands}")
    wire.check(traffic.commands[1].arguments == f"{PREFIX}{sid} 10")
    wire.check(wire.text(sid) == text, "the entry changed")
    wire.check(wire.redis.pttl(wire.key(sid)) > 9500, "TTL not reset")


def test_a_modified_request_saves_and_resends_the_cookie(
    make_wire: t.Callable[..., Wire],
) -> None:
    """Data changed: ``GET``, ``SET ... EX``; with a maxAge the cookie goes again
    (same value, Expires moved)."""
    wire = make_wire(MAX_AGE="10000")
    first = wire.get("/incr")
    sid = wire.sid()
    old = wire.entry(sid)["cookie"]["expires"]
    time.sleep(1.05)  # another second for Expires
    with wire.traffic() as traffic:
        second = wire.get("/incr")
    wire.check(traffic.names == ["GET", "SET"], f"{traffic.commands}")
    wire.check(traffic.commands[1].arguments.endswith(" EX 10"))
    new = wire.entry(sid)["cookie"]["expires"]
    wire.check(iso_ms(new) >= iso_ms(old) + 1000, f"{old} -> {new}")
    (v1, a1), (v2, a2) = set_cookies(first)[NAME], set_cookies(second)[NAME]
    wire.check(v1 == v2, "the value changed")
    wire.check(a2["expires"] == http_date(new) != a1["expires"], "Expires")


def test_without_max_age(make_wire: t.Callable[..., Wire]) -> None:
    """No maxAge: a browser-session cookie sent once (a later save does not
    send it again), entries and touches with connect-redis's 86400 s."""
    wire = make_wire(MAX_AGE="session")
    response = wire.get("/incr")
    wire.check(attribute_names(response) == [["path", "httponly"]])
    sid = wire.sid()
    with wire.traffic() as traffic:
        response = wire.get("/incr")
        wire.get("/touch")
    wire.check(not harness.set_cookie_lines(response), "re-sent")
    wire.check(traffic.names == ["GET", "SET", "GET", "EXPIRE"], f"{traffic}")
    wire.check(traffic.commands[1].arguments.endswith(" EX 86400"))
    wire.check(traffic.commands[3].arguments == f"{PREFIX}{sid} 86400")
    wire.check(wire.entry(sid)["cookie"]["expires"] is None)


def test_rolling(make_wire: t.Callable[..., Wire]) -> None:
    """``rolling``: every request with a session sends the cookie again with a
    new Expires; an unmodified one is still only an ``EXPIRE`` in Redis, so the
    stored cookie.expires stays behind."""
    wire = make_wire(MAX_AGE="10000", ROLLING="1")
    first = wire.get("/incr")
    sid = wire.sid()
    text = wire.text(sid)
    time.sleep(1.05)
    with wire.traffic() as traffic:
        second = wire.get("/touch")
    wire.check(traffic.names == ["GET", "EXPIRE"], f"{traffic.commands}")
    wire.check(wire.text(sid) == text, "the entry changed")
    (v1, a1), (v2, a2) = set_cookies(first)[NAME], set_cookies(second)[NAME]
    wire.check(v1 == v2 and a2["expires"] != a1["expires"], "not rolled")
    stored = wire.entry(sid)["cookie"]["expires"]
    wire.check(a2["expires"] != http_date(stored), "the entry's expires rolled")
    # Rolling with no maxAge: the cookie again, still without Expires.
    wire = make_wire(MAX_AGE="session", ROLLING="1")
    wire.browser.session.cookies.clear()
    wire.get("/incr")
    response = wire.get("/touch")
    wire.check(attribute_names(response) == [["path", "httponly"]])


def test_a_max_age_change_alone_is_only_a_ttl(
    make_wire: t.Callable[..., Wire],
) -> None:
    """``req.session.cookie.maxAge = n`` changes no data: the entry keeps its
    originalMaxAge, no cookie goes, only the touch's TTL follows n."""
    wire = make_wire()
    wire.get("/incr")
    sid = wire.sid()
    text = wire.text(sid)
    with wire.traffic() as traffic:
        response = wire.get("/maxage", params={"value": "20000"})
    wire.check(near(response.json()["maxAge"], 20000), f"{response.json()}")
    wire.check(not harness.set_cookie_lines(response), "a cookie")
    wire.check(traffic.names == ["GET", "EXPIRE"], f"{traffic.commands}")
    wire.check(traffic.commands[1].arguments == f"{PREFIX}{sid} 20")
    wire.check(wire.text(sid) == text, "the entry changed")
    state = wire.json("/session")
    wire.check(near(state["maxAge"], HOUR), f"{state}")


def test_the_entry_carries_the_max_age(make_wire: t.Callable[..., Wire]) -> None:
    """A session's max age is its entry's ``cookie.originalMaxAge``, whatever
    the app's option; ``cookie.expires`` is never checked on a read (the TTL
    is what expires a session)."""
    wire = make_wire()
    sid = fresh_id()
    past = iso(harness.now_ms() - 60_000)
    wire.write(
        sid, {"cookie": {"originalMaxAge": 20000, "expires": past}, "views": 3}, 600
    )
    cookie = wire.cookie_for(sid)
    state = wire.json("/session", cookie=cookie)
    wire.check(state["session"] == {"views": 3} and not state["isNew"], f"{state}")
    wire.check(state["maxAge"] == 20000, f"{state}")
    before = harness.now_ms()
    with wire.traffic() as traffic:
        response = wire.get("/incr", cookie=cookie)
    wire.check(traffic.names == ["GET", "SET"], f"{traffic.commands}")
    wire.check(traffic.commands[1].arguments.endswith(" EX 20"))
    entry = wire.entry(sid)
    wire.check(
        list(entry["cookie"]) == ["originalMaxAge", "expires", "httpOnly", "path"]
    )
    wire.check(near(entry["cookie"]["originalMaxAge"], 20000), f"{entry}")
    expires = iso_ms(entry["cookie"]["expires"])
    wire.check(before + 20000 - DRIFT <= expires <= before + 21000, f"{entry}")
    expires = set_cookies(response)[NAME][1]["expires"]
    wire.check(expires == http_date(entry["cookie"]["expires"]), expires)
    # The entry gone (its TTL passed), the same cookie is a new session.
    wire.redis.delete(wire.key(sid))
    state = wire.json("/session", cookie=cookie)
    wire.check(state["isNew"] and state["session"] == {}, f"{state}")
    wire.check(state["externalKey"] != sid, "the sent id was adopted")


def test_original_max_age_never_grows(make_wire: t.Callable[..., Wire]) -> None:
    """Each save writes the originalMaxAge that touch() recomputed from the
    loaded one: equal or a ms or so less, never back to the app's maxAge (a
    run showed ``3599999`` after six saves). The TTL stays the whole seconds."""
    wire = make_wire()
    seen = []
    for _ in range(30):
        wire.get("/incr")
        seen.append(wire.entry()["cookie"]["originalMaxAge"])
    steps = [a - b for a, b in itertools.pairwise(seen)]
    wire.check(all(0 <= step <= 5 for step in steps), f"originalMaxAge {seen}")
    wire.check(near(seen[-1], HOUR), f"{seen}")
    wire.check(wire.redis.ttl(wire.key()) in (3599, 3600))


def test_a_ttl_of_zero_deletes(make_wire: t.Callable[..., Wire]) -> None:
    """``originalMaxAge: 0``: cookie.expires is now, so connect-redis's TTL is
    0: its set() deletes the entry instead (``DEL``), its touch() sends
    ``EXPIRE key 0``, which deletes it too."""
    wire = make_wire()
    for path, names in (("/incr", ["GET", "DEL"]), ("/touch", ["GET", "EXPIRE"])):
        sid = fresh_id()
        wire.write(sid, {"cookie": {"originalMaxAge": 0, "path": "/"}, "views": 1})
        with wire.traffic() as traffic:
            wire.get(path, cookie=wire.cookie_for(sid))
        wire.check(traffic.names == names, f"{path}: {traffic.commands}")
        wire.check(traffic.commands[1].arguments.startswith(f"{PREFIX}{sid}"))
        wire.check(wire.redis.exists(wire.key(sid)) == 0, f"{path}: entry kept")


def test_a_loaded_entry_keeps_its_order(make_wire: t.Callable[..., Wire]) -> None:
    """A save writes the loaded keys in their stored order, ``cookie``
    included (first only because express-session writes it first), and new
    keys after them."""
    wire = make_wire()
    sid = fresh_id()
    cookie = {"path": "/", "originalMaxAge": HOUR}
    wire.write(sid, {"b": 1, "cookie": cookie, "a": 2})
    wire.get("/incr", cookie=wire.cookie_for(sid))
    entry = wire.entry(sid)
    wire.check(list(entry) == ["b", "cookie", "a", "views"], f"{entry}")
    order = ["originalMaxAge", "expires", "httpOnly", "path"]
    wire.check(list(entry["cookie"]) == order, f"{entry}")


# -- 4. what an entry must be ------------------------------------------------------


@pytest.mark.parametrize(
    "payload", ['{"views":1}', "not json", '{"cookie":null,"views":1}']
)
def test_a_malformed_entry_is_a_500(
    make_wire: t.Callable[..., Wire], payload: str
) -> None:
    """An entry with no ``cookie`` object, or not JSON, fails the request
    (express-session passes the error to next()): not a new session."""
    wire = make_wire()
    sid = fresh_id()
    wire.write(sid, payload)
    response = wire.get("/session", cookie=wire.cookie_for(sid), expect=500)
    wire.check(response.json() == {"error": "internal error"})
    wire.check(wire.text(sid) == payload, "the entry changed")


def test_names_a_session_cannot_hold(make_wire: t.Callable[..., Wire]) -> None:
    """Session's constructor skips data keys already ``in`` the session (its
    methods, ``id``, ``req``, Object.prototype's names): they are dropped, and
    the hash of the loaded object differs, so a mere read rewrites the entry
    without them."""
    wire = make_wire()
    sid = fresh_id()
    cookie = {"originalMaxAge": HOUR, "expires": iso(harness.now_ms() + HOUR)}
    names = ["id", "req", "save", "regenerate", "constructor", "toString"]
    wire.write(sid, {"cookie": cookie, **{n: n for n in names}, "ok": 1})
    with wire.traffic() as traffic:
        state = wire.json("/touch", cookie=wire.cookie_for(sid))
    wire.check(state["session"] == {"ok": 1}, f"{state}")
    wire.check(traffic.names == ["GET", "SET"], f"{traffic.commands}")
    wire.check(list(wire.entry(sid)) == ["cookie", "ok"], f"{wire.entry(sid)}")


# -- 5. regenerate, destroy --------------------------------------------------------


def test_regenerate(make_wire: t.Callable[..., Wire]) -> None:
    """regenerate(): ``DEL`` of the old entry, then a new id whose entry is
    saved (even with no data: its id differs from the request's) and sent."""
    wire = make_wire()
    wire.get("/set", params={"user": "bob"})
    old = wire.sid()
    with wire.traffic() as traffic:
        response = wire.get("/regenerate")
    state = response.json()
    new = wire.sid(set_cookies(response)[NAME][0])
    wire.check(new != old and state["externalKey"] == new, f"{state}")
    wire.check(state["session"] == {} and state["isNew"], f"{state}")
    wire.check(traffic.names == ["GET", "DEL", "SET"], f"{traffic.commands}")
    wire.check(traffic.commands[1].arguments == f"{PREFIX}{old}")
    wire.check(wire.redis.exists(wire.key(old)) == 0, "the old entry survived")
    wire.check(list(wire.entry(new)) == ["cookie"], f"{wire.entry(new)}")
    # Login: regenerate, then the user.
    with wire.traffic() as traffic:
        response = wire.get("/login", params={"user": "alice"})
    latest = wire.sid(set_cookies(response)[NAME][0])
    wire.check(traffic.names == ["GET", "DEL", "SET"], f"{traffic.commands}")
    wire.check(wire.redis.exists(wire.key(new)) == 0, "the old entry survived")
    wire.check(wire.entry(latest)["user"] == "alice", f"{wire.entry(latest)}")
    wire.check(wire.json("/session")["session"] == {"user": "alice"})


def test_destroy(make_wire: t.Callable[..., Wire]) -> None:
    """destroy(): ``DEL``, and no Set-Cookie at all: the browser keeps a cookie
    whose id has no entry, read as a new session that writes nothing until it
    holds data (then under a new id)."""
    wire = make_wire()
    wire.get("/set", params={"user": "bob"})
    sid = wire.sid()
    with wire.traffic() as traffic:
        response = wire.get("/logout")
    wire.check(response.json() == {"destroyed": True})
    wire.check(not harness.set_cookie_lines(response), "a cookie on destroy")
    wire.check(traffic.names == ["GET", "DEL"], f"{traffic.commands}")
    wire.check(wire.redis.exists(wire.key(sid)) == 0, "the entry survived")
    wire.check(wire.sid() == sid, "the jar lost the cookie")
    with wire.traffic() as traffic:
        response = wire.get("/session")
    wire.check(response.json()["isNew"] and response.json()["session"] == {})
    wire.check(not harness.set_cookie_lines(response), "a cookie")
    wire.check(traffic.names == ["GET"], f"{traffic.commands}")
    response = wire.get("/incr")
    wire.check(response.json() == {"views": 1} and wire.sid() != sid)


# -- 6. secrets --------------------------------------------------------------------


def test_key_rotation(make_wire: t.Callable[..., Wire]) -> None:
    """secret [new, old]: an id signed with old opens the session and is not
    signed again on a read; a write that sends the cookie (data changed with a
    maxAge, or rolling) signs with new. A server with old only then refuses
    it: a new session, and the stale cookie is left alone."""
    old_server = make_wire(KEYS='["old-key"]')
    new_server = make_wire(KEYS='["new-key", "old-key"]')
    old_server.get("/set", params={"user": "alice"})
    sid = old_server.sid()
    old_cookie = old_server.browser.cookies()[NAME]
    old_server.check(old_cookie == express_session_cookie("old-key", sid))
    response = new_server.get("/session")
    state = response.json()
    new_server.check(state["session"] == {"user": "alice"} and not state["isNew"])
    new_server.check(not harness.set_cookie_lines(response), "re-signed on a read")
    rolling = make_wire(KEYS='["new-key", "old-key"]', ROLLING="1")
    response = rolling.get("/touch", cookie=f"{NAME}={old_cookie}")
    value = set_cookies(response)[NAME][0]
    rolling.check(value == express_session_cookie("new-key", sid), "rolling")
    response = new_server.get("/incr")
    value = set_cookies(response)[NAME][0]
    new_server.check(value == express_session_cookie("new-key", sid), value)
    response = old_server.get("/session")
    state = response.json()
    old_server.check(state["isNew"] and state["session"] == {}, f"{state}")
    old_server.check(not harness.set_cookie_lines(response), "cookie cleared")
    old_server.check(old_server.redis.exists(old_server.key(sid)) == 1)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda sid: sid, id="unsigned"),
        pytest.param(lambda sid: express_session_sign("wrong", sid), id="wrong-key"),
        pytest.param(
            lambda sid: tamper(express_session_sign(SECRET, sid)), id="tampered"
        ),
        pytest.param(
            lambda sid: "s:" + sid + express_session_sign(SECRET, sid[::-1])[34:],
            id="another-ids-signature",
        ),
    ],
)
def test_a_bad_signature_is_a_new_session(
    make_wire: t.Callable[..., Wire], forge: t.Callable[[str], str]
) -> None:
    wire = make_wire()
    sid = fresh_id()
    wire.write(sid, {"cookie": {"originalMaxAge": HOUR, "path": "/"}, "views": 9})
    with wire.traffic() as traffic:
        response = wire.get("/session", cookie=f"{NAME}={forge(sid)}")
    state = response.json()
    wire.check(state["isNew"] and state["session"] == {}, f"{state}")
    wire.check(traffic.names == [], f"looked up: {traffic.commands}")
    wire.check(not harness.set_cookie_lines(response))
