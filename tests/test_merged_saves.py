"""Merged saves in store mode, interleaved by hand on every built-in store.

Each :class:`Pending` request loads its session and stops, as a real
request does while its view runs; the test then decides which saves first.
The same races through real gunicorn are in ``tests/concurrency``; here
each interleaving is exact, and the outcome (entries, cookies, signals) is
checked in full.
"""

from __future__ import annotations

import typing as t
import uuid

import flask
import pytest
import redis
from werkzeug.test import EnvironBuilder

from devkit.servers import RedisServer
from flask_koasession import (
    KoaSession,
    KoaSessionDict,
    SessionContentionError,
    merging,
    signals,
)
from flask_koasession.codec import decode_payload, dumps_json
from flask_koasession.stores import MemoryStore, RedisStore, SQLAlchemyStore
from tests.helpers import SECRET, RecordingStore, listen_to

#: The Redis database of these tests (others use 0, 3, 5, 8 and 9).
REDIS_DB = 6
HOUR = 3_600_000


@pytest.fixture(params=["memory", "redis", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: t.Any) -> t.Iterator[t.Any]:
    kind = request.param
    if kind == "memory":
        yield MemoryStore()
    elif kind == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        client = redis.Redis(server.host, server.port, db=REDIS_DB)
        client.flushdb()
        yield RedisStore(client)
        client.close()
    else:
        url = (
            f"sqlite:///{tmp_path / 's.db'}"
            if kind == "sqlite"
            else request.getfixturevalue("postgres_server")
        )
        sql = SQLAlchemyStore(url, table=f"merged_{uuid.uuid4().hex[:8]}")
        yield sql
        sql.index_table.drop(sql.engine)
        sql.table.drop(sql.engine)
        sql.close()


def make_app(store: t.Any, **options: t.Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    app.config["TESTING"] = True
    KoaSession(app, store=store, maxAge=HOUR, **options)
    return app


class Pending:
    """A request of a session that has loaded it and not saved yet."""

    def __init__(self, app: flask.Flask, cookie: str = "") -> None:
        self.app = app
        headers = {"Cookie": cookie} if cookie else {}
        environ = EnvironBuilder(path="/", headers=headers).get_environ()
        with app.app_context():
            session = app.session_interface.open_session(
                app, app.request_class(environ)
            )
            assert isinstance(session, KoaSessionDict)
            self.is_new = session.is_new  # loads it
        self.session = session

    def save(self) -> flask.Response:
        """End the request: its response, session cookies included."""
        response = self.app.response_class()
        with self.app.app_context():
            self.app.session_interface.save_session(self.app, self.session, response)
        return response


def session_cookies(response: flask.Response) -> dict[str, str]:
    """The session cookies a response sets, ``name -> value``."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        name, _, value = header.split(";", 1)[0].partition("=")
        cookies[name] = value
    return cookies


def cookie_header(response: flask.Response) -> str:
    cookies = session_cookies(response)
    assert cookies.get("koa.sess"), "the response sets no session cookie"
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def new_session(app: flask.Flask, **data: t.Any) -> str:
    """Save a new session holding ``data``; the ``Cookie`` header for it."""
    request = Pending(app)
    request.session.update(data)
    return cookie_header(request.save())


def data_of(app: flask.Flask, cookie: str) -> dict[str, t.Any] | None:
    """The data a request with ``cookie`` finds; ``None`` when it finds no
    session."""
    request = Pending(app, cookie)
    return None if request.is_new else dict(request.session)


def id_of(cookie: str) -> str:
    return cookie.split(";")[0].partition("=")[2]


# -- keys of concurrent requests ------------------------------------------------


def test_requests_changing_different_keys_keep_both(store: t.Any) -> None:
    app = make_app(store)
    cookie = new_session(app, cart="apple")
    first, second = Pending(app, cookie), Pending(app, cookie)
    first.session["theme"] = "dark"
    second.session["lang"] = "fr"
    assert session_cookies(first.save())["koa.sess"] == id_of(cookie)
    assert session_cookies(second.save())["koa.sess"] == id_of(cookie)
    assert data_of(app, cookie) == {"cart": "apple", "theme": "dark", "lang": "fr"}


def test_same_key_the_last_save_wins(store: t.Any) -> None:
    app = make_app(store)
    cookie = new_session(app, views=0)
    requests = [Pending(app, cookie) for _ in range(3)]
    for request in requests:
        request.session["views"] += 1  # each loaded 0
    for request in requests:
        request.save()
    assert data_of(app, cookie) == {"views": 1}  # a counter loses increments


def test_deletions_and_nested_mutations_are_merged(store: t.Any) -> None:
    app = make_app(store)
    cookie = new_session(app, cart={"items": [1]}, coupon="X", user="alice")
    first, second = Pending(app, cookie), Pending(app, cookie)
    first.session["cart"]["items"].append(2)
    del first.session["coupon"]
    second.session["seen"] = ["home"]
    first.save()
    second.save()
    assert data_of(app, cookie) == {
        "cart": {"items": [1, 2]},
        "user": "alice",
        "seen": ["home"],
    }


def test_a_merged_entry_is_the_json_koa_writes(store: t.Any, clock: list[int]) -> None:
    app = make_app(store)
    cookie = new_session(app, a=1, b=2)
    first, second = Pending(app, cookie), Pending(app, cookie)
    first.session["c"] = (1, 2)  # a tagged value: "_tagged" after the bookkeeping
    second.session["a"] = 9
    first.save()
    second.save()
    entry = store.get_entry(id_of(cookie), HOUR, rolling=False)
    text = entry.version.decode() if isinstance(entry.version, bytes) else entry.version
    expected = {"a": 9, "b": 2, "c": (1, 2), "_expire": clock[0] + HOUR}
    assert text == dumps_json({**expected, "_maxAge": HOUR})
    assert decode_payload(text) == {**expected, "_maxAge": HOUR}


def test_a_max_age_set_meanwhile_is_kept(store: t.Any) -> None:
    app = make_app(store)
    cookie = new_session(app, user="alice")
    writer, forgetful = Pending(app, cookie), Pending(app, cookie)
    forgetful.session.max_age = "session"  # "remember me" off
    forgetful.save()
    writer.session["theme"] = "dark"
    response = writer.save()
    [header] = [h for h in response.headers.getlist("Set-Cookie") if "sess=" in h]
    assert "expires=" not in header  # a browser-session cookie, as the entry
    entry = store.get(id_of(cookie), HOUR, rolling=False)
    assert entry == {"user": "alice", "theme": "dark", "_session": True}


def test_rolling_re_saves_keep_what_others_wrote(
    store: t.Any, clock: list[int]
) -> None:
    app = make_app(store, rolling=True)
    cookie = new_session(app, user="alice")
    reader, writer = Pending(app, cookie), Pending(app, cookie)
    writer.session["theme"] = "dark"
    writer.save()
    clock[0] += 1000
    with listen_to(signals.session_renewed) as renewed:
        response = reader.save()
    renewed.assert_sent_once(app, reason="rolling")
    assert session_cookies(response)["koa.sess"] == id_of(cookie)
    assert store.get(id_of(cookie), HOUR, rolling=True) == {
        "user": "alice",
        "theme": "dark",
        "_expire": clock[0] + HOUR,  # extended by the read
        "_maxAge": HOUR,
    }


# -- what is gone stays gone ------------------------------------------------------


@pytest.mark.parametrize("rolling", [False, True], ids=["writer", "rolling-reader"])
def test_a_logout_stays_a_logout(store: t.Any, rolling: bool) -> None:
    app = make_app(store, rolling=rolling)
    cookie = new_session(app, user="alice")
    late = Pending(app, cookie)
    if not rolling:
        late.session["theme"] = "dark"
    logout = Pending(app, cookie)
    logout.session.destroy()
    assert session_cookies(logout.save())["koa.sess"] == ""
    with listen_to(signals.session_dropped) as dropped:
        response = late.save()
    dropped.assert_sent_once(
        app, session=late.session, key=id_of(cookie), reason="gone"
    )
    assert session_cookies(response) == {}  # nothing points the browser back
    assert data_of(app, cookie) is None
    assert store.get(id_of(cookie), HOUR, rolling=False) is None


def test_an_expired_entry_is_not_brought_back(store: t.Any) -> None:
    app = make_app(store)
    cookie = new_session(app, user="alice")
    late = Pending(app, cookie)
    late.session["theme"] = "dark"
    store.destroy(id_of(cookie))  # what expiry or cleanup does
    with listen_to(signals.session_dropped) as dropped:
        assert session_cookies(late.save()) == {}
    dropped.assert_sent_once(app, reason="gone")
    assert data_of(app, cookie) is None


def test_a_login_moves_what_was_saved_meanwhile(store: t.Any) -> None:
    app = make_app(store)
    cookie = new_session(app, cart="apple")
    before, login, after = Pending(app, cookie), Pending(app, cookie), None
    before.session["w1"] = 1
    before.save()
    after = Pending(app, cookie)  # loads what "before" saved
    login.session["user"] = "alice"
    login.session.regenerate()
    with listen_to(signals.session_regenerated) as regenerated:
        response = login.save()
    new_cookie = cookie_header(response)
    assert id_of(new_cookie) != id_of(cookie)
    regenerated.assert_sent_once(app, old_key=id_of(cookie), new_key=id_of(new_cookie))
    assert data_of(app, new_cookie) == {"cart": "apple", "w1": 1, "user": "alice"}
    assert data_of(app, cookie) is None
    # A request that loaded the old id saves after the login (a request in
    # flight): its change lands on the new entry, and no cookie tells it
    # the new id.
    after.session["w2"] = 2
    with listen_to(signals.session_dropped) as dropped:
        assert session_cookies(after.save()) == {}
    dropped.assert_sent_once(app, key=id_of(cookie), reason="moved")
    assert data_of(app, cookie) is None
    assert data_of(app, new_cookie) == {
        "cart": "apple",
        "w1": 1,
        "user": "alice",
        "w2": 2,
    }
    # The old id opens nothing: a fresh session (no fixation).
    assert data_of(app, cookie) is None


def test_a_login_that_loses_to_a_logout_creates_nothing(store: t.Any) -> None:
    app = make_app(store, genid=lambda request: f"login-{uuid.uuid4()}")
    cookie = new_session(app, cart="apple")
    login = Pending(app, cookie)
    login.session["user"] = "alice"
    login.session.regenerate()
    logout = Pending(app, cookie)
    logout.session.destroy()
    logout.save()
    with listen_to(signals.session_dropped) as dropped:
        response = login.save()
    dropped.assert_sent_once(app, key=id_of(cookie), reason="gone")
    assert session_cookies(response) == {}
    new_id = login.session.external_key
    assert new_id is not None
    assert new_id.startswith("login-")  # the id the login drew, now deleted
    assert store.get(new_id, HOUR, rolling=False) is None
    assert data_of(app, cookie) is None


def test_a_logout_that_loaded_before_a_login_wins_over_it(store: t.Any) -> None:
    # The reverse order: the logout loaded the session, the login moved it to
    # a new id and committed, then the logout commits. The logout ends the
    # login's new entry too: whichever response the browser keeps, the old
    # id and the new one open nothing.
    app = make_app(store)
    cookie = new_session(app, cart="apple")
    logout = Pending(app, cookie)
    logout.session.destroy()
    login = Pending(app, cookie)
    login.session["user"] = "alice"
    login.session.regenerate()
    new_cookie = cookie_header(login.save())
    assert data_of(app, new_cookie) == {"cart": "apple", "user": "alice"}
    logout.save()
    assert data_of(app, new_cookie) is None
    assert data_of(app, cookie) is None


def test_a_new_session_never_takes_an_existing_id(store: t.Any) -> None:
    app = make_app(store, genid=lambda request: "the-only-id")
    cookie = new_session(app, user="alice")
    assert id_of(cookie) == "the-only-id"
    with listen_to(signals.session_dropped) as dropped:
        response = Pending(app).save()  # not populated: nothing to save
        assert session_cookies(response) == {}
        other = Pending(app)
        other.session["user"] = "mallory"
        assert session_cookies(other.save()) == {}
    dropped.assert_sent_once(app, key="the-only-id", reason="taken")
    assert data_of(app, cookie) == {"user": "alice"}


def test_a_login_onto_a_taken_id_leaves_the_session_as_it_was(store: t.Any) -> None:
    # The new entry is created before the old one is deleted, and only if
    # its id is free: the old entry stays when it is not.
    ids = iter(["taken", "mine", "taken"])
    app = make_app(store, genid=lambda request: next(ids))
    other = new_session(app, user="bob")
    cookie = new_session(app, user="alice")
    assert (id_of(other), id_of(cookie)) == ("taken", "mine")
    login = Pending(app, cookie)
    login.session["role"] = "admin"
    login.session.regenerate()
    with listen_to(signals.session_dropped) as dropped:
        response = login.save()
    dropped.assert_sent_once(app, key="taken", reason="taken")
    assert session_cookies(response) == {}
    assert data_of(app, cookie) == {"user": "alice"}
    assert data_of(app, other) == {"user": "bob"}


# -- bounds and choices -----------------------------------------------------------


class RestlessStore(MemoryStore):
    """Another request saves the entry just before each conditional write."""

    def replace_text(
        self, key: str, expected: str | bytes, text: str, ttl: float | None
    ) -> t.Literal[True] | str | None:
        self._bump(key)
        return super().replace_text(key, expected, text, ttl)

    def delete_text(
        self, key: str, expected: str | bytes
    ) -> t.Literal[True] | str | None:
        self._bump(key)
        return super().delete_text(key, expected)

    def _bump(self, key: str) -> None:
        payload = self.get(key, HOUR, rolling=False)
        assert payload is not None
        payload["bumps"] = payload.get("bumps", 0) + 1
        self.set(key, payload, HOUR, rolling=False, changed=True)


@pytest.mark.parametrize("regenerate", [False, True], ids=["write", "login"])
def test_a_save_gives_up_after_max_attempts(
    monkeypatch: pytest.MonkeyPatch, regenerate: bool
) -> None:
    monkeypatch.setattr(merging, "MAX_ATTEMPTS", 5)
    store = RestlessStore()
    app = make_app(store)
    cookie = new_session(app, user="alice")
    request = Pending(app, cookie)
    request.session["theme"] = "dark"
    if regenerate:
        request.session.regenerate()
    with pytest.raises(SessionContentionError) as caught:
        request.save()
    error = caught.value
    assert (error.store, error.operation, error.key, error.attempts) == (
        "RestlessStore",
        "save",
        id_of(cookie),
        5,
    )
    assert str(error) == (
        "RestlessStore could not save a session: its entry changed under each of"
        " 5 attempts (too many concurrent requests of one session)"
    )
    stored = store.get(id_of(cookie), HOUR, rolling=False)
    assert stored is not None
    assert (stored["user"], stored["bumps"]) == ("alice", 5)  # the others' saves
    assert len(store._entries) == 1  # a login's new entry is not left behind


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"merge": False}, id="merge-false"),
        pytest.param(
            {"store": RecordingStore()}, id="store-without-conditional-writes"
        ),
    ],
)
def test_whole_entry_saves_last_writer_wins(options: dict[str, t.Any]) -> None:
    # koa-session's saving, byte for byte: each save writes the entry as its
    # request loaded it plus its own changes, existing or not.
    app = make_app(**{"store": MemoryStore(), **options})
    cookie = new_session(app, cart="apple")
    first, second, late = (Pending(app, cookie) for _ in range(3))
    first.session["theme"] = "dark"
    second.session["lang"] = "fr"
    first.save()
    second.save()
    assert data_of(app, cookie) == {"cart": "apple", "lang": "fr"}
    logout = Pending(app, cookie)
    logout.session.destroy()
    logout.save()
    late.session["x"] = 1
    with listen_to(signals.session_dropped) as dropped:
        assert session_cookies(late.save())["koa.sess"] == id_of(cookie)
    assert dropped.calls == []
    assert data_of(app, cookie) == {"cart": "apple", "x": 1}  # back again


def test_an_emptying_logout_that_loaded_before_a_login_wins_too(
    store: t.Any,
) -> None:
    # As the destroy() above, for a logout that pops every key (Flask-Login's):
    # the emptied session's removal ends the login's new entry too.
    app = make_app(store)
    cookie = new_session(app, cart="apple")
    logout = Pending(app, cookie)
    logout.session.clear()
    login = Pending(app, cookie)
    login.session["user"] = "alice"
    login.session.regenerate()
    new_cookie = cookie_header(login.save())
    logout.save()
    assert data_of(app, new_cookie) is None
    assert data_of(app, cookie) is None
