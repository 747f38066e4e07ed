"""Options: Python and koa names, sources and their priority, set-up errors."""

from __future__ import annotations

import datetime
import hashlib
import importlib.util
import re
import time
import typing as t
import warnings
from pathlib import Path

import flask
import pytest

from flask_koasession import KoaSession, KoaSessionConfigWarning, codec
from flask_koasession.cookies import Keygrip
from flask_koasession.options import OPTIONS
from flask_koasession.stores import MemoryStore
from tests.helpers import (
    SECRET,
    cookie_value,
    decode_cookie,
    koa_cookie,
    make_app,
    raw_client,
    set_cookies,
    sign,
)


def _encode(payload: dict[str, t.Any]) -> str:
    return codec.encode(payload)


def _decode(value: str) -> t.Any:
    return codec.decode(value)


def _genid(request: flask.Request) -> str:
    return "fixed-id"


def _valid(request: flask.Request, data: dict[str, t.Any]) -> bool:
    return True


def _before_save(request: flask.Request, session: t.Any) -> None:
    pass


class _HeaderKey:
    def get(self, request: flask.Request) -> str | None:
        return request.headers.get("X-Session-Id")

    def set(self, response: flask.Response, key: str) -> None:
        response.headers["X-Session-Id"] = key


_STORE = MemoryStore()
_HEADER_KEY = _HeaderKey()


def _factory(request: flask.Request) -> MemoryStore:
    return _STORE


# (Python name, koa name, value given, value in Options, other options it needs)
OPTION_TABLE: list[tuple[str, str, t.Any, t.Any, dict[str, t.Any]]] = [
    ("key", "key", "my.sess", "my.sess", {}),
    # Given as a timedelta: units follow the name, a timedelta has its own.
    ("max_age", "maxAge", datetime.timedelta(minutes=2), 120_000, {}),
    ("auto_commit", "autoCommit", False, False, {}),
    ("overwrite", "overwrite", False, False, {}),
    ("http_only", "httpOnly", False, False, {}),
    ("signed", "signed", False, False, {}),
    ("rolling", "rolling", True, True, {}),
    ("renew", "renew", True, True, {}),
    ("secure", "secure", True, True, {}),
    ("same_site", "sameSite", "strict", "Strict", {}),
    ("domain", "domain", "example.com", "example.com", {}),
    ("path", "path", "/app", "/app", {}),
    ("partitioned", "partitioned", True, True, {}),
    ("encode", "encode", _encode, _encode, {}),
    ("decode", "decode", _decode, _decode, {}),
    ("encrypt", "encrypt", True, True, {}),
    ("compress", "compress", True, True, {}),
    ("store", "store", _STORE, _STORE, {}),
    ("store_factory", "ContextStore", _factory, _factory, {}),
    ("external_key", "externalKey", _HEADER_KEY, _HEADER_KEY, {"store": _STORE}),
    ("genid", "genid", _genid, _genid, {"store": _STORE}),
    ("prefix", "prefix", "sess:", "sess:", {"store": _STORE}),
    ("valid", "valid", _valid, _valid, {}),
    ("before_save", "beforeSave", _before_save, _before_save, {}),
    ("keys", "keys", ["a", "b"], ("a", "b"), {}),
    ("digest", "digest", "sha256", "sha256", {}),
]


def _options(app: flask.Flask) -> t.Any:
    return app.extensions["koasession"].options


