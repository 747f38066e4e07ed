"""What the end of a request writes: change detection, save, regenerate,
destroy, auto_commit, rolling and renew, and a view that fails."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import typing as t

import flask
import markupsafe
import pytest

from flask_koasession import KoaSession, signals
from flask_koasession.stores import MemoryStore
from tests.helpers import (
    EPOCH,
    cookie_value,
    decode_cookie,
    koa_cookie,
    listen_to,
    make_app,
    payload_of,
    route,
    set_cookie_headers,
    set_cookies,
    short_max_age,
    sign,
)

# -- change detection ----------------------------------------------------------


#: A day in milliseconds.
DAY = 86_400_000


class Name(enum.StrEnum):
    ANN = "ann"


def test_flat_data_unchanged_only_when_its_text_is() -> None:
    # A session of immutable values is found unchanged by identity, without
    # serializing it; anything that changes its text is still a change.
    app = make_app()

    @route(app, "/init")
    def init() -> str:
        flask.session.update(count=1, name="ann", flag=True, ratio=0.0)
        return "ok"

    changes: dict[str, t.Callable[[flask.sessions.SessionMixin], None]] = {
        "same-object": lambda s: s.__setitem__("count", s["count"]),
        "equal-value": lambda s: s.__setitem__("count", 1),
        "int-to-float": lambda s: s.__setitem__("count", 1.0),
        "int-to-bool": lambda s: s.__setitem__("count", True),
        "equal-float": lambda s: s.__setitem__("ratio", float("0")),
        "negative-zero": lambda s: s.__setitem__("ratio", -0.0),
        "to-list": lambda s: s.__setitem__("count", [1]),
        "str-to-markup": lambda s: s.__setitem__("name", markupsafe.Markup("ann")),
        "str-to-str-enum": lambda s: s.__setitem__("name", Name.ANN),
        "reordered": lambda s: s.__setitem__("count", s.pop("count")),
        "deleted": lambda s: s.pop("flag"),
        "added": lambda s: s.__setitem__("extra", None),
        "reserved-key": lambda s: s.__setitem__("_expire", 5),
    }
    saved = {}
    for name, change in changes.items():

        def view(change: t.Any = change) -> str:
            change(flask.session)
            return "ok"

        app.add_url_rule(f"/{name}", name, view)
    for name in changes:
        client = app.test_client()
        client.get("/init")
        response = client.get(f"/{name}")
        saved[name] = cookie_value(response) is not None
        assert flask.json.loads(client.get("/get").data) is not None
    assert saved == {
        "same-object": False,
        "equal-value": False,  # the same text: 1 is 1 in JSON
        "int-to-float": True,  # 1.0
        "int-to-bool": True,  # true
        "equal-float": False,
        "negative-zero": True,  # -0.0 == 0.0, but the text differs
        "to-list": True,
        "str-to-markup": True,  # tagged
        "str-to-str-enum": False,  # written "ann", as loaded
        "reordered": True,  # koa compares the text: the order is in it
        "deleted": True,
        "added": True,
        "reserved-key": False,  # bookkeeping keys are never data
    }


def test_nested_mutations_are_saved_without_modified() -> None:
    app = make_app()

    @route(app, "/init")
    def init() -> str:
        flask.session["cart"] = {"items": [], "meta": {"count": 0}}
        return "ok"

    @route(app, "/add")
    def add() -> str:
        cart = flask.session["cart"]
        cart["items"].append(len(cart["items"]) + 1)
        cart["meta"]["count"] += 1
        # Reported as a change (Flask's meaning), never needed to save it.
        assert flask.session.modified is True
        return "ok"

    @route(app, "/list-of-dicts")
    def list_of_dicts() -> str:
        flask.session["cart"]["items"] = [{"n": 1}]
        return "ok"

    @route(app, "/edit-inner")
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
    assert payload_of(response)["cart"]["items"] == [{"n": 2}]


def test_reading_nested_data_saves_nothing() -> None:
    app = make_app()

    @route(app, "/init")
    def init() -> str:
        flask.session["cart"] = {"items": [1, 2]}
        return "ok"

    @route(app, "/read")
    def read() -> str:
        return str(sum(flask.session["cart"]["items"]))

    client = app.test_client()
    client.get("/init")
    response = client.get("/read")
    assert response.text == "3"
    assert set_cookie_headers(response) == []


@pytest.mark.parametrize("store", [None, "memory"])
def test_an_emptied_session_is_removed(store: str | None) -> None:
    # As Flask does (Flask-Login's and Flask-Security's logouts pop every
    # key): the cookie pair expired, the store entry deleted, a signal sent.
    app = make_app(store=store)

    @route(app, "/empty")
    def empty() -> str:
        flask.session.clear()
        return "ok"

    client = app.test_client()
    client.get("/")
    entry_id = client.get_cookie("koa.sess")
    assert entry_id is not None
    with listen_to(signals.session_destroyed) as destroyed:
        response = client.get("/empty")
    headers = set_cookie_headers(response)
    assert headers[0].startswith("koa.sess=;")
    assert all(f"expires={EPOCH}" in h for h in headers), headers
    assert client.get_cookie("koa.sess") is None
    if store is None:
        destroyed.assert_sent_once(app, key=None)
    else:
        destroyed.assert_sent_once(app, key=entry_id.value)
        memory = app.extensions["koasession"].options.store
        assert memory.get(entry_id.value, DAY, rolling=False) is None
    assert client.get("/get").json == {}


def test_an_emptied_session_is_saved_empty_with_remove_empty_off() -> None:
    # koa: a loaded session has a hash, so becoming empty is a change that is
    # saved (an empty payload), not a removal.
    app = make_app(remove_empty=False)

    @route(app, "/empty")
    def empty() -> str:
        flask.session.clear()
        return "ok"

    client = app.test_client()
    client.get("/")
    response = client.get("/empty")
    assert set(payload_of(response)) == {"_expire", "_maxAge"}
    assert client.get("/get").json == {}


def test_a_new_session_emptied_again_is_not_saved() -> None:
    app = make_app()

    @route(app, "/set-and-unset")
    def set_and_unset() -> str:
        flask.session["a"] = 1
        del flask.session["a"]
        return "ok"

    assert set_cookie_headers(app.test_client().get("/set-and-unset")) == []


def test_setting_the_same_value_again_is_no_change() -> None:
    client = make_app().test_client()
    client.get("/set?a=1")
    assert set_cookie_headers(client.get("/set?a=1")) == []


def test_modified_forces_a_save_of_an_unchanged_session(clock: list[int]) -> None:
    app = make_app()

    @route(app, "/force")
    def force() -> str:
        value = flask.session.get("views")
        flask.session.modified = True
        return str(value)

    client = app.test_client()
    client.get("/")
    clock[0] += 1000
    response = client.get("/force")
    assert response.text == "1"
    assert payload_of(response)["_expire"] == clock[0] + 86_400_000


def test_modified_alone_forces_a_save(clock: list[int]) -> None:
    # api.md: "Flask's session.modified still forces a save", even when it is
    # the only thing the view does with the session.
    app = make_app()

    @route(app, "/force-only")
    def force_only() -> str:
        flask.session.modified = True
        return "forced"

    client = app.test_client()
    client.get("/")
    clock[0] += 1000
    response = client.get("/force-only")
    assert payload_of(response) == {
        "views": 1,
        "_expire": clock[0] + 86_400_000,
        "_maxAge": 86_400_000,
    }


# -- save, regenerate, destroy -------------------------------------------------


def test_save_forces_a_save_of_a_new_empty_session() -> None:
    # koa test "session .save() should save session"
    response = make_app().test_client().get("/save")
    assert response.text == "saved"
    payload = payload_of(response)
    assert set(payload) == {"_expire", "_maxAge"}


def test_save_forces_a_save_of_an_unchanged_session(clock: list[int]) -> None:
    client = make_app().test_client()
    client.get("/")
    clock[0] += 5000
    response = client.get("/save")
    assert payload_of(response)["_expire"] == clock[0] + 86_400_000


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
    assert payload_of(response)["views"] == 1
    assert cookie_value(response, "koa.sess.sig") == sign(value)
    assert first is not None
    assert client.get("/touch").text == "1"


def test_regenerate_without_overwrite_sends_removal_and_new_cookie() -> None:
    # koa sets both through ``cookies.set`` with ``overwrite: false``: the
    # removal pair, then the new pair, in that order.
    client = make_app(overwrite=False).test_client()
    client.get("/")
    headers = set_cookie_headers(client.get("/regenerate"))
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
    for header in set_cookie_headers(response):
        assert EPOCH in header
        assert "path=/" in header.lower()
    assert client.get("/touch").text == "None"
    assert client.get("/").text == "1 views"


def test_path_none_sends_no_path_attribute() -> None:
    # koa's cookies module writes "; path=..." only when a path is set. This
    # wrote "path=None", a path browsers ignore for the request's directory:
    # one session per directory, lost on every other page.
    client = make_app(path=None).test_client()
    for response in (client.get("/"), client.get("/destroy")):
        headers = set_cookie_headers(response)
        assert len(headers) == 2
        for header in headers:
            assert "path=" not in header.lower(), header


def test_destroy_deletes_the_entry_even_when_the_later_data_cannot_be_saved() -> None:
    # The logout is carried out before the save that fails: the error is a
    # 500, but the session that came in is gone.
    store = MemoryStore()
    app = make_app(store=store)

    @route(app, "/logout-then-junk")
    def logout_then_junk() -> str:
        flask.session.destroy()
        flask.session["x"] = object()
        return "out"

    client = app.test_client()
    client.get("/")
    cookie = client.get_cookie("koa.sess")
    assert cookie is not None
    assert store.get(cookie.value, DAY, rolling=False) is not None
    with pytest.raises(TypeError):
        client.get("/logout-then-junk")
    assert store.get(cookie.value, DAY, rolling=False) is None


def test_a_failed_save_after_destroy_still_expires_the_cookies() -> None:
    # Cookie mode: the logout is the expired pair. Flask throws the
    # response away for a 500 when the save fails; the 500 carries it.
    app = make_app()
    app.config["TESTING"] = False

    @route(app, "/logout-then-junk")
    def logout_then_junk() -> str:
        flask.session.destroy()
        flask.session["x"] = object()
        return "out"

    client = app.test_client()
    client.get("/")
    response = client.get("/logout-then-junk")
    assert response.status_code == 500
    removed = {
        header.split("=", 1)[0]: header for header in set_cookie_headers(response)
    }
    assert set(removed) == {"koa.sess", "koa.sess.sig"}
    assert all(EPOCH in header for header in removed.values())
    assert client.get_cookie("koa.sess") is None


def test_an_int_key_where_an_equal_str_key_was_is_no_change() -> None:
    app = make_app()

    @route(app, "/seed-key")
    def seed_key() -> str:
        flask.session["1"] = "x"
        return "ok"

    @route(app, "/int-key")
    def int_key() -> str:
        del flask.session["1"]
        flask.session[1] = "x"  # type: ignore[index]  # written "1", as loaded
        return str(flask.session.modified)

    client = app.test_client()
    client.get("/seed-key")
    response = client.get("/int-key")
    assert response.text == "False"
    assert set_cookie_headers(response) == []


def test_destroy_a_session_that_did_not_exist_still_removes_cookies() -> None:
    # koa test "when session is null should expire the session"
    response = make_app().test_client().get("/destroy")
    assert cookie_value(response) == ""


def test_writing_after_destroy_starts_a_new_session() -> None:
    app = make_app()

    @route(app, "/logout-and-mark")
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
    assert {k: v for k, v in payload_of(response).items() if k[0] != "_"} == {
        "fresh": True
    }
    assert client.get("/get").json == {"fresh": True}


# -- auto_commit ---------------------------------------------------------------


def _commit_app(**options: t.Any) -> flask.Flask:
    app = make_app(auto_commit=False, **options)

    @route(app, "/commit")
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
    assert set_cookie_headers(response) == []
    assert client.get("/").text == "1 views"


def test_auto_commit_false_with_manually_commit() -> None:
    # koa test "should set headers if manuallyCommit() is called"
    client = _commit_app().test_client()
    response = client.get("/commit")
    assert payload_of(response)["message"] == "dummy"
    assert response.headers["Vary"] == "Cookie"
    assert client.get("/get").json == {"message": "dummy"}


def test_manually_commit_before_writing_keeps_the_later_writes() -> None:
    app = make_app(autoCommit=False)

    @route(app, "/commit-first")
    def commit_first() -> str:
        flask.session.manually_commit()
        flask.session["late"] = 1
        return "ok"

    response = app.test_client().get("/commit-first")
    assert payload_of(response)["late"] == 1


# -- rolling, renew, expiry ----------------------------------------------------


@short_max_age
def test_rolling_resends_an_unchanged_session(clock: list[int]) -> None:
    client = make_app(rolling=True, maxAge=10_000).test_client()
    client.get("/")
    clock[0] += 4000
    response = client.get("/touch")
    assert set(set_cookies(response)) == {"koa.sess", "koa.sess.sig"}
    assert payload_of(response) == {
        "views": 1,
        "_expire": clock[0] + 10_000,
        "_maxAge": 10_000,
    }


def test_rolling_does_not_create_a_session(clock: list[int]) -> None:
    # koa test "when rolling set to true should not send set-cookie when
    # session not exists"
    client = make_app(rolling=True).test_client()
    assert set_cookie_headers(client.get("/touch")) == []
    assert set_cookie_headers(client.get("/nothing")) == []


@short_max_age
def test_rolling_keeps_a_session_alive_past_its_first_max_age(
    clock: list[int],
) -> None:
    client = make_app(rolling=True, maxAge=10_000).test_client()
    client.get("/")
    for _ in range(5):
        clock[0] += 6000
        assert client.get("/touch").text == "1"


@short_max_age
def test_without_rolling_a_session_expires(clock: list[int]) -> None:
    client = make_app(maxAge=10_000).test_client()
    client.get("/")
    clock[0] += 6000
    assert set_cookie_headers(client.get("/touch")) == []
    clock[0] += 4001
    assert client.get("/touch").text == "None"


@short_max_age
def test_expiry_boundary(clock: list[int]) -> None:
    # koa: expired when ``_expire < Date.now()``; at ``_expire`` it is still valid.
    client = make_app(maxAge=10_000).test_client()
    client.get("/")
    expire = clock[0] + 10_000
    clock[0] = expire
    assert client.get("/touch").text == "1"
    clock[0] = expire + 1
    assert client.get("/touch").text == "None"


@short_max_age
def test_renew_only_in_the_second_half(clock: list[int]) -> None:
    # koa tests "when renew set to true" (maxAge 2000; 500 ms, then 1200 ms)
    client = make_app(renew=True, maxAge=2000).test_client()
    assert set_cookie_headers(client.get("/touch")) == []
    client.get("/")
    start = clock[0]
    clock[0] = start + 500
    assert set_cookie_headers(client.get("/touch")) == []
    clock[0] = start + 1200
    response = client.get("/touch")
    assert len(set_cookie_headers(response)) == 2
    assert payload_of(response)["_expire"] == clock[0] + 2000


def test_renew_never_for_a_browser_session_cookie(clock: list[int]) -> None:
    client = make_app(renew=True, max_age="session").test_client()
    client.get("/")
    clock[0] += 10**9
    response = client.get("/touch")
    assert response.text == "1"
    assert set_cookie_headers(response) == []


def test_expired_cookie_from_koa_gives_a_new_session(clock: list[int]) -> None:
    client = make_app().test_client()
    value, signature = koa_cookie({"views": 9}, expire=clock[0] - 1)
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)
    assert client.get("/").text == "1 views"


# -- errors in the view --------------------------------------------------------


def test_session_is_saved_when_the_view_aborts() -> None:
    # koa test "when an error is thrown downstream and caught upstream should
    # still save the session" (cookie mode)
    app = make_app()

    @route(app, "/fail")
    def fail() -> str:
        flask.session["name"] = "funny"
        flask.abort(401)

    client = app.test_client()
    assert client.get("/fail").status_code == 401
    assert client.get("/get").json == {"name": "funny"}


@dataclasses.dataclass
class _Point:
    x: int
    when: datetime.date


@pytest.mark.parametrize("store", [None, "memory"])
def test_values_flask_s_session_stores_are_saved_as_flask_writes_them(
    store: str | None,
) -> None:
    # A date, a Decimal, a dataclass: Flask's own session stores them (as
    # its JSON provider writes them); they were a 500 at save here.
    app = flask.Flask(__name__)
    app.secret_key = "secret"
    KoaSession(app, store=store)

    @app.get("/set")
    def set_values() -> str:
        flask.session["day"] = datetime.date(2026, 12, 7)
        flask.session["price"] = decimal.Decimal("1.50")
        flask.session["point"] = _Point(1, datetime.date(2026, 1, 1))
        return "ok"

    @app.get("/get")
    def get_values() -> t.Any:
        return dict(flask.session)

    client = app.test_client()
    assert client.get("/set").status_code == 200
    assert client.get("/get").json == {
        "day": "Mon, 07 Dec 2026 00:00:00 GMT",
        "price": "1.50",
        "point": {"x": 1, "when": "Thu, 01 Jan 2026 00:00:00 GMT"},
    }
