"""An Express app (express-session, connect-redis) and a Flask app share sessions.

``express_session_server.js`` runs Express 5 with the real express-session and
connect-redis; the Flask twin (``flask_app.py`` with ``WIRE=express-session``)
runs flask-koasession with ``wire="express-session"`` and
``RedisStore(client, prefix="sess:")`` on the same Redis database. One
``requests`` cookie jar visits both. Each scenario runs in three directions:

- ``express-first``: Express writes the session, Flask reads or changes it;
- ``flask-first``: the other way round;
- ``express-only``: both sides are Express servers (two processes, one
  configuration, or the two configurations of a key rotation). This is the
  scenario's sanity check: it passes against the real packages now, so a
  failure of the two others is Flask's.

``EXPRESS_SESSION_WIRE.md`` is the spec these scenarios check.
"""

from __future__ import annotations

import json
import math
import re
import time
import typing as t
import urllib.parse
from dataclasses import dataclass

import flask
import pytest

from tests.interop import harness
from tests.interop.harness import Browser, express_session_cookie, set_cookies
from tests.interop.test_express_session_wire import ISO, compact, http_date, near

if t.TYPE_CHECKING:
    import redis
    import requests

    from tests.interop.conftest import ServerPool

SECRET = "interop-secret"
HOUR = 3_600_000
NAME = "connect.sid"
PREFIX = "sess:"
BASE = {"KEYS": json.dumps([SECRET]), "MAX_AGE": str(HOUR)}
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"

LOGIN = {
    "user": {"name": "Zoë Ångström", "roles": ["admin", "editor"], "id": 42},
    "greeting": "こんにちは 😀👍🏽",
    "list": [1, 2.5, -3, None, True, False, {"deep": ["a", {"deeper": "ü"}]}],
    "quotes": 'a "quoted" \\ back\\slash / <tag> & amp',
}


@dataclass
class Pair:
    """The two servers of one scenario, in the direction's order."""

    first: harness.Server
    second: harness.Server
    browser: Browser
    redis: redis.Redis[str]

    @property
    def sides(self) -> tuple[harness.Server, harness.Server]:
        return self.first, self.second

    def check(self, condition: object, message: str = "") -> None:
        """``assert`` with the transcript and the Node servers' stderr."""
        if not condition:
            report = self.browser.report(*self.sides)
            raise AssertionError(f"{message}\n{report}")

    def sid(self, value: str | None = None) -> str:
        """The session id in a ``connect.sid`` value (default: the jar's)."""
        value = self.browser.cookies()[NAME] if value is None else value
        signed = urllib.parse.unquote(value)
        self.check(signed.startswith("s:"), f"not a signed value: {value!r}")
        return signed[2:].rpartition(".")[0]

    def text(self, sid: str | None = None) -> str | None:
        return self.redis.get(PREFIX + (self.sid() if sid is None else sid))

    def entry(self, sid: str | None = None) -> t.Any:
        text = self.text(sid)
        self.check(text is not None, f"no entry for {sid or self.sid()}")
        return json.loads(t.cast("str", text))

    def data(self, side: harness.Server) -> dict[str, t.Any]:
        """The session as ``side`` shows it to its app."""
        state = self.browser.json(side, "/session")
        self.check(state["session"] is not None, f"{side.name}: {state}")
        return t.cast("dict[str, t.Any]", state["session"])


