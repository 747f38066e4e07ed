"""The session in a view: laziness, change detection, properties and methods,
hooks, timing, and Flask's own tools (test client, Flask-Login) on top."""

from __future__ import annotations

import base64
import datetime
import json
import typing as t

import flask
import flask_login
import pytest

from flask_koasession import KoaSession, codec
from tests.helpers import (
    SECRET,
    RecordingStore,
    cookie_value,
    decode_cookie,
    freeze_clock,
    koa_cookie,
    make_app,
    set_cookies,
    sign,
)

EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return freeze_clock(monkeypatch)


def _payload(response: t.Any, name: str = "koa.sess") -> dict[str, t.Any]:
    value = cookie_value(response, name)
    assert value is not None, response.headers.getlist("Set-Cookie")
    return decode_cookie(value)


def _headers(response: t.Any) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def _route(app: flask.Flask, path: str) -> t.Callable[[t.Callable[[], t.Any]], t.Any]:
    """Register a view for GET ``path`` under an endpoint named after the path."""

    def register(view: t.Callable[[], t.Any]) -> t.Any:
        app.add_url_rule(path, path, view)
        return view

    return register


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
    assert _headers(response) == []
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
    assert _headers(response) == []
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
    "repr": (repr, "{'views': 1}"),
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

    @_route(app, "/read")
    def read_view() -> str:
        results.append(read(flask.session))
        return "ok"

    client = app.test_client()
    client.get("/")
    client.get("/read")
    assert results == [expected]


def test_vary_cookie_when_the_session_is_read() -> None:
    client = make_app().test_client()
    # Read, new and empty: no cookie, but the response depended on cookies.
    response = client.get("/touch")
    assert _headers(response) == []
    assert response.headers["Vary"] == "Cookie"
    assert client.get("/").headers["Vary"] == "Cookie"


def test_vary_cookie_is_added_to_an_existing_vary() -> None:
    app = make_app()

    @_route(app, "/vary")
    def vary() -> flask.Response:
        response = flask.make_response(str(flask.session.get("views")))
        response.vary.add("Accept-Encoding")
        return response

    response = app.test_client().get("/vary")
    assert set(response.vary) == {"Accept-Encoding", "Cookie"}


# -- change detection ----------------------------------------------------------


def test_nested_mutations_are_saved_without_modified() -> None:
    app = make_app()

    @_route(app, "/init")
    def init() -> str:
        flask.session["cart"] = {"items": [], "meta": {"count": 0}}
        return "ok"

    @_route(app, "/add")
    def add() -> str:
        cart = flask.session["cart"]
        cart["items"].append(len(cart["items"]) + 1)
        cart["meta"]["count"] += 1
        assert flask.session.modified is False
        return "ok"

    @_route(app, "/list-of-dicts")
    def list_of_dicts() -> str:
        flask.session["cart"]["items"] = [{"n": 1}]
        return "ok"

    @_route(app, "/edit-inner")
    def edit_inner() -> str:
        flask.session["cart"]["items"][0]["n"] = 2
        return "ok"

    client = app.test_client()
    client.get("/init")
    assert cookie_value(client.get("/add")) is not None
    client.get("/add")
    assert client.get("/get").json == {"cart": {"items": [1, 2], "meta": {"count": 2}}}
    client.get("/list-of-dicts")
    response = client.get("/edit-inner")
    assert _payload(response)["cart"]["items"] == [{"n": 2}]


def test_reading_nested_data_saves_nothing() -> None:
    app = make_app()

    @_route(app, "/init")
    def init() -> str:
        flask.session["cart"] = {"items": [1, 2]}
        return "ok"

    @_route(app, "/read")
    def read() -> str:
        return str(sum(flask.session["cart"]["items"]))

    client = app.test_client()
    client.get("/init")
    response = client.get("/read")
    assert response.text == "3"
    assert _headers(response) == []


def test_emptying_an_existing_session_saves_it_empty() -> None:
    # koa: a loaded session has a hash, so becoming empty is a change that is
    # saved (an empty payload), not a removal.
    app = make_app()

    @_route(app, "/empty")
    def empty() -> str:
        flask.session.clear()
        return "ok"

    client = app.test_client()
    client.get("/")
    response = client.get("/empty")
    assert set(_payload(response)) == {"_expire", "_maxAge"}
    assert client.get("/get").json == {}


