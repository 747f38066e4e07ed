"""The session object in a view: loaded on first use, and its properties."""

from __future__ import annotations

import datetime
import typing as t

import flask
import pytest

from flask_koasession import codec
from tests.helpers import (
    RecordingStore,
    make_app,
    payload_of,
    route,
    set_cookie_headers,
    set_cookies,
    short_max_age,
)

# -- laziness ------------------------------------------------------------------


def test_untouched_session_is_never_decoded() -> None:
    calls: list[str] = []

    def counting_decode(value: str) -> t.Any:
        calls.append(value)
        return codec.decode(value)

    app = make_app(decode=counting_decode)
    client = app.test_client()
    client.get("/")
    assert calls == []  # a new session: nothing to decode

    response = client.get("/nothing")
    assert calls == []
    assert set_cookie_headers(response) == []
    assert "Vary" not in response.headers

    response = client.get("/touch")
    assert len(calls) == 1
    assert response.headers["Vary"] == "Cookie"


def test_untouched_session_never_reaches_the_store() -> None:
    store = RecordingStore()
    client = make_app(store=store).test_client()
    client.get("/")
    store.calls.clear()
    response = client.get("/nothing")
    assert store.calls == []
    assert set_cookie_headers(response) == []
    assert "Vary" not in response.headers


# How a view or a template may read the session, and what each gives when the
# session holds {"views": 1}.
READS: dict[str, tuple[t.Callable[[t.Any], t.Any], t.Any]] = {
    "getitem": (lambda s: s["views"], 1),
    "get": (lambda s: s.get("views"), 1),
    "contains": (lambda s: "views" in s, True),
    "len": (len, 1),
    "bool": (bool, True),
    "iter": (list, ["views"]),
    "keys": (lambda s: list(s.keys()), ["views"]),
    "values": (lambda s: list(s.values()), [1]),
    "items": (lambda s: list(s.items()), [("views", 1)]),
    "dict": (dict, {"views": 1}),
    "unpack": (lambda s: {**s}, {"views": 1}),
    "copy": (lambda s: s.copy(), {"views": 1}),
    "eq": (lambda s: s == {"views": 1}, True),
    "or": (lambda s: s | {}, {"views": 1}),
    "template-attr": (
        lambda s: flask.render_template_string("{{ session.views }}"),
        "1",
    ),
    "template-item": (
        lambda s: flask.render_template_string("{{ session['views'] }}"),
        "1",
    ),
}


@pytest.mark.parametrize(("read", "expected"), READS.values(), ids=READS.keys())
def test_every_way_of_reading_loads_the_session(
    read: t.Callable[[t.Any], t.Any], expected: t.Any
) -> None:
    app = make_app()
    results: list[t.Any] = []

    @route(app, "/read")
    def read_view() -> str:
        results.append(read(flask.session))
        return "ok"

    client = app.test_client()
    client.get("/")
    client.get("/read")
    assert results == [expected]


def test_repr_does_not_load_the_session() -> None:
    # A repr (a debugger's, a log line's) must not cost a store round trip,
    # nor mark the session read; once loaded, it shows the data.
    store = RecordingStore()
    app = make_app(store=store)
    seen: list[str] = []

    @route(app, "/repr")
    def repr_view() -> str:
        seen.append(repr(flask.session))
        flask.session.get("views")
        seen.append(repr(flask.session))
        return "ok"

    client = app.test_client()
    client.get("/")
    store.calls.clear()
    client.get("/repr")
    assert seen == ["<KoaSessionDict (not loaded yet)>", "{'views': 1}"]
    assert store.methods() == ["get"]


def test_vary_cookie_when_the_session_is_read() -> None:
    client = make_app().test_client()
    # Read, new and empty: no cookie, but the response depended on cookies.
    response = client.get("/touch")
    assert set_cookie_headers(response) == []
    assert response.headers["Vary"] == "Cookie"
    assert client.get("/").headers["Vary"] == "Cookie"


def test_vary_cookie_is_added_to_an_existing_vary() -> None:
    app = make_app()

    @route(app, "/vary")
    def vary() -> flask.Response:
        response = flask.make_response(str(flask.session.get("views")))
        response.vary.add("Accept-Encoding")
        return response

    response = app.test_client().get("/vary")
    assert set(response.vary) == {"Accept-Encoding", "Cookie"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (["Accept", "Origin"], ["Accept, Origin, Cookie"]),  # none is dropped
        (["Accept, cookie"], ["Accept, cookie"]),  # already there
        (["Origin", " Cookie "], ["Origin", " Cookie "]),
        (["Cookies"], ["Cookies, Cookie"]),  # another name
    ],
)
def test_vary_cookie_keeps_every_vary_field(
    fields: list[str], expected: list[str]
) -> None:
    app = make_app()

    @route(app, "/fields")
    def with_fields() -> flask.Response:
        response = flask.make_response(str(flask.session.get("views")))
        for field in fields:
            response.headers.add("Vary", field)
        return response

    response = app.test_client().get("/fields")
    assert response.headers.getlist("Vary") == expected


# -- properties ----------------------------------------------------------------


def test_is_new() -> None:
    app = make_app()

    @route(app, "/is-new")
    def is_new() -> str:
        return f"{flask.session.is_new} {flask.session.new}"

    client = app.test_client()
    assert client.get("/is-new").text == "True True"
    client.get("/")
    assert client.get("/is-new").text == "False False"
    client.get("/destroy")
    assert client.get("/is-new").text == "True True"