@pytest.fixture(
    params=[
        "express-first",
        "flask-first",
        "express-only",
    ]
)
def direction(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_pair(
    direction: str,
    server_pool: ServerPool,
    interop_redis_url: str,
    interop_redis: redis.Redis[str],
    browser: Browser,
) -> t.Callable[..., Pair]:
    """``make_pair(**env)``: the two servers of ``direction`` for ``env``.

    ``first_env``/``second_env`` add settings to one side (key rotation).
    """

    def flask_side(env: dict[str, str]) -> harness.Server:
        return server_pool.flask({**env, "WIRE": "express-session"})

    def make(
        first_env: t.Mapping[str, str] | None = None,
        second_env: t.Mapping[str, str] | None = None,
        **env: str,
    ) -> Pair:
        envs = [
            {**BASE, "REDIS_URL": interop_redis_url, **env, **(extra or {})}
            for extra in (first_env, second_env)
        ]
        first: harness.Server
        second: harness.Server
        if direction == "express-first":
            first, second = server_pool.express_session(envs[0]), flask_side(envs[1])
        elif direction == "flask-first":
            first, second = flask_side(envs[0]), server_pool.express_session(envs[1])
        else:
            first = server_pool.express_session(envs[0])
            # Another process for the same configuration: the pool keys servers
            # by their environment.
            second = server_pool.express_session({**envs[1], "HOST": "127.0.0.1"})
        browser.transcript.clear()
        return Pair(first, second, browser, interop_redis)

    return make


def entry_pattern(
    data: t.Mapping[str, t.Any], max_age: int | None = HOUR, **cookie: t.Any
) -> str:
    """A regex of the exact entry express-session writes for ``data``:
    ``cookie`` first (``cookie`` adds secure/sameSite in their places), any
    originalMaxAge (:func:`expect_entry` checks it)."""
    fields: dict[str, t.Any] = {"originalMaxAge": "ORIGINAL" if max_age else None}
    fields["expires"] = "EXPIRES" if max_age is not None else None
    for name in ("secure", "httpOnly", "domain", "path", "sameSite"):
        if name in cookie:
            fields[name] = cookie[name]
        elif name == "httpOnly":
            fields[name] = True
        elif name == "path":
            fields[name] = "/"
    text = '{"cookie":' + compact(fields) + (("," + compact(data)[1:]) if data else "}")
    pattern = re.escape(text).replace("EXPIRES", ISO)
    return pattern.replace(re.escape('"ORIGINAL"'), r"\d+")


def expect_entry(
    pair: Pair,
    sid: str,
    data: t.Mapping[str, t.Any],
    max_age: int | None = HOUR,
    **cookie: t.Any,
) -> None:
    """The entry of ``sid`` is express-session's text for ``data``, with its
    TTL (connect-redis's: from cookie.expires, or one day)."""
    text = pair.text(sid) or ""
    pattern = entry_pattern(data, max_age, **cookie)
    pair.check(re.fullmatch(pattern, text), f"entry {text!r}, not {pattern!r}")
    if max_age is not None:
        original = json.loads(text)["cookie"]["originalMaxAge"]
        pair.check(near(original, max_age), f"originalMaxAge {original}")
    ttl = pair.redis.ttl(PREFIX + sid)
    full = 86400 if max_age is None else math.ceil(max_age / 1000)
    pair.check(full - 2 <= ttl <= full, f"TTL {ttl}, not {full}")


def expect_cookie(
    pair: Pair, response: requests.Response, secret: str = SECRET
) -> tuple[str, dict[str, t.Any]]:
    """The response's ``connect.sid``: a signed id; returns the id and the
    attributes."""
    cookies = set_cookies(response)
    pair.check(NAME in cookies, f"{NAME} was not sent")
    value, attrs = cookies[NAME]
    sid = pair.sid(value)
    pair.check(
        value == express_session_cookie(secret, sid),
        f"{value!r} is not the id signed with {secret!r}, URL-encoded",
    )
    pair.check(attrs.get("path") == "/" and attrs.get("httponly") is True, f"{attrs}")
    return sid, attrs


def no_cookie(pair: Pair, response: requests.Response, what: str) -> None:
    pair.check(not harness.set_cookie_lines(response), f"a cookie on {what}")


def removal_or_nothing(pair: Pair, response: requests.Response) -> None:
    """express-session sends nothing on destroy; a removal cookie is the most
    another side may send."""
    cookies = set_cookies(response)
    if NAME in cookies:
        value, attrs = cookies[NAME]
        pair.check(value == "" or attrs.get("expires") == EPOCH, f"{cookies}")


# -- the scenarios ------------------------------------------------------------------


def test_cookie_jar_visits_both(
    server_pool: ServerPool, interop_redis_url: str, browser: Browser
) -> None:
    """The harness itself: express-session's cookie is sent to another port."""
    env = {**BASE, "REDIS_URL": interop_redis_url}
    express = server_pool.express_session(env)
    other = server_pool.express(BASE)
    browser.get(express, "/incr")
    sent = browser.get(other, "/session").request.headers.get("Cookie", "")
    assert f"{NAME}=s%3A" in sent, browser.report(express)


def test_counter_alternates(make_pair: t.Callable[..., Pair]) -> None:
    """One id throughout, each save express-session's entry and TTL, the
    cookie sent again on each save (a maxAge is set)."""
    pair = make_pair()
    b = pair.browser
    sid = None
    for n in range(1, 7):
        side = pair.first if n % 2 else pair.second
        response = b.get(side, "/incr")
        pair.check(response.json() == {"views": n}, f"{side.name} counted wrong")
        sent, attrs = expect_cookie(pair, response)
        pair.check(sid in (None, sent), f"the id changed: {sid} -> {sent}")
        sid = sent
        expect_entry(pair, sid, {"views": n})
        stored = pair.entry(sid)["cookie"]["expires"]
        pair.check(attrs.get("expires") == http_date(stored), f"{attrs} {stored}")
    for side in pair.sides:
        state = b.json(side, "/session")
        pair.check(state["isNew"] is False and near(state["maxAge"], HOUR), state)
        pair.check(state["externalKey"] == sid, state)


def test_login_data_both_ways(make_pair: t.Callable[..., Pair]) -> None:
    """A login (regenerate, then the data) on one side: a new id, the old entry
    gone, the data (unicode, nesting, quotes) the same on the other side."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.first, "/set", params={"before": "login"})
    old = pair.sid()
    response = b.get(pair.first, "/login", params={"json": json.dumps(LOGIN)})
    sid, _ = expect_cookie(pair, response)
    pair.check(sid != old, "login kept the id")
    pair.check(pair.redis.exists(PREFIX + old) == 0, "the old entry survived")
    expect_entry(pair, sid, LOGIN)
    pair.check(pair.data(pair.second) == LOGIN)
    change = {"user": {"name": "Bob 🎉", "roles": []}, "cart": [1, 2]}
    b.get(pair.second, "/set", params={"json": json.dumps(change)})
    expect_entry(pair, sid, {**LOGIN, **change})
    pair.check(pair.data(pair.first) == {**LOGIN, **change})


def test_read_only_requests_write_no_entry(make_pair: t.Callable[..., Pair]) -> None:
    """A request that changes nothing sends no cookie and leaves the entry's
    text as it is (express-session only touches its TTL)."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.first, "/set", params={"json": json.dumps(LOGIN)})
    b.get(pair.second, "/incr")
    text = pair.text()
    for side in (pair.first, pair.second, pair.first):
        response = b.get(side, "/touch")
        pair.check(response.json()["session"]["views"] == 1, f"{side.name}")
        no_cookie(pair, response, f"{side.name} /touch")
        pair.check(pair.text() == text, f"{side.name} rewrote the entry")


def test_logout_on_one_side_is_a_logout_on_the_other(
    make_pair: t.Callable[..., Pair],
) -> None:
    pair = make_pair()
    b = pair.browser
    b.get(pair.first, "/set", params={"user": "alice"})
    sid = pair.sid()
    header = b.cookie_header()
    pair.check(pair.data(pair.second).get("user") == "alice", "not logged in")
    response = b.get(pair.second, "/logout")
    pair.check(response.json() == {"destroyed": True})
    removal_or_nothing(pair, response)
    pair.check(pair.redis.exists(PREFIX + sid) == 0, "the entry survived")
    for side in pair.sides:
        # The old cookie, replayed, opens nothing on either side.
        state = b.json(side, "/session", cookie=header)
        pair.check(state["isNew"] and state["session"] == {}, f"{side.name}: {state}")
        pair.check(pair.redis.exists(PREFIX + sid) == 0, f"{side.name} wrote it")
    response = b.get(pair.first, "/incr")
    pair.check(response.json() == {"views": 1})
    pair.check(expect_cookie(pair, response)[0] != sid, "the old id came back")


def test_regenerate(make_pair: t.Callable[..., Pair]) -> None:
    """regenerate() on one side: a new id sent and saved, the old entry gone;
    the other side reads the new session."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.first, "/set", params={"user": "bob"})
    old = pair.sid()
    response = b.get(pair.second, "/regenerate")
    sid, _ = expect_cookie(pair, response)
    pair.check(sid != old, "regenerate kept the id")
    # The view's externalKey: express-session's is the new id at once; the
    # Flask side's, as koa's, the old one until the commit draws the new.
    shown = sid if pair.second.name.startswith("express") else old
    pair.check(response.json()["externalKey"] == shown, f"{response.json()}")
    pair.check(pair.redis.exists(PREFIX + old) == 0, "the old entry survived")
    data = response.json()["session"]
    expect_entry(pair, sid, data)
    state = b.json(pair.first, "/session")
    pair.check(not state["isNew"] and state["externalKey"] == sid, f"{state}")
    pair.check(state["session"] == data, f"{state}")


def test_key_rotation(make_pair: t.Callable[..., Pair]) -> None:
    """Old secret on the first side; the second signs with a new one and
    verifies the old. A write there signs with the new secret; then the
    first side, which knows only the old one, starts a new session."""
    old = {"KEYS": '["old-key"]'}
    new = {"KEYS": '["new-key", "old-key"]'}
    pair = make_pair(first_env=old, second_env=new)
    b = pair.browser
    response = b.get(pair.first, "/set", params={"user": "alice"})
    sid, _ = expect_cookie(pair, response, "old-key")
    response = b.get(pair.second, "/session")
    state = response.json()
    pair.check(state["session"] == {"user": "alice"} and not state["isNew"], state)
    if NAME in set_cookies(response):  # re-signing on a read is allowed
        pair.check(expect_cookie(pair, response, "new-key")[0] == sid)
    response = b.get(pair.second, "/incr")
    pair.check(expect_cookie(pair, response, "new-key")[0] == sid, "not re-signed")
    expect_entry(pair, sid, {"user": "alice", "views": 1})
    response = b.get(pair.first, "/session")
    state = response.json()
    pair.check(state["isNew"] and state["session"] == {}, f"{state}")
    pair.check(pair.redis.exists(PREFIX + sid) == 1, "the entry was dropped")


def test_a_wrong_secret_is_refused(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair(second_env={"KEYS": '["not-the-key"]'})
    b = pair.browser
    b.get(pair.first, "/set", params={"user": "mallory"})
    sid = pair.sid()
    state = b.json(pair.second, "/session")
    pair.check(state["isNew"] and state["session"] == {}, f"accepted: {state}")
    pair.check(state["externalKey"] != sid, f"the id was adopted: {state}")


def test_flash_read_once(make_pair: t.Callable[..., Pair]) -> None:
    """The seed's flash: set on one side, shown once on the other."""
    pair = make_pair()
    b = pair.browser
    message = "Saved ✓ 🎉"
    # Express's res.redirect() sends 302; Flask's redirect() its default code.
    code = 302 if pair.first.name != "flask" else flask.redirect("/").status_code
    response = b.get(
        pair.first,
        "/flash",
        params={"msg": message},
        allow_redirects=False,
        expect=code,
    )
    pair.check(response.headers["Location"].endswith("/show-flash"))
    pair.check(b.json(pair.second, "/show-flash") == {"flash": message})
    pair.check(b.json(pair.second, "/show-flash") == {"flash": None})
    pair.check(b.json(pair.first, "/show-flash") == {"flash": None})


def test_rolling(make_pair: t.Callable[..., Pair]) -> None:
    """``rolling``: each side sends the cookie again on a read (same id, a new
    Expires) and the entry's TTL starts again."""
    pair = make_pair(MAX_AGE="10000", ROLLING="1")
    b = pair.browser
    response = b.get(pair.first, "/incr")
    sid, attrs = expect_cookie(pair, response)
    expect_entry(pair, sid, {"views": 1}, 10000)
    for side in (pair.second, pair.first):
        time.sleep(1.2)  # another second for Expires, a lower TTL
        pair.check(pair.redis.pttl(PREFIX + sid) < 9000, "TTL did not run")
        response = b.get(side, "/touch")
        pair.check(response.json()["session"] == {"views": 1}, side.name)
        sent, new_attrs = expect_cookie(pair, response)
        pair.check(sent == sid, f"{side.name} changed the id")
        pair.check(new_attrs["expires"] != attrs["expires"], f"{side.name} no roll")
        pttl = pair.redis.pttl(PREFIX + sid)
        pair.check(pttl > 9500, f"{side.name}: TTL {pttl} ms, not reset")
        pair.check(pair.entry(sid)["views"] == 1)
        attrs = new_attrs


def test_no_max_age(make_pair: t.Callable[..., Pair]) -> None:
    """No maxAge: browser-session cookies on both sides (no Expires), entries
    with ``null`` twice and connect-redis's one-day TTL."""
    pair = make_pair(MAX_AGE="session")
    b = pair.browser
    response = b.get(pair.first, "/incr")
    sid, attrs = expect_cookie(pair, response)
    pair.check("expires" not in attrs, f"{attrs}")
    expect_entry(pair, sid, {"views": 1}, None)
    b.get(pair.second, "/incr")
    expect_entry(pair, sid, {"views": 2}, None)
    pair.check(b.json(pair.first, "/session")["maxAge"] == "session")


def test_max_age_travels_in_the_entry(make_pair: t.Callable[..., Pair]) -> None:
    """The entry's cookie.originalMaxAge is the session's max age on both
    sides, whatever each one's own maxAge option."""
    pair = make_pair(first_env={"MAX_AGE": "20000"})
    b = pair.browser
    b.get(pair.first, "/incr")
    sid = pair.sid()
    expect_entry(pair, sid, {"views": 1}, 20000)
    state = b.json(pair.second, "/session")
    pair.check(near(state["maxAge"], 20000), f"{state}")
    response = b.get(pair.second, "/incr")
    expect_entry(pair, sid, {"views": 2}, 20000)
    expires = expect_cookie(pair, response)[1]["expires"]
    pair.check(expires == http_date(pair.entry(sid)["cookie"]["expires"]), expires)


def test_same_site_attributes(make_pair: t.Callable[..., Pair]) -> None:
    """express-session's attributes in its order, and sameSite in the entry."""
    pair = make_pair(SAME_SITE="Lax")
    b = pair.browser
    for n, side in enumerate((pair.first, pair.second), start=1):
        response = b.get(side, "/incr")
        lines = harness.set_cookie_lines(response)
        pair.check(len(lines) == 1, f"{side.name}: {lines}")
        _, _, attrs = harness.parse_set_cookie(lines[0])
        # The same attributes; their order and case are each side's (the
        # Flask side writes them as koa's cookies module does).
        expected = {"path", "expires", "httponly", "samesite"}
        pair.check(set(attrs) == expected, f"{side.name}: {lines[0]}")
        samesite = str(attrs["samesite"]).lower()
        pair.check(samesite == "lax", f"{side.name}: {lines[0]}")
        expect_entry(pair, pair.sid(), {"views": n}, sameSite="Lax")


def test_secure_cookies(make_pair: t.Callable[..., Pair]) -> None:
    """``secure``: the Secure attribute and ``"secure":true`` in the entry,
    over HTTPS (X-Forwarded-Proto from a trusted proxy). The jar keeps Secure
    cookies from plain-HTTP ports, so they go by hand."""
    pair = make_pair(SAME_SITE="Lax", SECURE="1")
    b = pair.browser
    https = {"X-Forwarded-Proto": "https"}
    response = b.get(pair.first, "/incr", headers=https)
    sid, attrs = expect_cookie(pair, response)
    pair.check(attrs.get("secure") is True, f"{attrs}")
    expect_entry(pair, sid, {"views": 1}, secure=True, sameSite="Lax")
    header = f"{NAME}={set_cookies(response)[NAME][0]}"
    response = b.get(pair.second, "/incr", cookie=header, headers=https)
    pair.check(response.json() == {"views": 2}, "the other side did not read it")
    pair.check(expect_cookie(pair, response)[0] == sid)
    expect_entry(pair, sid, {"views": 2}, secure=True, sameSite="Lax")