def test_a_new_session_emptied_again_is_not_saved() -> None:
    app = make_app()

    @_route(app, "/set-and-unset")
    def set_and_unset() -> str:
        flask.session["a"] = 1
        del flask.session["a"]
        return "ok"

    assert _headers(app.test_client().get("/set-and-unset")) == []


def test_setting_the_same_value_again_is_no_change() -> None:
    client = make_app().test_client()
    client.get("/set?a=1")
    assert _headers(client.get("/set?a=1")) == []


def test_modified_forces_a_save_of_an_unchanged_session(clock: list[int]) -> None:
    app = make_app()

    @_route(app, "/force")
    def force() -> str:
        value = flask.session.get("views")
        flask.session.modified = True
        return str(value)

    client = app.test_client()
    client.get("/")
    clock[0] += 1000
    response = client.get("/force")
    assert response.text == "1"
    assert _payload(response)["_expire"] == clock[0] + 86_400_000


def test_modified_alone_forces_a_save(clock: list[int]) -> None:
    # api.md: "Flask's session.modified still forces a save", even when it is
    # the only thing the view does with the session.
    app = make_app()

    @_route(app, "/force-only")
    def force_only() -> str:
        flask.session.modified = True
        return "forced"

    client = app.test_client()
    client.get("/")
    clock[0] += 1000
    response = client.get("/force-only")
    assert _payload(response) == {
        "views": 1,
        "_expire": clock[0] + 86_400_000,
        "_maxAge": 86_400_000,
    }


# -- properties ----------------------------------------------------------------


def test_is_new() -> None:
    app = make_app()

    @_route(app, "/is-new")
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

    @_route(app, "/write")
    def write() -> str:
        flask.session["a"] = 1
        return str(flask.session.is_new)

    assert app.test_client().get("/write").text == "True"


def test_populated_and_len() -> None:
    app = make_app()

    @_route(app, "/size")
    def size() -> str:
        before = (flask.session.populated, len(flask.session))
        flask.session["foo"] = "bar"
        after = (flask.session.populated, len(flask.session))
        return f"{before} {after}"

    assert app.test_client().get("/size").text == "(False, 0) (True, 1)"


def test_bookkeeping_is_not_data() -> None:
    client = make_app(max_age=60_000).test_client()
    client.get("/")
    assert client.get("/get").json == {"views": 1}


def test_external_key_is_none_in_cookie_mode() -> None:
    app = make_app()

    @_route(app, "/external-key")
    def external_key() -> str:
        return repr(flask.session.external_key)

    client = app.test_client()
    client.get("/")
    assert client.get("/external-key").text == "None"


def test_max_age_default_and_from_the_option() -> None:
    app = make_app(max_age=100)

    @_route(app, "/max-age")
    def max_age() -> str:
        return repr(flask.session.max_age)

    # koa test "ctx.session.maxAge should return opt.maxAge"
    assert app.test_client().get("/max-age").text == "100"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("5000", 5000),
        ("td", 90_000),
        ("session", "session"),
    ],
)
def test_max_age_set_in_a_view(given: str, expected: t.Any, clock: list[int]) -> None:
    app = make_app()

    @_route(app, "/set-max-age")
    def set_max_age() -> str:
        value: t.Any = {
            "5000": 5000,
            "td": datetime.timedelta(seconds=90),
            "session": "session",
        }[given]
        flask.session["foo"] = "bar"
        flask.session.max_age = value
        return repr(flask.session.max_age)

    @_route(app, "/max-age")
    def max_age() -> str:
        return repr(flask.session.max_age)

    client = app.test_client()
    response = client.get("/set-max-age")
    assert response.text == repr(expected)
    payload = _payload(response)
    morsel = set_cookies(response)["koa.sess"]["koa.sess"]
    if expected == "session":
        assert payload == {"foo": "bar", "_session": True}
        assert not morsel["expires"]
    else:
        assert payload == {
            "foo": "bar",
            "_expire": clock[0] + expected,
            "_maxAge": expected,
        }
        assert morsel["expires"]
    # The session keeps its own max age on the next request (koa restores it).
    assert client.get("/max-age").text == repr(expected)