def _app(**config: t.Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    app.config.update(config)
    return app


def _add_counter(app: flask.Flask) -> None:
    @app.get("/")
    def views() -> str:
        n = flask.session.get("views", 0) + 1
        flask.session["views"] = n
        return f"{n} views"


# -- names ---------------------------------------------------------------------


@pytest.mark.parametrize("use_koa_name", [False, True], ids=["python", "koa"])
@pytest.mark.parametrize(
    ("python_name", "koa_name", "given", "expected", "extra"),
    OPTION_TABLE,
    ids=[row[0] for row in OPTION_TABLE],
)
def test_every_option_under_both_names(
    use_koa_name: bool,
    python_name: str,
    koa_name: str,
    given: t.Any,
    expected: t.Any,
    extra: dict[str, t.Any],
) -> None:
    app = _app()
    KoaSession(app, **extra, **{koa_name if use_koa_name else python_name: given})
    assert getattr(_options(app), python_name) == expected


def test_every_declared_option_is_in_the_table_above() -> None:
    # Adding an option to Options is one declaration, plus its row here.
    with_koa_name = {info.name: info.koa for info in OPTIONS if info.koa is not None}
    assert with_koa_name == {row[0]: row[1] for row in OPTION_TABLE}
    assert [info.name for info in OPTIONS if info.koa is None] == [
        "merge",
        "remove_empty",
        "flash_key",
        "wire",
        "migrate_from",
        "user_id_key",
        "registry",
        "track_ip",
        "absolute_max_age",
    ]


def _docs_options_table() -> t.Any:
    path = Path(__file__).parent.parent / "docs" / "_ext" / "options_table.py"
    spec = importlib.util.spec_from_file_location("options_table", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_list_every_option() -> None:
    docs = _docs_options_table()
    options_page = Path(__file__).parent.parent / "docs" / "options.rst"
    assert f".. {docs.DIRECTIVE}::" in options_page.read_text()
    rows = "\n".join(docs.table_lines()).split("   * - ")[2:]  # after the header
    assert len(rows) == len(OPTIONS)
    for row, info in zip(rows, OPTIONS, strict=True):
        name, koa, default, meaning = row.split("\n     - ")
        assert name == f"``{info.name}``"
        assert koa == ("(none)" if info.koa is None else f"``{info.koa}``")
        assert default.strip()
        assert meaning.strip() == info.doc
    assert '``"koa.sess"``' in rows[0]
    assert "``86_400_000``" in rows[1]


def test_merge_option() -> None:
    # No koa name: koa-session only has whole-entry, last-writer-wins saves.
    app = _app()
    KoaSession(app, store=MemoryStore(), merge=False)
    assert _options(app).merge is False
    app = _app(KOA_SESSION={"merge": False})
    KoaSession(app)
    assert _options(app).merge is False


def test_flash_key_option() -> None:
    app = _app()
    KoaSession(app, flash_key="notice")
    assert _options(app).flash_key == "notice"


def test_defaults_match_the_api_table() -> None:
    app = _app()
    KoaSession(app)
    options = _options(app)
    assert options.key == "koa.sess"
    assert options.max_age == 86_400_000
    assert options.auto_commit is True
    assert options.overwrite is True
    assert options.http_only is True
    assert options.signed is True
    assert options.rolling is False
    assert options.renew is False
    assert options.secure is None
    assert options.same_site is None
    assert options.domain is None
    assert options.path == "/"
    assert options.partitioned is False
    assert options.encrypt is False
    assert options.compress == "auto"
    assert options.remove_empty is True
    assert options.store is None
    assert options.store_factory is None
    assert options.external_key is None
    assert options.keys is None
    assert options.digest == "sha1"
    assert options.flash_key == "flash"
    assert options.merge is True


def test_seed_koa_config_dict_ports_as_is() -> None:
    # The CONFIG object of koa-session's introduction, keys and values unchanged.
    config = {
        "key": "koa:sess",
        "maxAge": 86400000,
        "autoCommit": True,
        "overwrite": True,
        "httpOnly": True,
        "signed": True,
        "rolling": False,
        "renew": False,
        "secure": False,
    }
    app = _app()
    KoaSession(app, **config)
    _add_counter(app)
    client = app.test_client()

    before = time.time()
    response = client.get("/")
    assert response.text == "1 views"
    cookies = set_cookies(response)
    assert set(cookies) == {"koa:sess", "koa:sess.sig"}
    morsel = cookies["koa:sess"]["koa:sess"]
    assert morsel["httponly"] is True
    assert not morsel["secure"]
    expires = datetime.datetime.strptime(
        morsel["expires"], "%a, %d %b %Y %H:%M:%S GMT"
    ).replace(tzinfo=datetime.UTC)
    assert abs(expires.timestamp() - (before + 86400)) < 5
    assert client.get("/").text == "2 views"


def test_advanced_koa_config_with_rolling() -> None:
    # The seed's advancedConfig: a rolling session re-sends the cookie unchanged.
    app = _app()
    KoaSession(
        app,
        **{
            "key": "koa.advanced:sess",
            "maxAge": 3600000,
            "autoCommit": True,
            "overwrite": True,
            "httpOnly": True,
            "signed": True,
            "rolling": True,
            "secure": False,
        },
    )
    _add_counter(app)

    @app.get("/read")
    def read() -> str:
        return str(flask.session.get("views"))

    client = app.test_client()
    client.get("/")
    response = client.get("/read")
    assert response.text == "1"
    assert set(set_cookies(response)) == {"koa.advanced:sess", "koa.advanced:sess.sig"}
    payload = decode_cookie(cookie_value(response, "koa.advanced:sess") or "")
    assert payload["_maxAge"] == 3600000


def test_same_option_twice_in_one_source_is_an_error() -> None:
    with pytest.raises(ValueError, match="max_age") as info:
        KoaSession(_app(), max_age=1000, maxAge=2000)
    assert "twice" in str(info.value)


# -- sources -------------------------------------------------------------------


def test_options_from_app_config() -> None:
    app = _app(KOA_SESSION={"maxAge": 500_000, "rolling": True, "key": "cfg.sess"})
    KoaSession(app)
    options = _options(app)
    assert (options.max_age, options.rolling, options.key) == (
        500_000,
        True,
        "cfg.sess",
    )


def test_keyword_arguments_win_over_app_config() -> None:
    # Across names too: the config's koa name loses to the keyword's Python name.
    app = _app(KOA_SESSION={"maxAge": 500_000, "rolling": True, "key": "cfg.sess"})
    KoaSession(app, max_age=700, key="kw.sess")  # seconds, so 700_000 ms
    options = _options(app)
    assert (options.max_age, options.rolling, options.key) == (
        700_000,
        True,
        "kw.sess",
    )


def test_init_app_arguments_win_over_constructor_arguments() -> None:
    koa = KoaSession(max_age=100_000, rolling=True)
    app = _app(KOA_SESSION={"renew": True, "max_age": 300_000})
    koa.init_app(app, maxAge=200_000)
    options = _options(app)
    assert (options.max_age, options.rolling, options.renew) == (200_000, True, True)


def test_one_extension_object_serves_two_apps_with_different_options() -> None:
    koa = KoaSession(rolling=True)
    first, second = _app(), _app()
    koa.init_app(first, key="first.sess")
    koa.init_app(second, key="second.sess", rolling=False)
    assert not hasattr(koa, "app")
    assert _options(first).key == "first.sess"
    assert _options(first).rolling is True
    assert _options(second).key == "second.sess"
    assert _options(second).rolling is False

    for app in (first, second):
        _add_counter(app)
    assert set(set_cookies(first.test_client().get("/"))) == {
        "first.sess",
        "first.sess.sig",
    }
    assert set(set_cookies(second.test_client().get("/"))) == {
        "second.sess",
        "second.sess.sig",
    }


def test_options_that_need_each_other_may_come_from_different_sources() -> None:
    # external_key needs a store: the check waits for init_app, where every
    # source is known.
    koa = KoaSession(external_key=_HEADER_KEY)
    app = _app()
    koa.init_app(app, store=MemoryStore())
    assert _options(app).external_key is _HEADER_KEY
    with pytest.raises(ValueError, match="external_key needs a store"):
        koa.init_app(_app())


def test_config_errors_are_raised_by_init_app() -> None:
    app = _app(KOA_SESSION={"maxAge": -1})
    with pytest.raises(ValueError, match="maxAge=-1"):
        KoaSession(app)


def test_config_that_is_not_a_dict_is_a_type_error() -> None:
    app = _app(KOA_SESSION=[("max_age", 1000)])
    with pytest.raises(TypeError, match="KOA_SESSION"):
        KoaSession(app)


# -- mistakes ------------------------------------------------------------------


def _no_methods() -> object:
    return object()


class _StoreWithoutDestroy:
    def get(self, key: str, max_age: t.Any, *, rolling: bool) -> None:
        return None

    def set(self, *args: t.Any, **kwargs: t.Any) -> None:
        pass


class _StoreWithHalfOfConditionalWrites(MemoryStore):
    compare_and_set = None  # type: ignore[assignment]
    compare_and_delete = None  # type: ignore[assignment]


# (options, exception, text the message must hold: option, value, what is accepted)
MISTAKES: list[tuple[str, dict[str, t.Any], type[Exception], list[str]]] = [
    # Named as given: httpOnly under koa's name, http_only under Python's.
    ("wrong-bool", {"httpOnly": "yes"}, TypeError, ["httpOnly", "'yes'", "True"]),
    ("wrong-bool-python", {"http_only": 1}, TypeError, ["http_only", "1", "True"]),
    ("wrong-bool-2", {"rolling": 1}, TypeError, ["rolling", "1", "True or False"]),
    (
        "secure-str",
        {"secure": "auto"},
        TypeError,
        ["secure", "'auto'", "True, False or None", "HTTPS"],
    ),
    ("max-age-zero", {"max_age": 0}, ValueError, ["max_age=0", "seconds"]),
    (
        "max-age-huge",
        {"max_age": 10**16},
        ValueError,
        ["max_age=10000000000000000", "seconds", "maxAge=10000000000000000"],
    ),
    # Units follow the name: a day in ms under the Python name is a slip.
    (
        "max-age-ms-slip",
        {"max_age": 86_400_000},
        ValueError,
        ["max_age=86400000", "1,000 days", "400 days", "maxAge=86400000"],
    ),
    (
        "max-age-slip-in-seconds",
        {"max_age": 10**9},
        ValueError,
        ["max_age=1000000000", "seconds", "maxAge=1000000000"],
    ),
    ("max-age-neg", {"maxAge": -5}, ValueError, ["maxAge", "-5", "timedelta"]),
    (
        "max-age-str",
        {"maxAge": "not the right string"},
        TypeError,
        ["maxAge", "'not the right string'", '"session"'],
    ),
    # Under a millisecond: named as given, not rounded to 0.
    (
        "max-age-tiny-td",
        {"max_age": datetime.timedelta(microseconds=100)},
        ValueError,
        ["max_age=datetime.timedelta(microseconds=100)", "millisecond"],
    ),
    ("max-age-bool", {"max_age": True}, TypeError, ["max_age", "True", "int"]),
    (
        "max-age-neg-td",
        {"max_age": datetime.timedelta(seconds=-1)},
        ValueError,
        ["max_age=datetime.timedelta(days=-1, seconds=86399)", "millisecond"],
    ),
    (
        "same-site",
        {"sameSite": "sideways"},
        ValueError,
        ["sameSite", "'sideways'", "'Lax', 'Strict' or 'None'"],
    ),
    ("same-site-int", {"same_site": 1}, TypeError, ["same_site", "1", "Lax", "True"]),
    (
        "store-object",
        {"store": _no_methods()},
        TypeError,
        ["store", "object", "get, set, destroy"],
    ),
    (
        "store-no-destroy",
        {"store": _StoreWithoutDestroy()},
        TypeError,
        ["store", "_StoreWithoutDestroy", "missing: destroy"],
    ),
    # A class has the methods too, but every save was then a 500 (TypeError:
    # missing argument), not an error at set-up.
    (
        "store-class",
        {"store": MemoryStore},
        TypeError,
        ["store", "MemoryStore", "instance", "MemoryStore()"],
    ),
    (
        "external-key-class",
        {"store": MemoryStore(), "external_key": _HeaderKey},
        TypeError,
        ["external_key", "_HeaderKey", "instance", "_HeaderKey()"],
    ),
    (
        "store-half-conditional",
        {"store": _StoreWithHalfOfConditionalWrites()},
        TypeError,
        ["store=", "_StoreWithHalfOfConditionalWrites", "compare_and_set", "none"],
    ),
    ("merge", {"merge": "yes"}, TypeError, ["merge", "'yes'", "True or False"]),
    (
        "external-key-methods",
        {"store": MemoryStore(), "externalKey": {}},
        TypeError,
        ["externalKey", "{}", "get, set"],
    ),
    (
        "external-key-no-store",
        {"external_key": _HeaderKey()},
        ValueError,
        ["external_key", "store"],
    ),
    (
        "store-and-factory",
        {"store": MemoryStore(), "ContextStore": _factory},
        ValueError,
        ["store", "store_factory", "give one"],
    ),
    ("digest", {"digest": "nope"}, ValueError, ["digest", "'nope'", "sha256"]),
    ("digest-type", {"digest": 256}, TypeError, ["digest", "256", "hashlib"]),
    # hashlib knows these, but HMAC cannot use a hash of variable output length.
    ("digest-shake", {"digest": "shake_128"}, ValueError, ["digest", "HMAC"]),
    ("digest-shake-256", {"digest": "shake_256"}, ValueError, ["digest", "HMAC"]),
    ("key-space", {"key": "koa sess"}, ValueError, ["key", "'koa sess'", "letters"]),
    ("key-semicolon", {"key": "a;b"}, ValueError, ["key", "'a;b'", "letters"]),
    ("key-empty", {"key": ""}, ValueError, ["key", "''", "cookie name"]),
    ("key-type", {"key": 5}, TypeError, ["key", "5", "cookie name"]),
    # The message shows the keys as a tuple: "keys=()".
    ("keys-empty", {"keys": []}, ValueError, ["keys=", "non-empty list"]),
    ("keys-blank", {"keys": [""]}, ValueError, ["keys=", "''", "non-empty"]),
    ("keys-str", {"keys": "secret"}, TypeError, ["keys", "'secret'", "list"]),
    ("genid", {"genid": "uuid"}, TypeError, ["genid", "'uuid'", "function"]),
    ("valid", {"valid": 1}, TypeError, ["valid", "1", "function"]),
    ("encode", {"encode": "b64"}, TypeError, ["encode", "'b64'", "function"]),
    (
        "before-save",
        {"beforeSave": True},
        TypeError,
        ["beforeSave", "True", "function"],
    ),
    # re's "$" also matches before a final newline: once let through, every
    # write was a 500 ("Header values must not contain newline characters").
    ("key-newline", {"key": "koa.sess\n"}, ValueError, ["key", "\\n", "letters"]),
    ("path", {"path": "/a b"}, ValueError, ["path", "'/a b'", "no spaces"]),
    ("path-newline", {"path": "/\n"}, ValueError, ["path", "'/\\n'", "no spaces"]),
    (
        "domain-newline",
        {"domain": "example.com\n"},
        ValueError,
        ["domain", "\\n", "no spaces"],
    ),
    ("domain", {"domain": "a;b"}, ValueError, ["domain", "'a;b'", "no spaces"]),
    ("prefix", {"prefix": 7}, TypeError, ["prefix", "7", "string"]),
    ("flash-key", {"flash_key": ""}, TypeError, ["flash_key", "''", "string"]),
    ("encrypt", {"encrypt": "yes"}, TypeError, ["encrypt", "'yes'", "True or False"]),
    ("compress", {"compress": 1}, TypeError, ["compress", "1", "True or False"]),
]


@pytest.mark.parametrize(
    ("options", "error", "mentions"),
    [row[1:] for row in MISTAKES],
    ids=[row[0] for row in MISTAKES],
)
def test_mistakes_raise_at_set_up_with_a_helpful_message(
    options: dict[str, t.Any], error: type[Exception], mentions: list[str]
) -> None:
    with pytest.raises(error) as info:
        KoaSession(_app(), **options)
    message = str(info.value)
    for text in mentions:
        assert text in message, (text, message)


@pytest.mark.parametrize("kind", ["constructor", "init_app", "config"])
def test_mistakes_raise_from_every_source(kind: str) -> None:
    if kind == "constructor":
        with pytest.raises(TypeError, match="httpOnly"):
            KoaSession(httpOnly="yes")
    elif kind == "init_app":
        with pytest.raises(TypeError, match="httpOnly"):
            KoaSession().init_app(_app(), httpOnly="yes")
    else:
        with pytest.raises(TypeError, match="httpOnly"):
            KoaSession(_app(KOA_SESSION={"httpOnly": "yes"}))


@pytest.mark.parametrize(
    ("typo", "hint"),
    [("maxage", "max_age"), ("httponly", "http_only"), ("samesite", "same_site")],
)
def test_unknown_option_suggests_a_close_match(typo: str, hint: str) -> None:
    with pytest.raises(ValueError, match="Unknown KoaSession option") as info:
        KoaSession(_app(), **{typo: 1})
    message = str(info.value)
    assert repr(typo) in message
    match = re.search(r"Did you mean '(\w+)'\?", message)
    assert match is not None, message
    assert match.group(1).lower().replace("_", "") == hint.replace("_", "")
    assert "Known options:" in message


def test_unknown_option_without_a_close_match_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"Known options:.*max_age") as info:
        KoaSession(_app(), frobnicate=True)
    assert "Did you mean" not in str(info.value)


def test_a_mistake_leaves_the_app_unconfigured() -> None:
    app = _app()
    with pytest.raises(ValueError, match="max_age=0"):
        KoaSession(app, max_age=0)
    assert "koasession" not in app.extensions


# -- max_age -------------------------------------------------------------------


@pytest.mark.parametrize(
    "given", [59_999, 3600, 1.5e3], ids=["just-under", "an-hour-in-seconds", "float"]
)
def test_max_age_under_a_minute_in_koa_ms_warns_at_set_up(given: float) -> None:
    # koa's maxAge counts milliseconds: maxAge=3600 is 3.6 seconds, most
    # likely a Flask user thinking in seconds.
    app = _app()
    with pytest.warns(KoaSessionConfigWarning) as caught:
        KoaSession(app, maxAge=given)
    assert len(caught) == 1
    message = str(caught[0].message)
    for text in (f"maxAge={given!r}", "milliseconds", "max_age=3600", "timedelta"):
        assert text in message, (text, message)
    # Attributed to the line that set the extension up.
    assert caught[0].filename == __file__
    assert _options(app).max_age == int(given)  # a warning, not a refusal


@pytest.mark.parametrize("where", ["init_app", "config"])
def test_max_age_under_a_minute_warns_once_from_any_source(where: str) -> None:
    koa = KoaSession(maxAge=500) if where == "init_app" else KoaSession()
    app = _app(KOA_SESSION={"maxAge": 500} if where == "config" else {})
    with pytest.warns(KoaSessionConfigWarning, match="maxAge=500") as caught:
        koa.init_app(app)
    assert len(caught) == 1
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    "given",
    [
        {"max_age": 30},
        {"max_age": 86_400},
        {"max_age": 400 * 86_400},
        {"maxAge": 60_000},
        {"maxAge": 86_400_000},
        {"max_age": datetime.timedelta(seconds=30)},
        {"max_age": datetime.timedelta(milliseconds=100)},
        {"max_age": datetime.timedelta(days=1000)},
        {"max_age": "session"},
    ],
    ids=[
        "30-seconds",
        "a-day",
        "400-days",
        "koa-a-minute",
        "koa-a-day",
        "timedelta-30s",
        "timedelta-100ms",
        "timedelta-1000-days",
        "session",
    ],
)
def test_max_age_in_its_unit_or_a_timedelta_is_silent(given: t.Any) -> None:
    app = _app()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KoaSession(app, **given)


