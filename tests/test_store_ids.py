"""Store mode: which id a session lives under (new, prefixed, custom,
regenerated, destroyed, missed, expired), and hostile ids that never reach
the store."""

from __future__ import annotations

import re
import typing as t
import uuid

import flask
import pytest

from flask_koasession import session_invalid, session_missed
from flask_koasession.stores import MemoryStore
from tests.helpers import (
    RecordingStore,
    cookie_value,
    listen_to,
    raw_client,
    set_cookies,
    short_max_age,
    sign,
)
from tests.koa_app import EPOCH, KEYS, UNKNOWN, HeaderKey, build_app, count_view


def test_default_id_is_a_uuid4() -> None:
    store = RecordingStore()
    response = build_app(count_view, store=store).test_client().get("/")
    key = cookie_value(response)
    assert key is not None
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
        r"[0-9a-f]{12}",
        key,
    )
    assert uuid.UUID(key).version == 4
    assert store.peek(key) is not None
    assert cookie_value(response, "koa.sess.sig") == sign(key, keys=KEYS[:1])


def test_prefix_is_prepended_to_generated_ids() -> None:
    store = RecordingStore()
    response = build_app(count_view, store=store, prefix="sess:").test_client().get("/")
    key = cookie_value(response)
    assert key is not None
    assert key.startswith("sess:")
    assert uuid.UUID(key.removeprefix("sess:")).version == 4
    assert store.keys_asked() == [key]


def test_prefix_is_ignored_with_a_custom_genid() -> None:
    store = RecordingStore()
    app = build_app(
        count_view, store=store, prefix="sess:", genid=lambda request: "custom-1"
    )
    response = app.test_client().get("/")
    assert cookie_value(response) == "custom-1"
    assert store.keys_asked() == ["custom-1"]


def test_genid_receives_the_request() -> None:
    def genid(request: flask.Request) -> str:
        return f"{request.headers['X-Tenant']}-{uuid.uuid4()}"

    app = build_app(count_view, store=MemoryStore(), genid=genid)
    response = app.test_client().get("/", headers={"X-Tenant": "acme"})
    assert (cookie_value(response) or "").startswith("acme-")


def test_external_key_property() -> None:
    seen: list[str | None] = []

    def view() -> str:
        seen.append(flask.session.external_key)
        flask.session["a"] = 1
        return "ok"

    app = build_app(view, store=MemoryStore())
    client = app.test_client()
    response = client.get("/")
    # A new session has its id before it is saved (koa: genid at creation).
    assert seen[0] is not None
    assert seen[0] == cookie_value(response)
    client.get("/")
    assert seen[1] == seen[0]


def test_regenerate_moves_the_data_to_a_new_id() -> None:
    store = RecordingStore()

    def view() -> str:
        if flask.request.path == "/regenerate":
            flask.session.regenerate()
        else:
            flask.session["user"] = {"name": "ann", "roles": ["admin"]}
        return str(flask.session.external_key)

    app = build_app(view, store=store)
    client = app.test_client()
    old = cookie_value(client.get("/"))
    store.calls.clear()
    response = client.get("/regenerate")
    new = cookie_value(response)
    assert old is not None
    assert new is not None
    assert new != old
    # The new id is drawn when the session is saved, at the end of the request;
    # during the view external_key is still the old one (in koa too: its
    # Session keeps the key it was created with).
    assert response.text == old
    # koa destroys the old entry first; we save the new one first, so a store
    # failing the save has not lost the session.
    assert store.methods() == ["get", "set", "destroy"]
    assert store.keys_asked() == [old, new, old]
    assert store.peek(old) is None
    stored = store.peek(new)
    assert stored is not None
    assert stored["user"] == {"name": "ann", "roles": ["admin"]}
    assert set(set_cookies(response)) == {"koa.sess", "koa.sess.sig"}


def test_destroy_deletes_the_entry_and_the_cookies() -> None:
    store = RecordingStore()

    def view() -> str:
        if flask.request.path == "/destroy":
            flask.session.destroy()
        else:
            flask.session["user"] = "ann"
        return "ok"

    app = build_app(view, store=store)
    client = app.test_client()
    key = cookie_value(client.get("/"))
    assert key is not None
    store.calls.clear()
    response = client.get("/destroy")
    assert store.methods() == ["get", "destroy"]
    assert store.keys_asked() == [key, key]
    assert store.peek(key) is None
    assert cookie_value(response) == ""
    assert cookie_value(response, "koa.sess.sig") == sign("", keys=KEYS[:1])
    for header in response.headers.getlist("Set-Cookie"):
        assert EPOCH in header


def test_write_after_destroy_starts_a_new_entry() -> None:
    store = RecordingStore()

    def view() -> str:
        if flask.request.path == "/relogin":
            flask.session.destroy()
            flask.session["user"] = "bob"
        else:
            flask.session["user"] = "ann"
        return "ok"

    app = build_app(view, store=store)
    client = app.test_client()
    old = cookie_value(client.get("/"))
    response = client.get("/relogin")
    new = cookie_value(response)
    assert new not in (None, "", old)
    assert old is not None
    assert store.peek(old) is None
    assert (store.peek(t.cast(str, new)) or {})["user"] == "bob"


