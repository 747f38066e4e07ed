"""Loading: the record of what came with a request (a cookie session, a store
session, none), as :meth:`flask_koasession.context.SessionContext.load` makes it."""

from __future__ import annotations

import base64
import typing as t

import flask
import pytest

from flask_koasession import session_invalid
from flask_koasession.cookies import Keygrip
from flask_koasession.decide import Loaded
from flask_koasession.stores import MemoryStore
from tests.helpers import SECRET, koa_cookie, listen_to, load_session, make_app


def load_with(
    app: flask.Flask, cookies: t.Mapping[str, str] | None = None
) -> tuple[Loaded, dict[str, t.Any]]:
    """Load the session of a request to ``/`` that sends ``cookies``."""
    pairs = (cookies or {}).items()
    header = "; ".join(f"{name}={value}" for name, value in pairs)
    environ = {"HTTP_COOKIE": header} if header else {}
    with app.test_request_context("/", environ_base=environ):
        return load_session(app)


def test_no_cookie_is_a_new_session() -> None:
    loaded, data = load_with(make_app(maxAge=500_000))
    assert loaded == Loaded(is_new=True, max_age=500_000)
    assert data == {}


def test_a_cookie_session() -> None:
    value, signature = koa_cookie({"views": 3, "user": "ann"}, expire=2**42)
    loaded, data = load_with(make_app(), {"koa.sess": value, "koa.sess.sig": signature})
    assert loaded == Loaded(
        is_new=False,
        max_age=86_400_000,
        expire=2**42,
        signature="ok",
        # Scalars only: kept as loaded, not serialized.
        flat={"views": 3, "user": "ann"},
    )
    assert loaded.text() == '{"views":3,"user":"ann"}'
    assert data == {"views": 3, "user": "ann"}


def test_a_cookie_signed_with_an_older_key_is_rotated() -> None:
    app = make_app()
    app.config["SECRET_KEY_FALLBACKS"] = ["old"]
    value, signature = koa_cookie({"views": 3}, keys=["old"])
    loaded, _ = load_with(app, {"koa.sess": value, "koa.sess.sig": signature})
    assert (loaded.is_new, loaded.signature) == (False, "rotated")


def test_a_bad_signature_is_a_new_session_whose_sig_is_expired() -> None:
    app = make_app()
    value, _ = koa_cookie({"views": 3})
    with listen_to(session_invalid) as invalid:
        loaded, data = load_with(app, {"koa.sess": value, "koa.sess.sig": "forged"})
    assert (loaded.is_new, loaded.signature, data) == (True, "bad", {})
    invalid.assert_sent_once(app, key=None, value=None, reason="signature")


def test_a_session_keeps_the_max_age_it_was_saved_with() -> None:
    value, signature = koa_cookie({"views": 3}, max_age="session")
    loaded, _ = load_with(make_app(), {"koa.sess": value, "koa.sess.sig": signature})
    assert (loaded.max_age, loaded.expire) == ("session", None)


def test_store_mode_new_session_has_a_new_id() -> None:
    loaded, data = load_with(make_app(store=MemoryStore(), genid=lambda r: "new-id"))
    assert loaded == Loaded(is_new=True, max_age=86_400_000, store_id="new-id")
    assert data == {}


def test_store_mode_session_keeps_its_id() -> None:
    store = MemoryStore()
    store.set(
        "an-id", {"views": 2, "_session": True}, "session", rolling=False, changed=True
    )
    app = make_app(store=store, genid=lambda r: "new-id")
    with app.test_request_context():
        signature = Keygrip([SECRET]).sign("koa.sess=an-id")
    loaded, data = load_with(app, {"koa.sess": "an-id", "koa.sess.sig": signature})
    assert loaded == Loaded(
        is_new=False,
        max_age="session",
        store_id="an-id",
        flat={"views": 2},
        # The entry's text as stored: what a merged save writes onto.
        version='{"views":2,"_session":true}',
    )
    assert data == {"views": 2}
    # With koa's whole-entry saves the store's get() is used: no version.
    app = make_app(store=store, genid=lambda r: "new-id", merge=False)
    loaded, _ = load_with(app, {"koa.sess": "an-id", "koa.sess.sig": signature})
    assert loaded.version is None
    assert loaded.text() == '{"views":2}'


def test_the_record_is_immutable() -> None:
    loaded, _ = load_with(make_app())
    with pytest.raises(AttributeError):
        loaded.is_new = False  # type: ignore[misc]


def test_restarted_is_a_new_session_with_the_same_max_age_and_signature() -> None:
    saved = Loaded(
        False, 5000, "an-id", '{"a":1}', 123.0, "bad", '{"a":1,"_maxAge":5000}'
    )
    assert saved.restarted("other-id") == Loaded(
        True, 5000, "other-id", None, None, "bad", None
    )


def test_the_data_snapshot_is_not_the_sessions_data() -> None:
    # What came in stays as it came in, whatever the view does to the data.
    value, signature = koa_cookie({"cart": [1, 2]})
    loaded, data = load_with(make_app(), {"koa.sess": value, "koa.sess.sig": signature})
    data["cart"].append(3)
    assert loaded.data_json == '{"cart":[1,2]}'


def test_flat_data_as_loaded_is_not_the_callers_data() -> None:
    value, signature = koa_cookie({"views": 1})
    loaded, data = load_with(make_app(), {"koa.sess": value, "koa.sess.sig": signature})
    data["views"] = 2
    assert loaded.flat == {"views": 1}
    assert loaded.text() == '{"views":1}'


def test_a_flat_float_beyond_a_double_is_a_bad_cookie() -> None:
    # 1e999 parses as infinity, which JSON cannot write back: flat data is
    # checked without serializing it.
    app = make_app()
    value = base64.b64encode(b'{"n":1e999,"_expire":4398046511104}').decode()
    with app.test_request_context():
        signature = Keygrip([SECRET]).sign(f"koa.sess={value}")
    with listen_to(session_invalid) as invalid:
        loaded, data = load_with(app, {"koa.sess": value, "koa.sess.sig": signature})
    assert (loaded.is_new, data) == (True, {})
    invalid.assert_sent_once(app, key=None, value=None, reason="decode")