def test_max_age_counts_seconds_and_max_age_ms_milliseconds() -> None:
    # Units follow the name; the wire keeps koa's milliseconds.
    assert _options(make_app(max_age=86_400)).max_age == 86_400_000
    assert _options(make_app(maxAge=86_400_000)).max_age == 86_400_000
    assert _options(make_app(max_age=1.5)).max_age == 1500
    config = _app(KOA_SESSION={"max_age": 3600})
    KoaSession(config)
    assert _options(config).max_age == 3_600_000


def test_the_config_warning_can_be_filtered() -> None:
    # For the tests of an app that means milliseconds.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=KoaSessionConfigWarning)
        KoaSession(_app(), maxAge=100)
    assert issubclass(KoaSessionConfigWarning, UserWarning)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (3600, 3_600_000),
        (datetime.timedelta(hours=1), 3_600_000),
        (datetime.timedelta(milliseconds=1500), 1500),
        ("session", "session"),
    ],
    ids=["int", "timedelta", "timedelta-ms", "session"],
)
def test_max_age_forms(given: t.Any, expected: t.Any) -> None:
    app = make_app(max_age=given)
    client = app.test_client()
    before = int(time.time() * 1000)
    response = client.get("/")
    after = int(time.time() * 1000)
    assert _options(app).max_age == expected
    payload = decode_cookie(cookie_value(response) or "")
    morsel = set_cookies(response)["koa.sess"]["koa.sess"]
    if expected == "session":
        assert payload == {"views": 1, "_session": True}
        assert not morsel["expires"]
    else:
        assert payload["_maxAge"] == expected
        assert before + expected <= payload["_expire"] <= after + expected
        assert morsel["expires"]