def test_missed_id_gives_a_fresh_session_and_a_fresh_id() -> None:
    store = RecordingStore()
    app = build_app(count_view, store=store)
    client = app.test_client()
    client.set_cookie("koa.sess", UNKNOWN)
    client.set_cookie("koa.sess.sig", sign(UNKNOWN, keys=KEYS[:1]))
    with listen_to(session_missed) as missed:
        response = client.get("/")
    assert response.text == "1"
    missed.assert_sent_once(app, key=UNKNOWN)
    new = cookie_value(response)
    assert new not in (None, UNKNOWN)
    assert store.keys_asked() == [UNKNOWN, new]


@short_max_age
def test_expired_entry_gives_a_fresh_id(clock: list[int]) -> None:
    # koa: an expired (or invalid) session is replaced by create(), which
    # draws a new id; the old id is not written again.
    store = RecordingStore()
    client = build_app(count_view, store=store, maxAge=1000).test_client()
    old = cookie_value(client.get("/"))
    clock[0] += 1001
    store.calls.clear()
    response = client.get("/")
    assert response.text == "1"
    new = cookie_value(response)
    assert new not in (None, old)
    assert store.methods() == ["get", "set"]
    assert store.keys_asked() == [old, new]


def test_unsigned_id_never_reaches_the_store() -> None:
    store = RecordingStore()
    app = build_app(count_view, store=store)
    response = raw_client(app).get("/", headers={"Cookie": "koa.sess=forged-id"})
    assert response.text == "1"
    assert "forged-id" not in store.keys_asked()