def test_setting_max_age_saves_an_unchanged_session() -> None:
    # koa test "ctx.session.maxAge= should save even session not change"
    app = make_app()

    @_route(app, "/max-age-only")
    def max_age_only() -> str:
        flask.session.max_age = 100
        return "ok"

    response = app.test_client().get("/max-age-only")
    assert _payload(response)["_maxAge"] == 100
    assert "expires=" in _headers(response)[0].lower()


def test_bad_max_age_in_a_view_raises() -> None:
    app = make_app()

    @_route(app, "/bad-max-age")
    def bad_max_age() -> str:
        flask.session.max_age = 0
        return "unreachable"

    with pytest.raises(ValueError, match=r"session\.max_age=0"):
        app.test_client().get("/bad-max-age")


def test_permanent_false_is_a_browser_session_cookie() -> None:
    app = make_app(max_age=60_000)

    @_route(app, "/not-permanent")
    def not_permanent() -> str:
        flask.session["a"] = 1
        flask.session.permanent = False
        return repr(flask.session.max_age)

    @_route(app, "/permanent")
    def permanent() -> str:
        before = flask.session.permanent
        flask.session.permanent = True
        return f"{before} {flask.session.max_age!r}"

    client = app.test_client()
    response = client.get("/not-permanent")
    assert response.text == "'session'"
    assert _payload(response) == {"a": 1, "_session": True}
    for header in _headers(response):
        assert "expires" not in header.lower()
        assert "max-age" not in header.lower()

    response = client.get("/permanent")
    assert response.text == "False 60000"
    payload = _payload(response)
    assert payload["_maxAge"] == 60_000
    assert "_session" not in payload
    assert "expires=" in _headers(response)[0].lower()


def test_permanent_true_when_the_option_is_session_uses_flask_lifetime() -> None:
    app = make_app(max_age="session")
    app.permanent_session_lifetime = datetime.timedelta(days=2)

    @_route(app, "/permanent")
    def permanent() -> str:
        before = flask.session.permanent
        flask.session.permanent = True
        return f"{before} {flask.session.max_age!r}"

    response = app.test_client().get("/permanent")
    assert response.text == "False 172800000"
    assert _payload(response)["_maxAge"] == 172_800_000


def test_permanent_is_not_stored_as_data() -> None:
    app = make_app()

    @_route(app, "/permanent")
    def permanent() -> str:
        flask.session["a"] = 1
        flask.session.permanent = True  # already: a no-op
        return "ok"

    response = app.test_client().get("/permanent")
    assert "_permanent" not in _payload(response)


# -- save, regenerate, destroy -------------------------------------------------


def test_save_forces_a_save_of_a_new_empty_session() -> None:
    # koa test "session .save() should save session"
    response = make_app().test_client().get("/save")
    assert response.text == "saved"
    payload = _payload(response)
    assert set(payload) == {"_expire", "_maxAge"}


def test_save_forces_a_save_of_an_unchanged_session(clock: list[int]) -> None:
    client = make_app().test_client()
    client.get("/")
    clock[0] += 5000
    response = client.get("/save")
    assert _payload(response)["_expire"] == clock[0] + 86_400_000


def test_regenerate_in_cookie_mode_sends_one_new_pair() -> None:
    client = make_app().test_client()
    first = cookie_value(client.get("/"))
    response = client.get("/regenerate")
    # set_cookies() fails on two Set-Cookie headers for one name.
    cookies = set_cookies(response)
    assert set(cookies) == {"koa.sess", "koa.sess.sig"}
    value = cookie_value(response)
    assert value is not None
    assert value != EPOCH
    assert _payload(response)["views"] == 1
    assert cookie_value(response, "koa.sess.sig") == sign(value)
    assert first is not None
    assert client.get("/touch").text == "1"


def test_regenerate_without_overwrite_sends_removal_and_new_cookie() -> None:
    # koa sets both through ``cookies.set`` with ``overwrite: false``: the
    # removal pair, then the new pair, in that order.
    client = make_app(overwrite=False).test_client()
    client.get("/")
    headers = _headers(client.get("/regenerate"))
    names = [h.split("=", 1)[0] for h in headers]
    assert names == ["koa.sess", "koa.sess.sig", "koa.sess", "koa.sess.sig"]
    assert headers[0].startswith("koa.sess=;")
    assert EPOCH in headers[0]
    assert EPOCH in headers[1]
    assert EPOCH not in headers[2]
    value = headers[2].split(";", 1)[0].split("=", 1)[1]
    assert decode_cookie(value)["views"] == 1
    assert client.get("/touch").text == "1"