# -- keys ----------------------------------------------------------------------


def test_secret_key_signs() -> None:
    response = make_app().test_client().get("/")
    value = cookie_value(response)
    assert value is not None
    assert cookie_value(response, "koa.sess.sig") == sign(value, keys=[SECRET])


def test_secret_key_fallback_is_accepted_and_re_signed_with_the_current_key() -> None:
    app = make_app()
    app.config["SECRET_KEY"] = "new-secret"
    app.config["SECRET_KEY_FALLBACKS"] = ["old-secret"]
    value, signature = koa_cookie({"views": 41}, keys=["old-secret"])
    client = app.test_client()
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)

    response = client.get("/touch")
    assert response.text == "41"
    new_signature = cookie_value(response, "koa.sess.sig")
    current_value = cookie_value(response) or value
    assert new_signature == sign(current_value, keys=["new-secret"])

    # The healed cookie works once the old key is gone.
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert client.get("/touch").text == "41"


def test_key_rotation_in_the_config_in_store_mode() -> None:
    # Rotate keys the Flask way, at run time: the new key signs, the old one
    # still lets the existing session in, and the id is re-signed.
    store = MemoryStore()
    app = make_app(store=store)
    app.config["SECRET_KEY"] = "old-secret"
    client = app.test_client()
    key = cookie_value(client.get("/"))
    assert key is not None

    app.config["SECRET_KEY"] = "new-secret"
    app.config["SECRET_KEY_FALLBACKS"] = ["old-secret"]
    response = client.get("/touch")
    assert response.text == "1"
    assert cookie_value(response) in (None, key)
    assert cookie_value(response, "koa.sess.sig") == sign(key, keys=["new-secret"])

    app.config["SECRET_KEY_FALLBACKS"] = []
    assert client.get("/touch").text == "1"