def test_is_new_stays_true_until_the_session_is_saved() -> None:
    app = make_app()

    @route(app, "/write")
    def write() -> str:
        flask.session["a"] = 1
        return str(flask.session.is_new)

    assert app.test_client().get("/write").text == "True"


def test_populated_and_len() -> None:
    app = make_app()

    @route(app, "/size")
    def size() -> str:
        before = (flask.session.populated, len(flask.session))
        flask.session["foo"] = "bar"
        after = (flask.session.populated, len(flask.session))
        return f"{before} {after}"

    assert app.test_client().get("/size").text == "(False, 0) (True, 1)"


def test_bookkeeping_is_not_data() -> None:
    client = make_app(maxAge=60_000).test_client()
    client.get("/")
    assert client.get("/get").json == {"views": 1}


def test_external_key_is_none_in_cookie_mode() -> None:
    app = make_app()

    @route(app, "/external-key")
    def external_key() -> str:
        return repr(flask.session.external_key)

    client = app.test_client()
    client.get("/")
    assert client.get("/external-key").text == "None"


@short_max_age
def test_max_age_default_and_from_the_option() -> None:
    app = make_app(maxAge=100)

    @route(app, "/max-age")
    def max_age() -> str:
        return repr(flask.session.max_age)

    # koa test "ctx.session.maxAge should return opt.maxAge", in seconds
    assert app.test_client().get("/max-age").text == "0.1"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("5", 5),
        ("2.5", 2.5),
        ("td", 90),
        ("session", "session"),
    ],
)
def test_max_age_set_in_a_view(given: str, expected: t.Any, clock: list[int]) -> None:
    # Seconds in the view (Python's unit); koa's milliseconds on the wire.
    app = make_app()

    @route(app, "/set-max-age")
    def set_max_age() -> str:
        value: t.Any = {
            "5": 5,
            "2.5": 2.5,
            "td": datetime.timedelta(seconds=90),
            "session": "session",
        }[given]
        flask.session["foo"] = "bar"
        flask.session.max_age = value
        return repr(flask.session.max_age)

    @route(app, "/max-age")
    def max_age() -> str:
        return repr(flask.session.max_age)

    client = app.test_client()
    response = client.get("/set-max-age")
    assert response.text == repr(expected)
    payload = payload_of(response)
    morsel = set_cookies(response)["koa.sess"]["koa.sess"]
    if expected == "session":
        assert payload == {"foo": "bar", "_session": True}
        assert not morsel["expires"]
    else:
        assert payload == {
            "foo": "bar",
            "_expire": clock[0] + int(expected * 1000),
            "_maxAge": int(expected * 1000),
        }
        assert morsel["expires"]
    # The session keeps its own max age on the next request (koa restores it).
    assert client.get("/max-age").text == repr(expected)


def test_setting_max_age_saves_an_unchanged_session() -> None:
    # koa test "ctx.session.maxAge= should save even session not change"
    app = make_app()

    @route(app, "/max-age-only")
    def max_age_only() -> str:
        flask.session.max_age = 100
        return "ok"

    response = app.test_client().get("/max-age-only")
    assert payload_of(response)["_maxAge"] == 100_000
    assert "expires=" in set_cookie_headers(response)[0].lower()


def test_bad_max_age_in_a_view_raises() -> None:
    app = make_app()

    @route(app, "/bad-max-age")
    def bad_max_age() -> str:
        flask.session.max_age = 0
        return "unreachable"

    with pytest.raises(ValueError, match=r"session\.max_age=0"):
        app.test_client().get("/bad-max-age")


def test_permanent_false_is_a_browser_session_cookie() -> None:
    app = make_app(maxAge=60_000)

    @route(app, "/not-permanent")
    def not_permanent() -> str:
        flask.session["a"] = 1
        flask.session.permanent = False
        return repr(flask.session.max_age)

    @route(app, "/permanent")
    def permanent() -> str:
        before = flask.session.permanent
        flask.session.permanent = True
        return f"{before} {flask.session.max_age!r}"

    client = app.test_client()
    response = client.get("/not-permanent")
    assert response.text == "'session'"
    assert payload_of(response) == {"a": 1, "_session": True}
    for header in set_cookie_headers(response):
        assert "expires" not in header.lower()
        assert "max-age" not in header.lower()

    response = client.get("/permanent")
    assert response.text == "False 60"
    payload = payload_of(response)
    assert payload["_maxAge"] == 60_000
    assert "_session" not in payload
    assert "expires=" in set_cookie_headers(response)[0].lower()


def test_permanent_true_when_the_option_is_session_uses_flask_lifetime() -> None:
    app = make_app(max_age="session")
    app.permanent_session_lifetime = datetime.timedelta(days=2)

    @route(app, "/permanent")
    def permanent() -> str:
        before = flask.session.permanent
        flask.session.permanent = True
        return f"{before} {flask.session.max_age!r}"

    response = app.test_client().get("/permanent")
    assert response.text == "False 172800"
    assert payload_of(response)["_maxAge"] == 172_800_000


def test_permanent_is_not_stored_as_data() -> None:
    app = make_app()

    @route(app, "/permanent")
    def permanent() -> str:
        flask.session["a"] = 1
        flask.session.permanent = True  # already: a no-op
        return "ok"

    response = app.test_client().get("/permanent")
    assert "_permanent" not in payload_of(response)