def test_destroy_sends_removal_cookies_and_forgets_the_data() -> None:
    client = make_app().test_client()
    client.get("/")
    response = client.get("/destroy")
    cookies = set_cookies(response)
    assert set(cookies) == {"koa.sess", "koa.sess.sig"}
    assert cookie_value(response) == ""
    assert cookie_value(response, "koa.sess.sig") == sign("")
    for header in _headers(response):
        assert EPOCH in header
        assert "path=/" in header.lower()
    assert client.get("/touch").text == "None"
    assert client.get("/").text == "1 views"


def test_destroy_a_session_that_did_not_exist_still_removes_cookies() -> None:
    # koa test "when session is null should expire the session"
    response = make_app().test_client().get("/destroy")
    assert cookie_value(response) == ""


def test_writing_after_destroy_starts_a_new_session() -> None:
    app = make_app()

    @_route(app, "/logout-and-mark")
    def logout_and_mark() -> str:
        flask.session.destroy()
        assert flask.session.is_new
        assert len(flask.session) == 0
        flask.session["fresh"] = True
        return "ok"

    client = app.test_client()
    client.get("/set?user=ann")
    response = client.get("/logout-and-mark")
    assert set(set_cookies(response)) == {"koa.sess", "koa.sess.sig"}
    assert {k: v for k, v in _payload(response).items() if k[0] != "_"} == {
        "fresh": True
    }
    assert client.get("/get").json == {"fresh": True}


# -- auto_commit ---------------------------------------------------------------


def _commit_app(**options: t.Any) -> flask.Flask:
    app = make_app(auto_commit=False, **options)

    @_route(app, "/commit")
    def commit() -> str:
        flask.session["message"] = "dummy"
        flask.session.manually_commit()
        return "committed"

    return app


def test_auto_commit_false_sends_nothing_without_manually_commit() -> None:
    # koa test "autoCommit false should not set headers if manuallyCommit()
    # isn't called"
    client = _commit_app().test_client()
    response = client.get("/")
    assert response.text == "1 views"
    assert _headers(response) == []
    assert client.get("/").text == "1 views"


def test_auto_commit_false_with_manually_commit() -> None:
    # koa test "should set headers if manuallyCommit() is called"
    client = _commit_app().test_client()
    response = client.get("/commit")
    assert _payload(response)["message"] == "dummy"
    assert response.headers["Vary"] == "Cookie"
    assert client.get("/get").json == {"message": "dummy"}


def test_manually_commit_before_writing_keeps_the_later_writes() -> None:
    app = make_app(autoCommit=False)

    @_route(app, "/commit-first")
    def commit_first() -> str:
        flask.session.manually_commit()
        flask.session["late"] = 1
        return "ok"

    response = app.test_client().get("/commit-first")
    assert _payload(response)["late"] == 1


# -- hooks ---------------------------------------------------------------------


def test_after_request_writes_are_saved_and_before_save_runs_last() -> None:
    seen: list[dict[str, t.Any]] = []

    def before_save(request: flask.Request, session: t.Any) -> None:
        seen.append(dict(session))
        session["saved_by"] = "before_save"

    app = make_app(before_save=before_save)

    @app.after_request
    def stamp(response: flask.Response) -> flask.Response:
        flask.session["stamped"] = flask.request.path
        return response

    client = app.test_client()
    response = client.get("/nothing")
    assert seen == [{"stamped": "/nothing"}]
    # /get shows the session as the previous response saved it.
    assert client.get("/get").json == {
        "stamped": "/nothing",
        "saved_by": "before_save",
    }
    assert _payload(response)["stamped"] == "/nothing"


def test_before_save_is_not_called_when_nothing_is_saved() -> None:
    calls: list[str] = []
    app = make_app(beforeSave=lambda request, session: calls.append(request.path))
    client = app.test_client()
    client.get("/")
    client.get("/touch")
    client.get("/nothing")
    assert calls == ["/"]