def test_cookie_signed_with_an_unknown_key_is_ignored() -> None:
    app = make_app()
    value, signature = koa_cookie({"views": 41}, keys=["someone-else"])
    client = app.test_client()
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)
    assert client.get("/").text == "1 views"


def test_keys_option_replaces_the_secret_key() -> None:
    # koa's ``app.keys = ['a', 'b']``: 'a' signs, 'b' still verifies.
    app = make_app(keys=["a", "b"])
    client = app.test_client()
    value, signature = koa_cookie({"views": 7}, keys=["b"])
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)
    response = client.get("/")
    assert response.text == "8 views"
    new_value = cookie_value(response)
    assert new_value is not None
    assert cookie_value(response, "koa.sess.sig") == sign(new_value, keys=["a"])

    # SECRET_KEY is not a key when keys= is given.
    value, signature = koa_cookie({"views": 7}, keys=[SECRET])
    other = app.test_client()
    other.set_cookie("koa.sess", value)
    other.set_cookie("koa.sess.sig", signature)
    assert other.get("/").text == "1 views"


def test_keys_option_works_without_a_secret_key() -> None:
    app = make_app(keys=[b"bytes-key"])
    app.secret_key = None
    client = app.test_client()
    assert client.get("/").text == "1 views"
    assert client.get("/").text == "2 views"


