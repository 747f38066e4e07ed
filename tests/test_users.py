"""A user's sessions (``user_id_key``): listed, ended one by one or all at
once, in store mode and in cookie mode; and the absolute lifetime."""

from __future__ import annotations

import typing as t

import flask
import pytest
from flask.testing import FlaskClient

from flask_koasession import KoaSession, session_invalid, session_revoked
from flask_koasession.cli import koa_session_cli
from flask_koasession.stores import MemoryStore
from tests.helpers import (
    SECRET,
    RecordingStore,
    cookie_value,
    decode_cookie,
    freeze_clock,
    koa_cookie,
    listen_to,
)

#: The browsers of the tests, by their user agent.
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) Mobile Safari"


class Site(t.NamedTuple):
    app: flask.Flask
    koa: KoaSession
    store: MemoryStore


def site(mode: str, **options: t.Any) -> Site:
    """An app whose users log in as ``/login/<name>`` (the session key
    ``userId``, as in koa-session's introduction)."""
    store = MemoryStore()
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    app.config["TESTING"] = True
    if mode == "store":
        options["store"] = store
    else:
        options["registry"] = store  # cookie mode: the index lives here
    koa = KoaSession(app, user_id_key="userId", **options)

    @app.get("/login/<name>")
    def login(name: str) -> str:
        flask.session.regenerate()  # type: ignore[attr-defined]
        flask.session["userId"] = name
        return "ok"

    @app.get("/me")
    def me() -> t.Any:
        return {"user": flask.session.get("userId")}

    @app.get("/count")
    def count() -> str:
        flask.session["n"] = flask.session.get("n", 0) + 1
        return str(flask.session["n"])

    @app.get("/logout")
    def logout() -> str:
        flask.session.destroy()  # type: ignore[attr-defined]
        return "ok"

    @app.get("/devices")
    def devices() -> t.Any:
        mine = koa.sessions_of(flask.session["userId"])
        return [[s.handle, s.user_agent, s.current] for s in mine]

    @app.get("/log-out-others")
    def log_out_others() -> str:
        return str(koa.revoke_user(flask.session["userId"], keep_current=True))

    return Site(app, koa, store)