def test_valid_hook_ignores_a_session_of_another_user() -> None:
    # koa test "when valid and beforeSave set: should ignore session when uid
    # changed", in cookie mode.
    app = make_app(
        valid=lambda request, data: request.cookies.get("uid") == data.get("uid"),
        before_save=lambda request, session: session.update(
            uid=request.cookies.get("uid")
        ),
    )
    counter = iter(range(1000))

    @_route(app, "/foo")
    def foo() -> flask.Response:
        if "foo" not in flask.session:
            flask.session["foo"] = f"{next(counter)}|uid:{flask.request.cookies['uid']}"
        return flask.jsonify(foo=flask.session["foo"], uid=flask.request.cookies["uid"])

    client = app.test_client()
    client.set_cookie("uid", "123")
    first = client.get("/foo").json
    assert client.get("/foo").json == first
    client.set_cookie("uid", "456")
    other = client.get("/foo").json
    assert other["uid"] == "456"
    assert other["foo"] != first["foo"]


def test_valid_receives_the_request_and_the_whole_payload() -> None:
    calls: list[tuple[str, dict[str, t.Any]]] = []

    def valid(request: flask.Request, data: dict[str, t.Any]) -> bool:
        calls.append((request.path, dict(data)))
        return True

    client = make_app(valid=valid, max_age=60_000).test_client()
    client.get("/")
    client.get("/touch")
    assert len(calls) == 1
    path, data = calls[0]
    assert path == "/touch"
    assert data["views"] == 1
    assert data["_maxAge"] == 60_000
    assert "_expire" in data


def test_custom_encode_and_decode() -> None:
    encoded: list[dict[str, t.Any]] = []

    def encode(payload: dict[str, t.Any]) -> str:
        encoded.append(dict(payload))
        text = json.dumps(payload, sort_keys=True)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def decode(value: str) -> t.Any:
        padded = value + "=" * (-len(value) % 4)
        return json.loads(base64.urlsafe_b64decode(padded))

    client = make_app(encode=encode, decode=decode).test_client()
    response = client.get("/")
    assert encoded[0]["views"] == 1
    assert encoded[0]["_maxAge"] == 86_400_000
    assert cookie_value(response) == encode(encoded[0])
    assert client.get("/").text == "2 views"


def test_custom_decode_that_raises_gives_a_new_session() -> None:
    def decode(value: str) -> t.Any:
        raise ValueError("not mine")

    client = make_app(decode=decode).test_client()
    client.get("/")
    assert client.get("/").text == "1 views"


# -- rolling, renew, expiry ----------------------------------------------------


def test_rolling_resends_an_unchanged_session(clock: list[int]) -> None:
    client = make_app(rolling=True, max_age=10_000).test_client()
    client.get("/")
    clock[0] += 4000
    response = client.get("/touch")
    assert set(set_cookies(response)) == {"koa.sess", "koa.sess.sig"}
    assert _payload(response) == {
        "views": 1,
        "_expire": clock[0] + 10_000,
        "_maxAge": 10_000,
    }


def test_rolling_does_not_create_a_session(clock: list[int]) -> None:
    # koa test "when rolling set to true should not send set-cookie when
    # session not exists"
    client = make_app(rolling=True).test_client()
    assert _headers(client.get("/touch")) == []
    assert _headers(client.get("/nothing")) == []


def test_rolling_keeps_a_session_alive_past_its_first_max_age(
    clock: list[int],
) -> None:
    client = make_app(rolling=True, max_age=10_000).test_client()
    client.get("/")
    for _ in range(5):
        clock[0] += 6000
        assert client.get("/touch").text == "1"


def test_without_rolling_a_session_expires(clock: list[int]) -> None:
    client = make_app(max_age=10_000).test_client()
    client.get("/")
    clock[0] += 6000
    assert _headers(client.get("/touch")) == []
    clock[0] += 4001
    assert client.get("/touch").text == "None"


def test_expiry_boundary(clock: list[int]) -> None:
    # koa: expired when ``_expire < Date.now()``; at ``_expire`` it is still valid.
    client = make_app(max_age=10_000).test_client()
    client.get("/")
    expire = clock[0] + 10_000
    clock[0] = expire
    assert client.get("/touch").text == "1"
    clock[0] = expire + 1
    assert client.get("/touch").text == "None"