def test_signed_session_without_a_secret_key_fails_at_the_first_write() -> None:
    app = make_app()
    app.secret_key = None
    client = app.test_client()
    # Set-up succeeded, and requests that do not use the session or only read
    # it are fine...
    assert client.get("/nothing").status_code == 200
    assert client.get("/touch").text == "None"
    # ...but the first write fails, saying what to do.
    with pytest.raises(RuntimeError, match="no secret key") as info:
        client.get("/")
    message = str(info.value)
    assert "app.secret_key" in message
    assert "keys=" in message
    # signed=False is named with its risk, not offered as a plain way out.
    assert "signed=False" in message
    assert "anyone can forge an unsigned cookie" in message


def test_unsigned_session_needs_no_secret_key() -> None:
    app = make_app(signed=False)
    app.secret_key = None
    client = app.test_client()
    response = client.get("/")
    assert set(set_cookies(response)) == {"koa.sess"}
    assert client.get("/").text == "2 views"


def test_digest_sha256() -> None:
    app = make_app(digest="sha256")
    client = app.test_client()
    response = client.get("/")
    value = cookie_value(response)
    assert value is not None
    signature = cookie_value(response, "koa.sess.sig")
    assert signature == Keygrip([SECRET], "sha256").sign(f"koa.sess={value}")
    assert signature is not None
    assert len(signature) == 43
    assert client.get("/").text == "2 views"

    # A SHA-1 signature of the same cookie is not accepted.
    sha1 = raw_client(app)
    cookie = f"koa.sess={value}; koa.sess.sig={sign(value)}"
    assert sha1.get("/", headers={"Cookie": cookie}).text == "1 views"


