"""An Express app (cookie-session 2) and a Flask app (flask-koasession) share sessions.

``express_server.js`` runs Express 5 with the real cookie-session, named
``koa.sess``, with the keys and max age of the Flask twin
(``flask_app.py``, koa-session's options). One ``requests`` cookie jar visits
both. Every scenario runs in both directions (``express-first``: Express
writes the session and Flask reads or changes it next; ``flask-first``: the
other way round) and, where it matters, with cookie-session alone (``plain``)
and with the ``koaBookkeeping()`` middleware of express_server.js after it
(``bookkeeping``), which docs/express.rst offers.

The two libraries agree on the cookie pair (``koa.sess`` holds base64 of
``JSON.stringify``, ``koa.sess.sig`` keygrip's HMAC, both from the ``cookies``
module that koa uses too). They differ on koa-session's bookkeeping
(``_expire``, ``_maxAge``, ``_session``), which cookie-session neither writes
nor reads: the tests at the end pin down what each side does with the other's.
"""

from __future__ import annotations

import email.utils
import json
import time
import typing as t
from dataclasses import dataclass

import flask
import pytest

from tests.interop import harness
from tests.interop.harness import (
    Browser,
    keygrip_sign,
    koa_decode_text,
    koa_encode,
    set_cookies,
    strip_bookkeeping,
)

if t.TYPE_CHECKING:
    import requests

    from tests.interop.conftest import ServerPool

KEY = "interop-secret"
HOUR = 3_600_000
BASE = {"KEYS": json.dumps([KEY]), "MAX_AGE": str(HOUR)}
NAME = "koa.sess"
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
#: The order of cookie attributes that koa's ``cookies`` module writes (and so
#: cookie-session and flask-koasession).
ATTRIBUTE_ORDER = ["path", "expires", "domain", "samesite", "secure", "httponly"]

LOGIN = {
    "user": {"name": "Zoë Ångström", "roles": ["admin", "editor"], "id": 42},
    "greeting": "こんにちは 😀👍🏽",
    "list": [1, 2.5, -3, None, True, False, {"deep": ["a", {"deeper": "ü"}]}],
    "quotes": 'a "quoted" \\ back\\slash / <tag> & amp',
}


@dataclass
class Pair:
    """The Express and Flask servers of one scenario, in the direction's order."""

    first: harness.Server
    second: harness.Server
    browser: Browser
    #: koaBookkeeping() runs after cookie-session on the Express side.
    helper: bool

    @property
    def express(self) -> harness.Server:
        return self.first if self.first.name == "express" else self.second

    @property
    def flask(self) -> harness.Server:
        return self.first if self.first.name == "flask" else self.second

    def check(self, condition: object, message: str = "") -> None:
        """``assert`` with the transcript (and Express's stderr) in the message."""
        if not condition:
            raise AssertionError(f"{message}\n{self.browser.report(self.express)}")

    def text(self) -> str:
        """The JSON text in the jar's ``koa.sess`` cookie."""
        return koa_decode_text(self.browser.cookies()[NAME])

    def payload(self) -> t.Any:
        return json.loads(self.text())

    def data(self, side: harness.Server) -> dict[str, t.Any]:
        """The session as ``side`` shows it to its app."""
        state = self.browser.json(side, "/session")
        self.check(state["session"] is not None, f"{side.name}: {state}")
        return t.cast("dict[str, t.Any]", state["session"])


@pytest.fixture(params=["express-first", "flask-first"])
def direction(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["plain", "bookkeeping"])
def express_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_pair(
    direction: str, express_mode: str, server_pool: ServerPool, browser: Browser
) -> t.Callable[..., Pair]:
    """``make_pair(**env)``: the Express and Flask servers for one configuration.

    ``express_env``/``flask_env`` add settings for one side only.
    """

    def make(
        express_env: t.Mapping[str, str] | None = None,
        flask_env: t.Mapping[str, str] | None = None,
        **env: str,
    ) -> Pair:
        helper = express_mode == "bookkeeping"
        express = server_pool.express(
            {
                **BASE,
                **env,
                **(express_env or {}),
                **({"KOA_BOOKKEEPING": "1"} if helper else {}),
            }
        )
        flask_side = server_pool.flask({**BASE, **env, **(flask_env or {})})
        if direction == "express-first":
            return Pair(express, flask_side, browser, helper)
        return Pair(flask_side, express, browser, helper)

    return make