def browser(app: flask.Flask, agent: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    return client


MODES = ["store", "cookie"]


@pytest.mark.parametrize("mode", MODES)
def test_two_browsers_are_listed_with_their_user_agents(mode: str) -> None:
    s = site(mode)
    laptop, phone = browser(s.app, FIREFOX), browser(s.app, PHONE)
    laptop.get("/login/ann")
    phone.get("/login/ann")
    browser(s.app, "curl/8").get("/login/bob")  # another user
    with s.app.app_context():
        listed = s.koa.sessions_of("ann")
    assert sorted(session.user_agent or "" for session in listed) == [
        FIREFOX,
        PHONE,
    ]
    assert all(not session.current for session in listed)  # no request here
    assert all(session.created_at for session in listed)
    assert all(session.last_seen for session in listed)
    assert all(session.expires_at for session in listed)
    assert all(session.ip is None for session in listed)  # track_ip is off
    # In a request, the caller's own session is marked.
    [[_, agent, current]] = [row for row in laptop.get("/devices").json if row[2]]
    assert (agent, current) == (FIREFOX, True)


@pytest.mark.parametrize("mode", MODES)
def test_the_handle_is_never_the_session_id(mode: str) -> None:
    s = site(mode)
    laptop = browser(s.app, FIREFOX)
    response = laptop.get("/login/ann")
    with s.app.app_context():
        [listed] = s.koa.sessions_of("ann")
    value = cookie_value(response) or ""
    assert listed.handle not in value or mode == "cookie"
    if mode == "store":
        assert listed.handle != value
    # Used as a cookie, a handle opens nothing.
    stranger = s.app.test_client()
    stranger.set_cookie("koa.sess", listed.handle)
    assert stranger.get("/me").json == {"user": None}


@pytest.mark.parametrize("mode", MODES)
def test_revoking_one_logs_out_that_browser_only(mode: str) -> None:
    s = site(mode)
    laptop, phone = browser(s.app, FIREFOX), browser(s.app, PHONE)
    laptop.get("/login/ann")
    phone.get("/login/ann")
    with s.app.app_context():
        [phone_session] = [
            found for found in s.koa.sessions_of("ann") if found.user_agent == PHONE
        ]
        with listen_to(session_revoked) as revoked:
            assert s.koa.revoke(phone_session.handle) is True
            assert s.koa.revoke(phone_session.handle) is False  # already ended
    revoked.assert_sent_once(s.app, user_id="ann", handles=[phone_session.handle])
    assert phone.get("/me").json == {"user": None}
    assert laptop.get("/me").json == {"user": "ann"}
    with s.app.app_context():
        assert [found.user_agent for found in s.koa.sessions_of("ann")] == [FIREFOX]


@pytest.mark.parametrize("mode", MODES)
def test_a_copied_cookie_is_revoked_with_its_session(mode: str) -> None:
    # The pentest finding: a cookie copied before the logout still worked.
    s = site(mode)
    laptop = browser(s.app, FIREFOX)
    laptop.get("/login/ann")
    copied = {name: laptop.get_cookie(name) for name in ("koa.sess", "koa.sess.sig")}
    with s.app.app_context():
        assert s.koa.revoke_user("ann") == 1
    thief = s.app.test_client()
    for name, cookie in copied.items():
        assert cookie is not None
        thief.set_cookie(name, cookie.value)
    with listen_to(session_invalid) as invalid:
        assert thief.get("/me").json == {"user": None}
    if mode == "cookie":
        [call] = invalid.calls
        assert call[1]["reason"] == "revoked"


@pytest.mark.parametrize("mode", MODES)
def test_a_logout_ends_the_session_in_the_index(mode: str) -> None:
    s = site(mode)
    laptop = browser(s.app, FIREFOX)
    laptop.get("/login/ann")
    copied = laptop.get_cookie("koa.sess")
    copied_sig = laptop.get_cookie("koa.sess.sig")
    laptop.get("/logout")
    with s.app.app_context():
        assert s.koa.sessions_of("ann") == []
    thief = s.app.test_client()
    assert copied is not None
    assert copied_sig is not None
    thief.set_cookie("koa.sess", copied.value)
    thief.set_cookie("koa.sess.sig", copied_sig.value)
    assert thief.get("/me").json == {"user": None}


@pytest.mark.parametrize("mode", MODES)
def test_log_out_everywhere_but_here(mode: str) -> None:
    s = site(mode)
    laptop, phone, tablet = (browser(s.app, agent) for agent in (FIREFOX, PHONE, "T"))
    for client in (laptop, phone, tablet):
        client.get("/login/ann")
    with listen_to(session_revoked) as revoked:
        assert laptop.get("/log-out-others").text == "2"
    assert len(revoked.calls[0][1]["handles"]) == 2
    assert laptop.get("/me").json == {"user": "ann"}
    assert phone.get("/me").json == {"user": None}
    assert tablet.get("/me").json == {"user": None}


@pytest.mark.parametrize("mode", MODES)
def test_a_login_as_another_user_moves_the_session(mode: str) -> None:
    s = site(mode)
    laptop = browser(s.app, FIREFOX)
    laptop.get("/login/ann")
    laptop.get("/login/bob")
    with s.app.app_context():
        assert s.koa.sessions_of("ann") == []
        [bobs] = s.koa.sessions_of("bob")
    assert bobs.user_agent == FIREFOX


def test_a_revoked_session_stays_revoked_against_a_late_save() -> None:
    # Store mode: a request that loaded the session before it was revoked
    # saves after: its merged save is dropped, and the index is not filled
    # again. (Pending requests, as in test_merged_saves.)
    s = site("store")
    laptop = browser(s.app, FIREFOX)
    laptop.get("/login/ann")
    cookie = laptop.get_cookie("koa.sess")
    assert cookie is not None
    with s.app.test_request_context(
        "/count", headers={"Cookie": f"koa.sess={cookie.value}", "User-Agent": "x"}
    ) as pending:
        # Load now, with the signed cookie of the laptop.
        signature = laptop.get_cookie("koa.sess.sig")
        assert signature is not None
        pending.request.environ["HTTP_COOKIE"] = (
            f"koa.sess={cookie.value}; koa.sess.sig={signature.value}"
        )
        flask.session["n"] = 1
        assert flask.session["userId"] == "ann"
        with s.app.app_context():
            assert s.koa.revoke_user("ann") == 1
        response = s.app.make_response("late")
        s.app.session_interface.save_session(s.app, flask.session, response)
    assert "koa.sess=" not in " ".join(response.headers.getlist("Set-Cookie"))
    with s.app.app_context():
        assert s.koa.sessions_of("ann") == []
    assert laptop.get("/me").json == {"user": None}


@pytest.mark.parametrize("mode", MODES)
def test_last_seen_is_written_at_most_once_a_minute(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = freeze_clock(monkeypatch)
    s = site(mode)
    laptop = browser(s.app, FIREFOX)
    laptop.get("/login/ann")

    def last_seen() -> t.Any:
        with s.app.app_context():
            [found] = s.koa.sessions_of("ann")
        return found.last_seen

    first = last_seen()
    clock[0] += 30_000
    laptop.get("/me")
    assert last_seen() == first  # half a minute: not written
    clock[0] += 31_000
    laptop.get("/me")
    assert last_seen() is not None
    assert last_seen() > first


def test_track_ip_keeps_the_address() -> None:
    s = site("store", track_ip=True)
    client = s.app.test_client()
    client.get("/login/ann", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    with s.app.app_context():
        [found] = s.koa.sessions_of("ann")
    assert found.ip == "203.0.113.7"


def test_user_id_key_without_a_place_for_the_index_is_a_set_up_error() -> None:
    with pytest.raises(ValueError, match=r"user_id_key='userId'.*registry="):
        KoaSession(flask.Flask("x"), user_id_key="userId")
    with pytest.raises(TypeError, match="SessionIndex"):
        KoaSession(flask.Flask("x"), user_id_key="userId", registry=RecordingStore())
    with pytest.raises(ValueError, match="store has no SessionIndex"):
        KoaSession(flask.Flask("x"), user_id_key="userId", store=RecordingStore())


def test_sessions_of_without_the_option_says_what_to_set() -> None:
    app = flask.Flask("x")
    app.secret_key = SECRET
    koa = KoaSession(app)
    with app.app_context(), pytest.raises(RuntimeError, match="user_id_key"):
        koa.sessions_of("ann")


def test_the_cli_lists_and_revokes() -> None:
    s = site("store")
    browser(s.app, FIREFOX).get("/login/ann")
    phone = browser(s.app, PHONE)
    phone.get("/login/ann")
    runner = s.app.test_cli_runner()
    listed = runner.invoke(koa_session_cli, ["sessions", "ann"])
    assert listed.exit_code == 0, listed.output
    assert "HANDLE" in listed.output
    assert FIREFOX[:40] in listed.output
    assert PHONE[:40] in listed.output
    with s.app.app_context():
        [phone_session] = [
            found for found in s.koa.sessions_of("ann") if found.user_agent == PHONE
        ]
    wrong = runner.invoke(
        koa_session_cli, ["revoke", "bob", "--handle", phone_session.handle]
    )
    assert wrong.exit_code != 0
    assert "No active session" in wrong.output
    one = runner.invoke(
        koa_session_cli, ["revoke", "ann", "--handle", phone_session.handle]
    )
    assert one.exit_code == 0
    assert "Ended 1 session" in one.output
    assert phone.get("/me").json == {"user": None}
    every = runner.invoke(koa_session_cli, ["revoke", "ann", "--all"])
    assert every.exit_code == 0
    assert "Ended 1 session" in every.output
    neither = runner.invoke(koa_session_cli, ["revoke", "ann"])
    assert neither.exit_code != 0
    empty = runner.invoke(koa_session_cli, ["sessions", "ann"])
    assert "No active session" in empty.output


def test_a_user_agent_with_markup_is_kept_as_text() -> None:
    s = site("store")
    browser(s.app, "<script>alert(1)</script>").get("/login/ann")
    with s.app.app_context():
        [found] = s.koa.sessions_of("ann")
    assert found.user_agent == "<script>alert(1)</script>"


# -- absolute_max_age ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["store", "cookie"])
def test_a_rolling_session_ends_at_its_absolute_age(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = freeze_clock(monkeypatch)
    store = MemoryStore() if mode == "store" else None
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    KoaSession(app, store=store, rolling=True, max_age=3600, absolute_max_age=7200)

    @app.get("/count")
    def count() -> str:
        flask.session["n"] = flask.session.get("n", 0) + 1
        return str(flask.session["n"])

    @app.get("/login")
    def login() -> str:
        flask.session.regenerate()  # type: ignore[attr-defined]
        flask.session["n"] = 100
        return "ok"

    client = app.test_client()
    assert client.get("/count").text == "1"
    for _ in range(3):  # active every 40 minutes: rolling keeps it alive...
        clock[0] += 40 * 60_000
        client.get("/count")
    clock[0] += 30 * 60_000  # 2 h 30 after its creation
    assert client.get("/count").text == "1"  # ...until its absolute age


def test_regenerate_keeps_the_creation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = freeze_clock(monkeypatch)
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    KoaSession(app, rolling=True, max_age=3600, absolute_max_age=3600 * 2)

    @app.get("/n")
    def n() -> str:
        flask.session["n"] = flask.session.get("n", 0) + 1
        return str(flask.session["n"])

    @app.get("/login")
    def login() -> str:
        flask.session.regenerate()  # type: ignore[attr-defined]
        return "ok"

    @app.get("/logout-login")
    def logout_login() -> str:
        flask.session.destroy()  # type: ignore[attr-defined]
        flask.session["n"] = 1
        return "ok"

    client = app.test_client()
    client.get("/n")
    created = decode_cookie(cookie_value(client.get("/n")) or "")["$created"]
    clock[0] += 50 * 60_000
    client.get("/login")  # a login does not reset it
    clock[0] += 50 * 60_000
    assert client.get("/n").text == "3"
    clock[0] += 30 * 60_000  # 2 h 10 after creation
    assert client.get("/n").text == "1"
    # Destroyed first: a new session, a new creation time.
    response = client.get("/logout-login")
    assert decode_cookie(cookie_value(response) or "")["$created"] > created


def test_absolute_max_age_is_seconds_or_timedelta() -> None:
    with pytest.raises(ValueError, match="absolute_max_age='session'"):
        KoaSession(flask.Flask("x"), absolute_max_age="session")
    app = flask.Flask("x")
    KoaSession(app, absolute_max_age=86_400)
    assert app.extensions["koasession"].options.absolute_max_age == 86_400_000


# -- found in review -------------------------------------------------------------


@pytest.mark.parametrize("options", [{"absolute_max_age": 3600}, {}])
def test_a_browser_session_cookie_with_own_keys_saves(
    options: dict[str, t.Any],
) -> None:
    # {"_session": true, "$created": ...} took the two-field fast path of
    # the bookkeeping: a KeyError, a 500 on every save.
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    KoaSession(
        app, max_age="session", user_id_key="userId", registry=MemoryStore(), **options
    )

    @app.get("/")
    def index() -> str:
        flask.session["n"] = 1
        return "ok"

    response = app.test_client().get("/")
    assert response.status_code == 200
    assert decode_cookie(cookie_value(response) or "")["_session"] is True


def test_revoke_follows_a_session_a_login_moved() -> None:
    # The index's record still names the old id (the login's index write
    # had not run yet): the revoke follows the way to the new entry.
    from flask_koasession import merging
    from flask_koasession.users import Revoker

    store = MemoryStore()
    store.set("new-id", {"userId": "ann", "_maxAge": 3_600_000}, 3_610_000,
              rolling=False, changed=True)  # fmt: skip
    merging._mark_moved(store, "old-id", "new-id")
    store.index_session("ann", "h1", {"store_id": "old-id"}, 3600)
    assert Revoker(store, store, 3_600_000).revoke("h1") == "ann"
    assert store.get("new-id", 3_600_000, rolling=False) is None
    assert store.user_of("h1") is None


def test_a_save_of_a_session_revoked_meanwhile_is_taken_back() -> None:
    # Cookie mode: the request loaded the session, then revoke_user ended it,
    # then the request saved: its cookie does not carry the session on.
    s = site("cookie")

    @s.app.get("/slow-write")
    def slow_write() -> str:
        flask.session["n"] = 1  # loads it
        with s.app.app_context():
            s.koa.revoke_user("ann")  # another request, meanwhile
        return "ok"

    laptop = browser(s.app, FIREFOX)
    laptop.get("/login/ann")
    laptop.get("/slow-write")
    # Whatever cookie that response carried, its handle is ended: the next
    # request is anonymous, on any worker.
    assert laptop.get("/me").json == {"user": None}


def test_revoke_with_a_user_ends_only_that_user_s_session() -> None:
    s = site("store")
    browser(s.app, FIREFOX).get("/login/ann")
    with s.app.app_context():
        [anns] = s.koa.sessions_of("ann")
        assert s.koa.revoke(anns.handle, user_id="bob") is False
        assert s.koa.revoke(anns.handle, user_id="ann") is True


def test_a_cookie_with_a_user_and_no_handle_is_refused_in_cookie_mode() -> None:
    # It could never be revoked, and each replay would get a new handle.
    s = site("cookie")
    value, signature = koa_cookie({"userId": "ann"})
    client = s.app.test_client()
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)
    with listen_to(session_invalid) as invalid:
        assert client.get("/me").json == {"user": None}
    assert invalid.calls[0][1]["reason"] == "revoked"


def test_a_short_rolling_session_stays_indexed_while_in_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The index record lives a max age; last_seen is written twice a max
    # age when that is under two minutes, so it never lapses in use.
    clock = freeze_clock(monkeypatch)
    store = MemoryStore(clock=lambda: clock[0] / 1000)
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    KoaSession(app, user_id_key="userId", registry=store, max_age=30, rolling=True)

    @app.get("/login")
    def login() -> str:
        flask.session["userId"] = "ann"
        return "ok"

    @app.get("/me")
    def me() -> t.Any:
        return {"user": flask.session.get("userId")}

    client = app.test_client()
    client.get("/login")
    for _ in range(4):
        clock[0] += 25_000
        assert client.get("/me").json == {"user": "ann"}