def test_renew_only_in_the_second_half(clock: list[int]) -> None:
    # koa tests "when renew set to true" (maxAge 2000; 500 ms, then 1200 ms)
    client = make_app(renew=True, max_age=2000).test_client()
    assert _headers(client.get("/touch")) == []
    client.get("/")
    start = clock[0]
    clock[0] = start + 500
    assert _headers(client.get("/touch")) == []
    clock[0] = start + 1200
    response = client.get("/touch")
    assert len(_headers(response)) == 2
    assert _payload(response)["_expire"] == clock[0] + 2000


def test_renew_never_for_a_browser_session_cookie(clock: list[int]) -> None:
    client = make_app(renew=True, max_age="session").test_client()
    client.get("/")
    clock[0] += 10**9
    response = client.get("/touch")
    assert response.text == "1"
    assert _headers(response) == []


def test_expired_cookie_from_koa_gives_a_new_session(clock: list[int]) -> None:
    client = make_app().test_client()
    value, signature = koa_cookie({"views": 9}, expire=clock[0] - 1)
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)
    assert client.get("/").text == "1 views"


# -- Flask's test client -------------------------------------------------------


def test_session_transaction_reads_the_session() -> None:
    client = make_app().test_client()
    client.get("/")
    client.get("/")
    with client.session_transaction() as session:
        assert dict(session) == {"views": 2}
        assert session.is_new is False


def test_session_transaction_writes_the_session() -> None:
    client = make_app().test_client()
    with client.session_transaction() as session:
        session["views"] = 41
        session["user"] = {"name": "ann"}
    assert client.get("/").text == "42 views"
    assert client.get("/get").json == {"views": 42, "user": {"name": "ann"}}


def test_session_transaction_in_store_mode() -> None:
    store = RecordingStore()
    client = make_app(store=store).test_client()
    with client.session_transaction() as session:
        session["views"] = 41
    assert client.get("/").text == "42 views"
    with client.session_transaction() as session:
        assert session["views"] == 42
        key = session.external_key
    assert key is not None
    assert store.peek(key) is not None


def test_session_transaction_with_a_store_that_uses_flask_globals() -> None:
    # Stores are called during requests, so they may use current_app, g or
    # request (to log, to reach a connection pool kept on the app...). The
    # session that session_transaction() yields must give them that context
    # too, as Flask's own session would (it loads in open_session).
    class AppAwareStore(RecordingStore):
        def get(self, key: str, max_age: t.Any, *, rolling: bool) -> t.Any:
            assert flask.current_app.name
            assert flask.request.path == "/"
            return super().get(key, max_age, rolling=rolling)

    store = AppAwareStore()
    client = make_app(store=store).test_client()
    client.get("/")
    with client.session_transaction() as session:
        assert session["views"] == 1
        session["views"] = 10
    assert client.get("/").text == "11 views"


def test_session_transaction_new_session_gets_its_id_in_the_request_context() -> None:
    # genid runs while a new session loads: for the session that
    # session_transaction() yields, inside the context it was opened in.
    seen: list[str] = []

    def genid(request: flask.Request) -> str:
        seen.append(flask.request.path)
        assert request.path == "/somewhere"
        return f"id-{len(seen)}"

    client = make_app(store=RecordingStore(), genid=genid).test_client()
    with client.session_transaction("/somewhere") as session:
        session["views"] = 4
        assert seen == ["/somewhere"]
    assert client.get("/").text == "5 views"


# -- errors in the view --------------------------------------------------------


def test_session_is_saved_when_the_view_aborts() -> None:
    # koa test "when an error is thrown downstream and caught upstream should
    # still save the session" (cookie mode)
    app = make_app()

    @_route(app, "/fail")
    def fail() -> str:
        flask.session["name"] = "funny"
        flask.abort(401)

    client = app.test_client()
    assert client.get("/fail").status_code == 401
    assert client.get("/get").json == {"name": "funny"}


# -- Flask-Login ---------------------------------------------------------------