HOSTILE_IDS = [
    pytest.param("x" * 10_000, id="10000-chars"),
    pytest.param("x" * 256, id="256-chars"),
    pytest.param("a b", id="space"),
    pytest.param('a"b', id="quote"),
    pytest.param("a,b", id="comma"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("caf\u00e9", id="non-ascii"),
]


def _assert_fresh(store: RecordingStore, response: t.Any, hostile: str) -> None:
    assert response.text == "1"
    assert hostile not in store.keys_asked()
    assert all(len(key) < 100 for key in store.keys_asked())
    assert store.methods() == ["set"]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_hostile_id_in_a_signed_cookie_never_reaches_the_store(hostile: str) -> None:
    # Correctly signed (the attacker knows a key, or signing is off): still no
    # store lookup for something that is not an id.
    store = RecordingStore()
    app = build_app(count_view, store=store)
    quoted = '"' + hostile.replace("\\", "\\\\").replace('"', '\\"') + '"'
    header = f"koa.sess={quoted}; koa.sess.sig={sign(hostile, keys=KEYS[:1])}"
    with listen_to(session_invalid) as invalid:
        response = raw_client(app).get("/", headers={"Cookie": header})
    _assert_fresh(store, response, hostile)
    invalid.assert_sent_once(app, key=None, value=None, reason="malformed_id")


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_hostile_id_in_an_unsigned_cookie_never_reaches_the_store(
    hostile: str,
) -> None:
    store = RecordingStore()
    app = build_app(count_view, store=store, signed=False)
    quoted = '"' + hostile.replace("\\", "\\\\").replace('"', '\\"') + '"'
    with listen_to(session_invalid) as invalid:
        response = raw_client(app).get("/", headers={"Cookie": f"koa.sess={quoted}"})
    _assert_fresh(store, response, hostile)
    invalid.assert_sent_once(app, key=None, value=None, reason="malformed_id")


@pytest.mark.parametrize(
    "hostile",
    [p for p in HOSTILE_IDS if p.id != "non-ascii"],  # headers are latin-1
)
def test_hostile_external_key_never_reaches_the_store(hostile: t.Any) -> None:
    store = RecordingStore()
    app = build_app(count_view, store=store, external_key=HeaderKey("X-Session-Id"))
    with listen_to(session_invalid) as invalid:
        response = app.test_client().get("/", headers={"X-Session-Id": hostile})
    _assert_fresh(store, response, hostile)
    invalid.assert_sent_once(app, key=None, value=None, reason="malformed_id")
    assert response.headers["X-Session-Id"] == store.keys_asked()[0]


def test_ids_of_other_shapes_reach_the_store_with_a_custom_genid() -> None:
    # Ids from a Koa app with another genid are looked up when ours is custom too.
    store = RecordingStore()
    app = build_app(count_view, store=store, signed=False, genid=lambda _: "mine")
    for key in ("sess:8f1c", "1700000000000_suffix", "a.b-c~d"):
        raw_client(app).get("/", headers={"Cookie": f"koa.sess={key}"})
        assert store.keys_asked()[-2] == key


@pytest.mark.parametrize("key", ["sess:8f1c", "queue:jobs", "cache:user:1", UNKNOWN])
def test_default_genid_looks_up_only_the_ids_it_makes(key: str) -> None:
    # A client-chosen id (unsigned cookie, external key) must never name another
    # key of a shared Redis: with the default genid only prefix + UUID4 is used.
    store = RecordingStore()
    app = build_app(count_view, store=store, signed=False, prefix="sess:")
    with listen_to(session_invalid) as invalid:
        raw_client(app).get("/", headers={"Cookie": f"koa.sess={key}"})
    assert key not in store.keys_asked()
    invalid.assert_sent_once(app, key=None, value=None, reason="malformed_id")
    raw_client(app).get("/", headers={"Cookie": f"koa.sess=sess:{UNKNOWN}"})
    assert f"sess:{UNKNOWN}" in store.keys_asked()


# -- ids this app makes: prefix checked at set-up, genid on every call ---------


@pytest.mark.parametrize(
    ("prefix", "mentions"),
    [
        pytest.param("shop sess:", "' '", id="space"),
        pytest.param('a"b:', "'\"'", id="quote"),
        pytest.param("a;b:", "';'", id="semicolon"),
        pytest.param("a,b:", "','", id="comma"),
        pytest.param("caf\u00e9:", "'\u00e9'", id="non-ascii"),
        # 220 + a 36-character UUID is 256: one more than an id may hold.
        pytest.param("p" * 220, "219", id="too-long"),
    ],
)
def test_a_prefix_no_cookie_can_carry_raises_at_set_up(
    prefix: str, mentions: str
) -> None:
    with pytest.raises(ValueError, match="cookie") as info:
        build_app(count_view, store=MemoryStore(), prefix=prefix)
    message = str(info.value)
    assert f"prefix={prefix!r}" in message
    assert mentions in message


def test_the_longest_prefix_still_makes_valid_ids() -> None:
    store = RecordingStore()
    prefix = "p" * 219
    client = build_app(count_view, store=store, prefix=prefix).test_client()
    key = cookie_value(client.get("/"))
    assert key is not None
    assert len(key) == 255
    assert key.startswith(prefix)
    assert client.get("/").text == "2"


BAD_GENIDS = [
    pytest.param("", ValueError, "empty", id="empty"),
    pytest.param(" ", ValueError, "' '", id="space"),
    pytest.param(",", ValueError, "','", id="comma"),
    pytest.param("a;b", ValueError, "';'", id="semicolon"),
    pytest.param("x" * 300, ValueError, "300 characters", id="300-chars"),
    pytest.param(5, TypeError, "int", id="int"),
]


@pytest.mark.parametrize("external", [False, True], ids=["cookie", "external-key"])
@pytest.mark.parametrize(("made", "error", "mentions"), BAD_GENIDS)
def test_a_genid_result_no_cookie_can_carry_raises_before_any_write(
    made: t.Any, error: type[Exception], mentions: str, external: bool
) -> None:
    # Before: accepted, written to the store, then the session lost on every
    # request (or a 500 after the write), one orphan entry per request.
    store = RecordingStore()
    extra: dict[str, t.Any] = {"external_key": HeaderKey()} if external else {}
    app = build_app(count_view, store=store, genid=lambda request: made, **extra)
    with pytest.raises(error) as info:
        app.test_client().get("/")
    message = str(info.value)
    assert "genid" in message
    assert mentions in message
    # Nothing reached the store: no entry is left behind.
    assert store.calls == []


def test_a_genid_result_is_checked_on_regenerate_before_any_write() -> None:
    store = RecordingStore()
    made = iter(["first-id", "bad id"])

    def view() -> str:
        if flask.request.path == "/regenerate":
            flask.session.regenerate()
        else:
            flask.session["user"] = "ann"
        return "ok"

    app = build_app(view, store=store, genid=lambda request: next(made))
    client = app.test_client()
    assert cookie_value(client.get("/")) == "first-id"
    store.calls.clear()
    with pytest.raises(ValueError, match=r"genid returned 'bad id'"):
        client.get("/regenerate")
    # Nothing was written or deleted: the session is still where it was.
    assert store.methods() == ["get"]
    assert (store.peek("first-id") or {}).get("user") == "ann"


def test_a_moved_key_is_never_a_session_id() -> None:
    # merging keeps where a regenerated session went under moved:<hash>:
    # even with a custom genid, such an id from a request is refused.
    from flask_koasession import merging

    store = MemoryStore()
    merging._mark_moved(store, "old", "new")
    app = build_app(count_view, store=store, genid=lambda request: "x" * 10)
    client = app.test_client()
    client.set_cookie("koa.sess", merging.moved_key("old"))
    client.set_cookie("koa.sess.sig", sign(merging.moved_key("old"), keys=KEYS))
    with listen_to(session_invalid) as invalid:
        client.get("/")
    assert invalid.calls[0][1]["reason"] == "malformed_id"
