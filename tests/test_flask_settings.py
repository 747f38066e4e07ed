"""Flask's own session settings: read at set-up as the defaults of the options
that replace them, checked there, and never dropped without a word."""

from __future__ import annotations

import datetime
import typing as t
import warnings

import flask
import pytest

from flask_koasession import KoaSession
from tests.helpers import SECRET, cookie_attributes, cookie_value


def _app(**config: t.Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    app.config["TESTING"] = True
    app.config.update(config)

    @app.get("/")
    def write() -> str:
        flask.session["testing"] = 42
        return "written"

    @app.get("/clear")
    def clear() -> str:
        flask.session.pop("testing", None)
        return "cleared"

    @app.get("/read")
    def read() -> str:
        return str(flask.session.get("testing"))

    @app.get("/permanent")
    def permanent() -> str:
        flask.session["testing"] = 42
        flask.session.permanent = True
        return "permanent"

    @app.get("/nothing")
    def nothing() -> str:
        return "nothing"

    return app


def _options(app: flask.Flask) -> t.Any:
    return app.extensions["koasession"].options


HOUR = datetime.timedelta(hours=1)

# (Flask settings, the option they set, its value in Options)
HONOURED: list[t.Any] = [
    pytest.param({"SESSION_COOKIE_NAME": "shop_session"}, "key", "shop_session"),
    # Written as Flask writes it: Werkzeug drops the leading dot.
    pytest.param({"SESSION_COOKIE_DOMAIN": ".example.com"}, "domain", "example.com"),
    pytest.param({"SESSION_COOKIE_DOMAIN": "example.com"}, "domain", "example.com"),
    pytest.param({"SESSION_COOKIE_PATH": "/shop"}, "path", "/shop"),
    pytest.param({"APPLICATION_ROOT": "/bar"}, "path", "/bar", id="application-root"),
    pytest.param(
        {"SESSION_COOKIE_PATH": "/", "APPLICATION_ROOT": "/test"},
        "path",
        "/",
        id="path-over-application-root",
    ),
    pytest.param({"SESSION_COOKIE_HTTPONLY": False}, "http_only", False),
    pytest.param({"SESSION_COOKIE_SECURE": True}, "secure", True),
    pytest.param({"SESSION_COOKIE_SAMESITE": "Lax"}, "same_site", "Lax"),
    pytest.param({"SESSION_COOKIE_SAMESITE": "strict"}, "same_site", "Strict"),
    pytest.param({"SESSION_COOKIE_PARTITIONED": True}, "partitioned", True),
    pytest.param({"PERMANENT_SESSION_LIFETIME": 2 * HOUR}, "max_age", 7_200_000),
    # Flask reads an int as seconds (never as koa's milliseconds).
    pytest.param(
        {"PERMANENT_SESSION_LIFETIME": 3600}, "max_age", 3_600_000, id="lifetime-int"
    ),
    # Flask refreshes permanent sessions on every request by default: with
    # Flask's lifetime comes Flask's refresh, koa's rolling.
    pytest.param({"PERMANENT_SESSION_LIFETIME": HOUR}, "rolling", True),
    pytest.param(
        {"PERMANENT_SESSION_LIFETIME": HOUR, "SESSION_REFRESH_EACH_REQUEST": False},
        "rolling",
        False,
        id="lifetime-without-refresh",
    ),
]


@pytest.mark.parametrize(("config", "name", "expected"), HONOURED)
def test_a_flask_setting_is_the_default_of_its_option(
    config: dict[str, t.Any], name: str, expected: t.Any
) -> None:
    app = _app(**config)
    KoaSession(app)
    assert getattr(_options(app), name) == expected


# Settings left at (or set to) Flask's default: koa's default applies, since
# Flask's differs from koa's and the app did not choose it.
KOA_DEFAULTS: list[t.Any] = [
    pytest.param({}, id="nothing-set"),
    pytest.param({"SESSION_COOKIE_NAME": "session"}, id="flask-cookie-name"),
    pytest.param({"SESSION_COOKIE_SECURE": False}, id="flask-secure"),
    pytest.param(
        {"PERMANENT_SESSION_LIFETIME": datetime.timedelta(days=31)},
        id="flask-lifetime",
    ),
    pytest.param({"SESSION_REFRESH_EACH_REQUEST": True}, id="refresh-alone"),
    pytest.param({"SESSION_REFRESH_EACH_REQUEST": False}, id="no-refresh"),
    pytest.param({"SESSION_COOKIE_DOMAIN": None, "APPLICATION_ROOT": "/"}, id="none"),
]


@pytest.mark.parametrize("config", KOA_DEFAULTS)
def test_flask_defaults_leave_koa_defaults(config: dict[str, t.Any]) -> None:
    app = _app(**config)
    KoaSession(app)
    options = _options(app)
    assert options.key == "koa.sess"
    assert options.max_age == 86_400_000
    assert options.rolling is False
    assert options.secure is None
    assert options.domain is None
    assert options.path == "/"


EVERY_SETTING = {
    "SESSION_COOKIE_NAME": "shop_session",
    "SESSION_COOKIE_DOMAIN": ".example.com",
    "SESSION_COOKIE_PATH": "/shop",
    "SESSION_COOKIE_HTTPONLY": False,
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_PARTITIONED": True,
    "PERMANENT_SESSION_LIFETIME": HOUR,
}
EVERY_OPTION = {
    "key": "koa.sess",
    "domain": None,
    "path": "/",
    "http_only": True,
    "secure": None,
    "same_site": None,
    "partitioned": False,
    "max_age": 86_400,  # seconds: koa's default day
    "rolling": False,
}


@pytest.mark.parametrize("where", ["constructor", "init_app", "config"])
def test_an_option_given_wins_over_the_flask_setting(where: str) -> None:
    # Given with koa's defaults as values, None included: given is given.
    app = _app(**EVERY_SETTING)
    if where == "constructor":
        KoaSession(app, **EVERY_OPTION)
    elif where == "init_app":
        KoaSession().init_app(app, **EVERY_OPTION)
    else:
        app.config["KOA_SESSION"] = EVERY_OPTION
        KoaSession(app)
    options = _options(app)
    for name, value in EVERY_OPTION.items():
        expected = value * 1000 if name == "max_age" else value  # ms inside
        assert getattr(options, name) == expected, name


def test_renew_given_keeps_flask_refresh_out() -> None:
    app = _app(PERMANENT_SESSION_LIFETIME=HOUR)
    KoaSession(app, renew=True)
    assert _options(app).rolling is False
    assert _options(app).max_age == 3_600_000


def test_each_app_reads_its_own_settings() -> None:
    shared = KoaSession()
    strict = _app(SESSION_COOKIE_SAMESITE="Strict")
    lax = _app(SESSION_COOKIE_SAMESITE="Lax")
    shared.init_app(strict)
    shared.init_app(lax)
    assert _options(strict).same_site == "Strict"
    assert _options(lax).same_site == "Lax"


def test_the_cookies_carry_the_flask_settings() -> None:
    # Flask's own test_session_using_session_settings, with the settings made
    # before the extension is set up.
    app = _app(
        SERVER_NAME="www.example.com:8080",
        APPLICATION_ROOT="/test",
        SESSION_COOKIE_DOMAIN=".example.com",
        SESSION_COOKIE_HTTPONLY=False,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_PARTITIONED=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_NAME="session",
    )
    KoaSession(app, key="session")
    client = app.test_client()
    # The cookie that saves the session and the one saved once it is emptied
    # (koa keeps an empty session where Flask deletes the cookie).
    for path in ("/", "/clear"):
        response = client.get(path, "http://www.example.com:8080/test/")
        cookies = cookie_attributes(response)
        assert set(cookies) == {"session", "session.sig"}
        for _, attributes in cookies.values():
            assert attributes["domain"] == "example.com"
            assert attributes["path"] == "/"
            assert attributes["secure"] is True
            assert "httponly" not in attributes
            assert attributes["samesite"] == "lax"
            assert attributes["partitioned"] is True


def test_the_cookie_path_follows_application_root() -> None:
    # Flask's test_session_path and test_session_using_application_root.
    class Prefix:
        def __init__(self, wsgi_app: t.Any, prefix: str) -> None:
            self.wsgi_app = wsgi_app
            self.prefix = prefix

        def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
            environ["SCRIPT_NAME"] = self.prefix
            return self.wsgi_app(environ, start_response)

    app = _app(APPLICATION_ROOT="/bar")
    KoaSession(app)
    app.wsgi_app = Prefix(app.wsgi_app, "/bar")  # type: ignore[method-assign]
    response = app.test_client().get("/", "http://example.com:8080/")
    for _, attributes in cookie_attributes(response).values():
        assert attributes["path"] == "/bar"


def test_the_cookie_name_is_the_flask_one() -> None:
    app = _app(SESSION_COOKIE_NAME="shop_session")
    KoaSession(app)
    client = app.test_client()
    response = client.get("/")
    assert cookie_value(response, "shop_session") is not None
    assert cookie_value(response, "shop_session.sig") is not None
    assert client.get("/read").text == "42"


@pytest.mark.parametrize(
    ("refresh", "re_sent"), [(True, True), (False, False)], ids=["refresh", "not"]
)
def test_flask_lifetime_and_refresh(refresh: bool, re_sent: bool) -> None:
    # Flask's test_session_cookie_setting, for a permanent session, with the
    # settings made before the extension is set up.
    app = _app(PERMANENT_SESSION_LIFETIME=HOUR, SESSION_REFRESH_EACH_REQUEST=refresh)
    KoaSession(app, key="session")
    client = app.test_client()
    client.get("/permanent")
    response = client.get("/read")
    assert response.text == "42"
    assert (cookie_value(response, "session") is not None) is re_sent


MISTAKES: list[t.Any] = [
    pytest.param(
        {"SESSION_COOKIE_SAMESITE": "invalid"},
        ValueError,
        "same_site",
        id="samesite",
    ),
    pytest.param({"SESSION_COOKIE_NAME": "my session"}, ValueError, "key", id="name"),
    pytest.param(
        {"SESSION_COOKIE_HTTPONLY": "no"}, TypeError, "http_only", id="httponly"
    ),
    pytest.param(
        {"APPLICATION_ROOT": "/a b"}, ValueError, "path", id="application-root"
    ),
    pytest.param(
        {"PERMANENT_SESSION_LIFETIME": datetime.timedelta(0)},
        ValueError,
        "max_age",
        id="lifetime-zero",
    ),
    pytest.param(
        {"PERMANENT_SESSION_LIFETIME": HOUR, "SESSION_REFRESH_EACH_REQUEST": "yes"},
        TypeError,
        "rolling",
        id="refresh",
    ),
]


@pytest.mark.parametrize(("config", "error", "option"), MISTAKES)
def test_a_bad_flask_setting_raises_at_set_up_naming_it(
    config: dict[str, t.Any], error: type[Exception], option: str
) -> None:
    app = _app(**config)
    with pytest.raises(error) as info:
        KoaSession(app)
    message = str(info.value)
    setting = list(config)[-1]
    assert setting in message
    assert repr(config[setting]) in message
    assert f"{option}=" in message
    assert "koasession" not in app.extensions


def test_a_bad_flask_setting_is_harmless_when_its_option_is_given() -> None:
    app = _app(SESSION_COOKIE_SAMESITE="invalid")
    KoaSession(app, same_site="Strict")
    assert _options(app).same_site == "Strict"


# -- changed after set-up ------------------------------------------------------


def test_a_setting_changed_after_set_up_is_used_from_the_next_request() -> None:
    # As Flask reads its settings on every request: pytest fixtures and app
    # factories change them after the extensions are set up.
    app = _app()
    KoaSession(app)
    client = app.test_client()
    first = cookie_attributes(client.get("/"))
    assert all("samesite" not in attributes for _, attributes in first.values())
    app.config["SESSION_COOKIE_SECURE"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response = client.get("/")
    for _, attributes in cookie_attributes(response).values():
        assert attributes["samesite"] == "lax"
        assert "secure" in attributes
    assert _options(app).same_site == "Lax"


def test_refresh_changed_after_set_up_applies_only_with_a_lifetime() -> None:
    app = _app()
    KoaSession(app)
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False  # not read: no lifetime
    assert app.test_client().get("/").text == "written"
    assert _options(app).rolling is False

    app = _app(PERMANENT_SESSION_LIFETIME=HOUR)
    KoaSession(app)
    assert _options(app).rolling is True
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    app.test_client().get("/")
    assert _options(app).rolling is False


def test_koa_session_set_after_set_up_is_used() -> None:
    # It was silently ignored: KOA_SESSION is read as Flask's settings are.
    app = _app()
    KoaSession(app)
    app.config["KOA_SESSION"] = {"key": "later.sess"}
    response = app.test_client().get("/")
    assert set(cookie_attributes(response)) == {"later.sess", "later.sess.sig"}
    # Changed in place: seen too.
    app.config["KOA_SESSION"]["key"] = "again.sess"
    response = app.test_client().get("/")
    assert set(cookie_attributes(response)) == {"again.sess", "again.sess.sig"}


def test_a_bad_setting_changed_after_set_up_is_a_clear_error() -> None:
    app = _app()
    KoaSession(app)
    app.config["SESSION_COOKIE_SAMESITE"] = "Sideways"
    with pytest.raises(ValueError, match="SESSION_COOKIE_SAMESITE='Sideways'"):
        app.test_client().get("/")


def test_a_setting_changed_after_set_up_loses_to_its_option_given() -> None:
    app = _app()
    KoaSession(app, secure=False)
    app.config["SESSION_COOKIE_SECURE"] = True
    assert app.test_client().get("/").text == "written"
    assert _options(app).secure is False


def test_settings_unchanged_after_set_up_are_silent() -> None:
    app = _app(SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=3600)
    KoaSession(app)
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = HOUR  # the same, as Flask reads it
    # The path stays "/": Flask would not change it either.
    app.config["SESSION_COOKIE_PATH"] = "/"
    app.config["APPLICATION_ROOT"] = "/test"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert app.test_client().get("/").text == "written"


@pytest.mark.parametrize("missing", [None, "SESSION_COOKIE_PARTITIONED"])
def test_unchanged_settings_keep_the_options_and_the_store(missing: str | None) -> None:
    # Made again only on a change: a store from a URL (here a MemoryStore)
    # lives as long as the options. Flask 3.0's config has no
    # SESSION_COOKIE_PARTITIONED: that is no change either.
    app = _app()
    if missing is not None:
        app.config.pop(missing, None)  # Flask 3.0's config has none
    KoaSession(app, store="memory")
    state = app.extensions["koasession"]
    options = state.options
    client = app.test_client()
    assert [client.get("/").text for _ in range(3)] == ["written"] * 3
    assert state.options is options
    assert client.get("/read").text == "42"  # the same store all along


def test_a_store_from_a_url_survives_a_change_of_the_settings() -> None:
    # Made again on a change, the options keep the store made from a URL:
    # a "memory" store kept its sessions no more.
    app = _app()
    KoaSession(app, store="memory")
    store = app.extensions["koasession"].options.store
    client = app.test_client()
    client.get("/")
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    assert client.get("/read").text == "42"
    assert app.extensions["koasession"].options.store is store
    assert app.extensions["koasession"].options.same_site == "Lax"