class User(flask_login.UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def _login_app() -> flask.Flask:
    app = make_app()
    manager = flask_login.LoginManager(app)
    users = {"1": User("1"), "2": User("2")}

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        return users.get(user_id)

    @app.post("/login/<user_id>")
    def login(user_id: str) -> str:
        remember = flask.request.args.get("remember") == "1"
        flask_login.login_user(users[user_id], remember=remember)
        return "logged in"

    @_route(app, "/private")
    @flask_login.login_required
    def private() -> str:
        return f"hello {flask_login.current_user.id}"

    @_route(app, "/logout")
    def logout() -> str:
        flask_login.logout_user()
        return "logged out"

    return app


def test_flask_login_over_several_requests() -> None:
    client = _login_app().test_client()
    assert client.get("/private").status_code == 401

    response = client.post("/login/1")
    payload = _payload(response)
    assert payload["_user_id"] == "1"
    assert payload["_fresh"] is True
    assert "_id" in payload

    for _ in range(3):
        response = client.get("/private")
        assert response.text == "hello 1"
    with client.session_transaction() as session:
        assert session["_user_id"] == "1"
        assert session["_fresh"] is True

    # The view counter and the login live side by side.
    assert client.get("/").text == "1 views"
    assert client.get("/private").text == "hello 1"

    assert client.get("/logout").text == "logged out"
    assert client.get("/private").status_code == 401
    session_data = client.get("/get").json
    assert "_user_id" not in session_data
    assert session_data["views"] == 1


def test_flask_login_remember_me_uses_an_after_request_write() -> None:
    # Flask-Login's after_request pops "_remember" from the session and sets its
    # own cookie: that write must be saved too.
    client = _login_app().test_client()
    response = client.post("/login/2?remember=1")
    assert "remember_token" in set_cookies(response)
    assert "_remember" not in _payload(response)
    assert client.get("/private").text == "hello 2"


# -- the seed's complete example -----------------------------------------------


def seed_app() -> flask.Flask:
    """koa-session's introduction, "Complete Example", in Flask."""
    app = flask.Flask(__name__)
    app.secret_key = SECRET  # the seed's app.keys: "your-session-secret"
    app.config["TESTING"] = True
    KoaSession(
        app,
        key="koa:sess",
        max_age=86400000,
        auto_commit=True,
        overwrite=True,
        http_only=True,
        signed=True,
        rolling=False,
        renew=False,
        secure=False,
    )
    session = flask.session

    @app.get("/")
    def views() -> str:
        n = session.get("views", 0) + 1
        session["views"] = n
        return f"{n} views"

    @app.get("/set")
    def set_user() -> str:
        session["userId"] = "1234"
        return "UserId set in session"

    @app.get("/get")
    def get_user() -> str:
        return f"User ID: {session.get('userId', 'undefined')}"

    @app.get("/logout")
    def logout() -> str:
        session.destroy()
        return "Session Destroyed"

    @app.get("/flash")
    def flash() -> flask.Response:
        session["flash"] = "Flash Message Example"
        return flask.redirect("/")

    @app.get("/show-flash")
    def show_flash() -> str:
        message = session.get("flash")
        session["flash"] = None
        return message or "No Flash Message"

    return app


def test_seed_complete_example() -> None:
    client = seed_app().test_client()

    response = client.get("/")
    assert response.text == "1 views"
    # ':' is a token character: the cookie is named exactly as in Koa.
    assert set(set_cookies(response)) == {"koa:sess", "koa:sess.sig"}
    value = cookie_value(response, "koa:sess")
    assert value is not None
    assert cookie_value(response, "koa:sess.sig") == sign(value, name="koa:sess")
    assert client.get("/").text == "2 views"

    assert client.get("/get").text == "User ID: undefined"
    assert client.get("/set").text == "UserId set in session"
    assert client.get("/get").text == "User ID: 1234"

    response = client.get("/flash", follow_redirects=True)
    assert response.text == "3 views"
    assert client.get("/show-flash").text == "Flash Message Example"
    assert client.get("/show-flash").text == "No Flash Message"

    response = client.get("/logout")
    assert response.text == "Session Destroyed"
    assert cookie_value(response, "koa:sess") == ""
    assert client.get("/get").text == "User ID: undefined"
    assert client.get("/").text == "1 views"


def test_seed_example_reads_a_cookie_written_by_koa() -> None:
    client = seed_app().test_client()
    value, signature = koa_cookie({"views": 10, "userId": "1234"}, name="koa:sess")
    client.set_cookie("koa:sess", value)
    client.set_cookie("koa:sess.sig", signature)
    assert client.get("/get").text == "User ID: 1234"
    assert client.get("/").text == "11 views"