@pytest.mark.parametrize("digest", sorted(hashlib.algorithms_available))
def test_a_digest_accepted_at_set_up_signs_every_request(digest: str) -> None:
    # Every name hashlib knows either fails at set-up, naming the option, or
    # signs and verifies a session: never a 500 at the first save.
    try:
        app = make_app(digest=digest)
    except ValueError as error:
        refused: ValueError | None = error
    else:
        refused = None
    if refused is not None:
        assert f"digest={digest!r}" in str(refused)
        return
    client = app.test_client()
    assert client.get("/").text == "1 views"
    assert client.get("/").text == "2 views"


# -- cookie attributes ---------------------------------------------------------


def _attributes(header: str) -> dict[str, str]:
    """The attributes of a Set-Cookie header, by lowercase name ("" for flags)."""
    result = {}
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        result[name.lower()] = value
    return result


def _morsel(response: t.Any, name: str = "koa.sess") -> t.Any:
    return set_cookies(response)[name][name]


def test_cookie_attributes_from_options() -> None:
    app = make_app(
        httpOnly=False,
        sameSite="lax",
        domain="example.com",
        path="/",
        secure=True,
        partitioned=True,
    )
    response = app.test_client().get("/")
    for header in response.headers.getlist("Set-Cookie"):
        attributes = _attributes(header)
        assert "httponly" not in attributes
        assert attributes["samesite"].lower() == "lax"
        assert attributes["domain"] == "example.com"
        assert "secure" in attributes
        assert "partitioned" in attributes
        assert attributes["path"] == "/"


@pytest.mark.parametrize(
    ("secure", "base_url", "expected"),
    [
        (None, "http://localhost", False),
        (None, "https://localhost", True),
        (True, "http://localhost", True),
        (False, "https://localhost", False),
    ],
)
def test_secure_default_follows_the_request_scheme(
    secure: bool | None, base_url: str, expected: bool
) -> None:
    app = make_app(secure=secure)
    response = app.test_client().get("/", base_url=base_url)
    assert bool(_morsel(response)["secure"]) is expected
    assert bool(_morsel(response, "koa.sess.sig")["secure"]) is expected


def test_path_option_scopes_the_cookie() -> None:
    app = make_app(path="/app")
    response = app.test_client().get("/")
    assert _morsel(response)["path"] == "/app"


def test_signed_false_sends_no_signature() -> None:
    app = make_app(signed=False)
    client = app.test_client()
    response = client.get("/")
    assert set(set_cookies(response)) == {"koa.sess"}
    # An unsigned koa cookie is read as is.
    value, _ = koa_cookie({"views": 9})
    raw = raw_client(app)
    assert raw.get("/", headers={"Cookie": f"koa.sess={value}"}).text == "10 views"