def expect_saved(
    pair: Pair, response: requests.Response, key: str = KEY
) -> dict[str, t.Any]:
    """Check that ``response`` saved the session, signed with ``key``."""
    cookies = set_cookies(response)
    pair.check(NAME in cookies and f"{NAME}.sig" in cookies, "the pair was not sent")
    value, signature = cookies[NAME][0], cookies[f"{NAME}.sig"][0]
    pair.check(
        signature == keygrip_sign(key, f"{NAME}={value}"),
        f"the signature is not keygrip's over name=value with {key!r}",
    )
    return cookies


def cookie_header(response: requests.Response) -> str:
    """A ``Cookie`` header with the cookies that ``response`` set."""
    return "; ".join(f"{n}={v}" for n, (v, _) in set_cookies(response).items())


def without_bookkeeping(pair: Pair, data: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """What the app sees, less koa's bookkeeping that plain cookie-session shows."""
    return strip_bookkeeping(data) if not pair.helper else dict(data)


# -- the same sessions on both sides ---------------------------------------------


def test_cookie_jar_visits_both(server_pool: ServerPool, browser: Browser) -> None:
    """The harness itself: Express's cookie is sent to Flask's port."""
    express = server_pool.express(BASE)
    flask_side = server_pool.flask(BASE)
    browser.get(express, "/incr")
    sent = browser.get(flask_side, "/session").request.headers.get("Cookie", "")
    assert f"{NAME}=" in sent, browser.report(express)
    assert f"{NAME}.sig=" in sent, browser.report(express)


def test_counter_alternates(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair()
    b = pair.browser
    for n in range(1, 7):
        side = pair.first if n % 2 else pair.second
        response = b.get(side, "/incr")
        pair.check(response.json() == {"views": n}, f"{side.name} counted wrong")
        expect_saved(pair, response)
        pair.check(pair.payload()["views"] == n, f"payload {pair.payload()}")
    # Once Flask has written, the bookkeeping stays after the data: cookie-session
    # keeps it as data (plain) or koaBookkeeping() writes it anew.
    payload = pair.payload()
    pair.check(list(payload) == ["views", "_expire", "_maxAge"], f"payload {payload}")
    pair.check(payload["_maxAge"] == HOUR, f"payload {payload}")
    for side in (pair.first, pair.second):
        state = b.json(side, "/session")
        pair.check(state["isNew"] is False and state["maxAge"] == HOUR, state)


def test_login_data_both_ways(make_pair: t.Callable[..., Pair]) -> None:
    """Data one side sets (unicode, nesting, quotes) reads the same on the other."""
    pair = make_pair()
    b = pair.browser
    expect_saved(pair, b.get(pair.first, "/set", params={"json": json.dumps(LOGIN)}))
    text = pair.text()
    # Byte for byte what JSON.stringify writes: compact, non-ASCII raw.
    data_text = json.dumps(LOGIN, separators=(",", ":"), ensure_ascii=False)
    pair.check(text.startswith(data_text[:-1]), f"JSON text {text!r}")
    pair.check(without_bookkeeping(pair, pair.data(pair.second)) == LOGIN)
    change = {"user": {"name": "Bob 🎉", "roles": []}, "cart": [1, 2]}
    b.get(pair.second, "/set", params={"json": json.dumps(change)})
    pair.check(without_bookkeeping(pair, pair.data(pair.first)) == {**LOGIN, **change})


def test_read_only_requests_send_nothing(make_pair: t.Callable[..., Pair]) -> None:
    """Each reads the other's cookie without writing it again: cookie-session
    writes only when ``JSON.stringify`` of the session differs from the cookie,
    so Flask's JSON text must be JSON.stringify's, byte for byte."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.first, "/set", params={"json": json.dumps(LOGIN)})
    b.get(pair.second, "/incr")
    for side in (pair.first, pair.second, pair.first):
        response = b.get(side, "/touch")
        pair.check(response.json()["session"]["views"] == 1, f"{side.name}")
        pair.check(not harness.set_cookie_lines(response), f"{side.name} wrote")


def test_logout_on_one_side_is_a_logout_on_the_other(
    make_pair: t.Callable[..., Pair],
) -> None:
    pair = make_pair()
    b = pair.browser
    b.get(pair.first, "/set", params={"user": "alice"})
    pair.check(pair.data(pair.second).get("user") == "alice", "not logged in")
    response = b.get(pair.second, "/destroy")
    cookies = set_cookies(response)
    pair.check(cookies.get(NAME, ("x",))[0] == "", "value cookie not removed")
    pair.check(
        cookies.get(f"{NAME}.sig", ("",))[0] == keygrip_sign(KEY, f"{NAME}="),
        "the removal .sig is not the signature of 'koa.sess='",
    )
    for name in (NAME, f"{NAME}.sig"):
        attrs = cookies[name][1]
        pair.check(attrs.get("expires") == EPOCH and attrs.get("path") == "/", name)
    pair.check(NAME not in b.cookies(), "the jar kept the cookie")
    for side in (pair.first, pair.second):
        state = b.json(side, "/session")
        pair.check(state["isNew"] and state["session"] == {}, f"{side.name}: {state}")
    pair.check(b.json(pair.first, "/incr") == {"views": 1})


def test_flash_read_once(make_pair: t.Callable[..., Pair]) -> None:
    """The seed's flash: set on one side, shown once on the other."""
    pair = make_pair()
    b = pair.browser
    message = "Saved ✓ 🎉"
    # Express's res.redirect() sends 302; Flask's redirect() its default code.
    code = 302 if pair.first.name == "express" else flask.redirect("/").status_code
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


def test_key_rotation(make_pair: t.Callable[..., Pair], direction: str) -> None:
    """Old key signs on the first side; the second signs with a new key and
    verifies the old one (Flask: SECRET_KEY_FALLBACKS; Express: keys[1:])."""
    old = {"KEYS": '["old-key"]', "FLASK_KEYS_FROM_CONFIG": "1"}
    new = {"KEYS": '["new-key", "old-key"]', "FLASK_KEYS_FROM_CONFIG": "1"}
    if direction == "express-first":
        pair = make_pair(express_env=old, flask_env=new)
    else:
        pair = make_pair(express_env=new, flask_env=old)
    b = pair.browser
    expect_saved(pair, b.get(pair.first, "/set", params={"user": "alice"}), "old-key")
    value = b.cookies()[NAME]
    response = b.get(pair.second, "/session")
    state = response.json()
    pair.check(state["session"].get("user") == "alice" and not state["isNew"], state)
    cookies = set_cookies(response)
    pair.check(f"{NAME}.sig" in cookies, "the .sig was not re-issued")
    # cookie-session (the cookies module, as koa) re-issues the .sig alone;
    # flask-koasession re-sends the value too.
    pair.check((NAME in cookies) == (pair.second.name == "flask"), f"{cookies}")
    sent = cookies[NAME][0] if NAME in cookies else value
    pair.check(
        cookies[f"{NAME}.sig"][0] == keygrip_sign("new-key", f"{NAME}={sent}"),
        "the re-issued .sig is not signed with new-key",
    )
    response = b.get(pair.second, "/session")
    pair.check(not harness.set_cookie_lines(response), "re-issued twice")
    # The side that knows only old-key cannot verify new-key's signature.
    response = b.get(pair.first, "/session")
    state = response.json()
    pair.check(state["isNew"] and "user" not in state["session"], state)
    pair.check(set_cookies(response)[f"{NAME}.sig"][0] == "", "bad .sig not expired")


@pytest.mark.parametrize("express_mode", ["plain"])
def test_a_wrong_key_is_refused(make_pair: t.Callable[..., Pair]) -> None:
    """Sides with different keys share nothing: each starts a new session."""
    pair = make_pair(express_env={"KEYS": '["not-the-key"]'})
    b = pair.browser
    b.get(pair.first, "/set", params={"user": "mallory"})
    response = b.get(pair.second, "/session")
    state = response.json()
    pair.check(state["isNew"] and state["session"] == {}, f"accepted: {state}")
    sig = set_cookies(response).get(f"{NAME}.sig", ("x", {}))
    pair.check(sig[0] == "" and sig[1].get("expires") == EPOCH, "bad .sig kept")


@pytest.mark.parametrize("express_mode", ["plain"])
def test_sha256_keygrip(make_pair: t.Callable[..., Pair]) -> None:
    """``DIGEST=sha256``: Express gets ``keys: new Keygrip(keys, 'sha256')``."""
    pair = make_pair(DIGEST="sha256")
    b = pair.browser
    for n, side in enumerate((pair.first, pair.second, pair.first), start=1):
        response = b.get(side, "/incr")
        pair.check(response.json() == {"views": n}, f"{side.name} counted wrong")
        cookies = set_cookies(response)
        value, sig = cookies[NAME][0], cookies[f"{NAME}.sig"][0]
        pair.check(sig == keygrip_sign(KEY, f"{NAME}={value}", "sha256"), side.name)


@pytest.mark.parametrize("express_mode", ["plain"])
def test_unsigned_cookies(make_pair: t.Callable[..., Pair]) -> None:
    pair = make_pair(SIGNED="0")
    b = pair.browser
    for n, side in enumerate((pair.first, pair.second, pair.first), start=1):
        response = b.get(side, "/incr")
        pair.check(response.json() == {"views": n}, f"{side.name} counted wrong")
        pair.check(set(set_cookies(response)) == {NAME}, f"{side.name} signed")


# -- cookie attributes -------------------------------------------------------------


def attribute_names(response: requests.Response) -> list[list[str]]:
    lines = harness.set_cookie_lines(response)
    return [list(harness.parse_set_cookie(line)[2]) for line in lines]


@pytest.mark.parametrize("express_mode", ["plain"])
@pytest.mark.parametrize("direction", ["express-first"])
def test_same_site_attributes(make_pair: t.Callable[..., Pair]) -> None:
    """Both write koa's attributes in koa's order, on a save and on a logout."""
    pair = make_pair(SAME_SITE="Lax")
    b = pair.browser
    for side in (pair.express, pair.flask):
        for path in ("/incr", "/destroy"):
            response = b.get(side, path)
            cookies = set_cookies(response)
            pair.check(set(cookies) == {NAME, f"{NAME}.sig"}, f"{side.name} {path}")
            for name, (_, attrs) in cookies.items():
                pair.check(attrs.get("samesite") == "lax", f"{side.name} {name}")
                pair.check("secure" not in attrs, f"{side.name} {name} secure")
            expected = [["path", "expires", "samesite", "httponly"]] * 2
            pair.check(attribute_names(response) == expected, f"{side.name} {path}")


@pytest.mark.parametrize("express_mode", ["plain"])
@pytest.mark.parametrize("direction", ["express-first"])
def test_secure_cookies(make_pair: t.Callable[..., Pair]) -> None:
    """``secure`` on both sides. Over plain HTTP Flask writes the ``Secure``
    cookies all the same, while cookie-session catches the cookies module's
    "Cannot send secure cookie over unencrypted connection" and writes
    nothing: the session is silently not saved. Behind a proxy that says
    ``X-Forwarded-Proto: https`` (Express's ``trust proxy``) it writes them."""
    pair = make_pair(SAME_SITE="Lax", SECURE="1")
    b = pair.browser
    expected = [["path", "expires", "samesite", "secure", "httponly"]] * 2
    response = b.get(pair.flask, "/incr")
    pair.check(attribute_names(response) == expected, "flask over HTTP")
    response = b.get(pair.express, "/incr")
    pair.check(response.json() == {"views": 1}, "express answered")
    pair.check(not harness.set_cookie_lines(response), "express wrote over HTTP")
    https = {"X-Forwarded-Proto": "https"}
    response = b.get(pair.express, "/incr", headers=https)
    pair.check(attribute_names(response) == expected, "express behind HTTPS")
    # A Secure cookie from one side opens the session on the other.
    state = b.json(pair.flask, "/session", cookie=cookie_header(response))
    pair.check(state["session"].get("views") == 1 and not state["isNew"], state)


# -- what each side does with the other's bookkeeping ----------------------------


@pytest.mark.parametrize("express_mode", ["plain"])
@pytest.mark.parametrize("direction", ["flask-first"])
def test_cookie_session_shows_koa_bookkeeping_as_data(
    make_pair: t.Callable[..., Pair],
) -> None:
    """cookie-session knows no ``_expire``/``_maxAge``: the Express app sees
    them in ``req.session``, and its saves carry them along unchanged."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.flask, "/incr")
    written = pair.payload()
    state = b.json(pair.express, "/session")
    pair.check(state["session"] == written, f"{state}")
    pair.check(state["length"] == 3 and set(written) == {"views", "_expire", "_maxAge"})
    time.sleep(0.005)  # a later millisecond, had anything renewed _expire
    b.get(pair.express, "/incr")
    pair.check(pair.payload() == {**written, "views": 2}, "the bookkeeping changed")
    pair.check(pair.data(pair.flask) == {"views": 2})


@pytest.mark.parametrize("express_mode", ["bookkeeping"])
@pytest.mark.parametrize("direction", ["flask-first"])
def test_helper_hides_and_renews_koa_bookkeeping(
    make_pair: t.Callable[..., Pair],
) -> None:
    """koaBookkeeping(): the Express app sees the data only; an Express save
    writes ``_expire`` and ``_maxAge`` anew, as koa-session would."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.flask, "/incr")
    written = pair.payload()
    state = b.json(pair.express, "/session")
    pair.check(state["session"] == {"views": 1} and state["length"] == 1, f"{state}")
    pair.check(state["maxAge"] == HOUR and state["isNew"] is False, f"{state}")
    time.sleep(0.005)
    response = b.get(pair.express, "/incr")
    after = pair.payload()
    pair.check(list(after) == ["views", "_expire", "_maxAge"], f"{after}")
    pair.check(after["views"] == 2 and after["_maxAge"] == HOUR, f"{after}")
    pair.check(after["_expire"] > written["_expire"], "_expire not renewed")
    pair.check(after["_expire"] <= harness.now_ms() + HOUR, f"{after}")
    pair.check("expires" in set_cookies(response)[NAME][1])


@pytest.mark.parametrize("direction", ["flask-first"])
def test_an_express_save_and_flask_expiry(
    make_pair: t.Callable[..., Pair], express_mode: str
) -> None:
    """Flask expires a session at its ``_expire``. Plain cookie-session keeps
    the ``_expire`` of Flask's last save, so Flask expires the session then
    even though Express saved it since; koaBookkeeping() renews it."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.flask, "/incr")
    b.get(pair.flask, "/maxage", params={"value": "1500"})
    flask_expire = pair.payload()["_expire"]
    # The jar drops cookies at their expires, which has whole seconds: the
    # cookies go by hand from here on.
    header = b.cookie_header()
    time.sleep(0.7)
    response = b.get(pair.express, "/incr", cookie=header)
    pair.check(response.json() == {"views": 2}, "Express did not read the session")
    header = cookie_header(response)
    state = b.json(pair.flask, "/session", cookie=header)
    pair.check(state["session"] == {"views": 2}, f"not Express's save: {state}")
    time.sleep(max(0.0, (flask_expire + 100 - harness.now_ms()) / 1000))
    state = b.json(pair.flask, "/session", cookie=header)
    if pair.helper:
        pair.check(state["session"] == {"views": 2}, f"renewed, yet {state}")
    else:
        pair.check(state["isNew"] and state["session"] == {}, f"not expired: {state}")


@pytest.mark.parametrize("direction", ["flask-first"])
def test_an_expired_koa_session_on_express(
    make_pair: t.Callable[..., Pair], express_mode: str
) -> None:
    """A signed cookie whose ``_expire`` has passed: Flask starts a new session;
    plain cookie-session, which checks no expiry, opens it; koaBookkeeping()
    gives a new, empty session as koa does."""
    pair = make_pair()
    b = pair.browser

    def signed(expire: int) -> str:
        value = koa_encode({"views": 5, "_expire": expire, "_maxAge": HOUR})
        return f"{NAME}={value}; {NAME}.sig={keygrip_sign(KEY, f'{NAME}={value}')}"

    live = signed(harness.now_ms() + 60_000)
    for side in (pair.flask, pair.express):
        state = b.json(side, "/session", cookie=live)
        pair.check(state["session"].get("views") == 5, f"{side.name}: {state}")
    header = signed(harness.now_ms() - 1000)
    state = b.json(pair.flask, "/session", cookie=header)
    pair.check(state["isNew"] and state["session"] == {}, f"flask: {state}")
    state = b.json(pair.express, "/session", cookie=header)
    if pair.helper:
        pair.check(state["isNew"] and state["session"] == {}, f"express: {state}")
    else:
        pair.check(not state["isNew"] and state["session"]["views"] == 5, f"{state}")


@pytest.mark.parametrize("express_mode", ["plain"])
@pytest.mark.parametrize("direction", ["express-first"])
def test_flask_reads_a_cookie_session_cookie(make_pair: t.Callable[..., Pair]) -> None:
    """cookie-session writes the data alone (no ``_expire``): Flask reads it as
    a session with its own configured max age, which its next save writes."""
    pair = make_pair(flask_env={"MAX_AGE": str(2 * HOUR)})
    b = pair.browser
    response = b.get(pair.express, "/incr")
    pair.check(pair.text() == '{"views":1}', pair.text())
    pair.check("expires" in set_cookies(response)[NAME][1], "no expires")
    state = b.json(pair.flask, "/session")
    pair.check(state["session"] == {"views": 1} and state["isNew"] is False, state)
    pair.check(state["maxAge"] == 2 * HOUR, f"not the configured max age: {state}")
    b.get(pair.flask, "/incr")
    payload = pair.payload()
    pair.check(payload["_maxAge"] == 2 * HOUR, f"{payload}")
    now = harness.now_ms()
    pair.check(now < payload["_expire"] <= now + 2 * HOUR, f"{payload}")


@pytest.mark.parametrize("direction", ["flask-first"])
def test_max_age_set_by_a_request(
    make_pair: t.Callable[..., Pair], express_mode: str
) -> None:
    """koa's ``session.maxAge`` is saved (``_maxAge``); cookie-session's
    ``req.sessionOptions.maxAge`` is for one response's cookie only, and is
    not a change. koaBookkeeping() takes ``_maxAge`` as the request's maxAge
    and saves a new one, as koa does."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.flask, "/incr")
    b.get(pair.flask, "/maxage", params={"value": "20000"})
    pair.check(pair.payload()["_maxAge"] == 20000, f"{pair.payload()}")
    state = b.json(pair.express, "/session")
    pair.check(state["session"].get("views") == 1, f"{state}")
    pair.check(state["maxAge"] == (20000 if pair.helper else HOUR), f"{state}")
    response = b.get(pair.express, "/maxage", params={"value": "50000"})
    if pair.helper:
        expect_saved(pair, response)
        pair.check(pair.payload()["_maxAge"] == 50000, f"{pair.payload()}")
        pair.check(b.json(pair.flask, "/session")["maxAge"] == 50000)
    else:
        pair.check(not harness.set_cookie_lines(response), "saved a maxAge")
        pair.check(pair.payload()["_maxAge"] == 20000, f"{pair.payload()}")


@pytest.mark.parametrize("express_mode", ["bookkeeping"])
@pytest.mark.parametrize("direction", ["flask-first"])
def test_helper_max_age_reaches_the_cookie(make_pair: t.Callable[..., Pair]) -> None:
    """koaBookkeeping(): the session's ``_maxAge`` sets the cookie's expiry of
    an Express save."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.flask, "/incr")
    b.get(pair.flask, "/maxage", params={"value": "20000"})
    before = harness.now_ms()
    response = b.get(pair.express, "/incr")
    expires = set_cookies(response)[NAME][1]["expires"]
    until = email.utils.parsedate_to_datetime(expires).timestamp() * 1000
    pair.check(before + 18_000 < until <= harness.now_ms() + 20_000, expires)
    pair.check(pair.payload()["_maxAge"] == 20000, f"{pair.payload()}")


def test_max_age_session(make_pair: t.Callable[..., Pair]) -> None:
    """``maxAge: "session"`` (koa) and no maxAge (cookie-session): browser-session
    cookies on both sides. koa's ``_session`` marker stays after an Express save
    (as data, or written anew by koaBookkeeping())."""
    pair = make_pair(MAX_AGE="session")
    b = pair.browser
    for n, side in enumerate((pair.first, pair.second, pair.first), start=1):
        response = b.get(side, "/incr")
        for name, (_, attrs) in expect_saved(pair, response).items():
            pair.check("expires" not in attrs, f"{side.name}: {name} has expires")
        # Only cookie-session alone, writing a new session, writes no marker.
        bare = side.name == "express" and n == 1 and not pair.helper
        expected = f'{{"views":{n}}}' if bare else f'{{"views":{n},"_session":true}}'
        pair.check(pair.text() == expected, f"{side.name} payload {pair.text()}")
    state = b.json(pair.flask, "/session")
    pair.check(state["maxAge"] == "session" and not state["isNew"], state)


# -- data that crosses differently than with Koa ------------------------------------


@pytest.mark.parametrize("direction", ["flask-first"])
def test_underscore_keys_survive_an_express_save(
    make_pair: t.Callable[..., Pair], express_mode: str
) -> None:
    """Unlike koa-session, cookie-session keeps keys that start with ``_``:
    Flask-Login's ``_user_id`` survives an Express save."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.flask, "/set", params={"_user_id": "7", "name": "x"})
    data = pair.data(pair.express)
    pair.check(without_bookkeeping(pair, data) == {"_user_id": "7", "name": "x"})
    b.get(pair.express, "/incr")
    state = b.json(pair.flask, "/session")
    pair.check(state["session"] == {"_user_id": "7", "name": "x", "views": 1}, state)


@pytest.mark.parametrize("express_mode", ["plain"])
@pytest.mark.parametrize("direction", ["flask-first"])
def test_flask_types_survive_an_express_save(make_pair: t.Callable[..., Pair]) -> None:
    """Flask's ``_tagged`` marker is data to cookie-session, kept on a save:
    Flask still reads its datetimes, tuples, bytes and UUIDs after Express
    wrote the session (a Koa save drops the marker)."""
    pair = make_pair()
    b = pair.browser
    written = b.json(pair.flask, "/typed", params={"set": "1"})
    kinds = {name: kind for name, (kind, _) in written.items()}
    pair.check(
        kinds == {"when": "datetime", "pair": "tuple", "raw": "bytes", "id": "UUID"}
    )
    pair.check(pair.data(pair.express)["_tagged"] is True)
    b.get(pair.express, "/incr")
    pair.check(b.json(pair.flask, "/typed") == written, "a type was lost")


@pytest.mark.parametrize("express_mode", ["plain"])
@pytest.mark.parametrize("direction", ["flask-first"])
def test_keys_cookie_session_cannot_hold(make_pair: t.Callable[..., Pair]) -> None:
    """cookie-session copies only keys that its Session object does not
    already have: ``isNew``, ``isChanged``, ``isPopulated``, ``constructor``,
    ``toString``... are dropped, and since the session then differs from the
    cookie, Express writes it again without them, even on a read."""
    pair = make_pair()
    b = pair.browser
    clash = {"isNew": "yes", "constructor": "c", "toString": "t", "ok": 1}
    b.get(pair.flask, "/set", params={"json": json.dumps(clash)})
    response = b.get(pair.express, "/touch")
    pair.check(strip_bookkeeping(response.json()["session"]) == {"ok": 1})
    expect_saved(pair, response)
    pair.check(strip_bookkeeping(pair.data(pair.flask)) == {"ok": 1})


@pytest.mark.parametrize("express_mode", ["plain"])
@pytest.mark.parametrize("direction", ["flask-first"])
def test_json_stringify_differences_are_a_change(
    make_pair: t.Callable[..., Pair],
) -> None:
    """Flask writes a float with no fraction as ``1.0``, JSON.stringify as
    ``1``: to cookie-session the session changed, and it writes it again on
    a request that only reads it (the next read is quiet)."""
    pair = make_pair()
    b = pair.browser
    b.get(pair.flask, "/set", params={"json": '{"price": 1.0}'})
    pair.check('"price":1.0' in pair.text(), pair.text())
    response = b.get(pair.express, "/touch")
    expect_saved(pair, response)
    pair.check('"price":1,' in pair.text(), pair.text())
    pair.check(not harness.set_cookie_lines(b.get(pair.express, "/touch")))
