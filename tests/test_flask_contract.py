"""Flask's session contract, as Flask, Flask-Login and Flask-WTF rely on it.

Each section is one item of issue 13, found by running those projects' own
test suites on this extension (``scripts/test-peers``); these tests pin the
behaviour here with the public API only.
"""

from __future__ import annotations

import gc
import typing as t
import weakref

import flask
import flask_login
import jinja2
import pytest

from flask_koasession import KoaSession, KoaSessionConfigWarning, set_flash
from tests.helpers import (
    SECRET,
    RecordingStore,
    cookie_value,
    koa_cookie,
    listen_to,
    make_app,
    set_cookies,
    sign,
)

# -- session.modified ----------------------------------------------------------


def _modified_app(**options: t.Any) -> flask.Flask:
    """``/seed`` stores a nested value; ``/probe/<step>`` reports
    ``session.modified`` after doing ``step`` to the loaded session."""
    app = make_app(**options)

    @app.get("/seed")
    def seed() -> str:
        flask.session["cart"] = {"items": [1]}
        return "seeded"

    @app.get("/seed-flat")
    def seed_flat() -> str:
        # Scalars only: kept as loaded and compared value by value.
        flask.session.update(cart="a", views=1)
        return "seeded"

    @app.get("/probe/<step>")
    def probe(step: str) -> str:
        session = flask.session
        before = session.modified
        if step == "read":
            session.get("cart")
        elif step == "set":
            session["name"] = "x"
        elif step == "same":
            session["views"] = session.get("views")
        elif step == "nested":
            session["cart"]["items"].append(2)
        elif step == "delete":
            del session["cart"]
        elif step == "undo":
            session["name"] = "x"
            del session["name"]
        elif step == "destroy":
            session.destroy()
        elif step == "force":
            session.modified = True
        return f"{before} {session.modified}"

    return app


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("read", "False False"),
        ("set", "False True"),
        ("nested", "False True"),
        ("delete", "False True"),
        # The data is what was loaded again: nothing changed, nothing is saved.
        ("undo", "False False"),
        ("destroy", "False True"),
        ("force", "False True"),
    ],
)
def test_modified_says_whether_the_data_changed_in_this_request(
    step: str, expected: str
) -> None:
    client = _modified_app().test_client()
    client.get("/seed")
    assert client.get(f"/probe/{step}").text == expected


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("read", "False False"),
        ("set", "False True"),
        ("same", "False False"),
        ("delete", "False True"),
        ("undo", "False False"),
        ("destroy", "False True"),
        ("force", "False True"),
    ],
)
def test_modified_on_flat_data(step: str, expected: str) -> None:
    client = _modified_app().test_client()
    client.get("/seed-flat")
    assert client.get(f"/probe/{step}").text == expected


def test_modified_on_a_new_session() -> None:
    client = _modified_app().test_client()
    assert client.get("/probe/read").text == "False False"
    assert client.get("/probe/set").text == "False True"


def test_flask_flash_marks_the_session_modified() -> None:
    # Flask's own test_flashes: setting modified back to False does not hide
    # a later change.
    app = make_app()
    with app.test_request_context():
        assert not flask.session.modified
        flask.flash("Zap")
        assert flask.session.modified
        flask.session.modified = False
        flask.flash("Zip")
        assert flask.session.modified
        assert flask.get_flashed_messages() == ["Zap", "Zip"]


def test_modified_does_not_load_an_untouched_session() -> None:
    app = make_app()
    sessions: list[t.Any] = []

    @app.before_request
    def capture() -> None:
        sessions.append(flask.session._get_current_object())  # type: ignore[attr-defined]

    client = app.test_client()
    client.get("/")
    client.get("/nothing")
    assert (sessions[-1].modified, sessions[-1].accessed) == (False, False)
    client.get("/set?k=v")
    assert (sessions[-1].modified, sessions[-1].accessed) == (True, True)


def test_a_change_is_still_saved_as_changed_not_forced() -> None:
    # Reporting a change through modified must not turn koa's "changed" save
    # into a forced one: a store is told changed=True only for a change.
    store = RecordingStore()
    client = _modified_app(store=store).test_client()
    client.get("/seed")
    client.get("/probe/nested")
    client.get("/probe/read")
    client.get("/probe/force")
    sets = [d["changed"] for method, _, d in store.calls if method == "set"]
    assert sets == [True, True, False]


def test_setting_modified_forces_a_save() -> None:
    client = _modified_app().test_client()
    client.get("/seed")
    assert "Set-Cookie" not in client.get("/probe/read").headers
    response = client.get("/probe/force")
    assert "koa.sess=" in response.headers["Set-Cookie"]


# -- keys read as Flask reads them -----------------------------------------------


class KeyedFlask(flask.Flask):
    # Flask-WTF's own test suite sets its key this way: app.config has none.
    secret_key = "class-attribute-key"


def _keyed_app(**options: t.Any) -> flask.Flask:
    app = KeyedFlask(__name__)
    app.config["TESTING"] = True
    KoaSession(app, **options)

    @app.get("/")
    def views() -> str:
        flask.session["views"] = flask.session.get("views", 0) + 1
        return str(flask.session["views"])

    return app


def test_secret_key_as_a_class_attribute_of_a_flask_subclass() -> None:
    app = _keyed_app()
    assert app.config["SECRET_KEY"] is None
    client = app.test_client()
    response = client.get("/")
    value = cookie_value(response)
    assert value is not None
    keys = ["class-attribute-key"]
    assert cookie_value(response, "koa.sess.sig") == sign(value, keys=keys)
    assert client.get("/").text == "2"


def test_fallback_keys_from_the_config_beside_a_class_attribute_key() -> None:
    app = _keyed_app()
    app.config["SECRET_KEY_FALLBACKS"] = ["old-key"]
    value, signature = koa_cookie({"views": 41}, keys=["old-key"])
    client = app.test_client()
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)
    response = client.get("/")
    assert response.text == "42"
    # Re-signed with the current key.
    new_value = cookie_value(response)
    assert new_value is not None
    assert cookie_value(response, "koa.sess.sig") == sign(
        new_value, keys=["class-attribute-key"]
    )


# -- no secret key: an empty session, failing on writes ----------------------------


def _keyless_app(**options: t.Any) -> flask.Flask:
    app = make_app(**options)
    app.secret_key = None
    return app


def test_without_a_key_the_session_reads_as_empty() -> None:
    app = _keyless_app()
    after: list[object] = []

    @app.get("/read")
    def read() -> str:
        session = flask.session
        return f"{session.get('views')} {'views' in session} {len(session)}"

    @app.after_request
    def read_after(response: flask.Response) -> flask.Response:
        # Flask-Login reads the session here on every request.
        after.append(flask.session.get("_remember"))
        return response

    client = app.test_client()
    # A cookie that came with the request cannot be verified: not read.
    value, signature = koa_cookie({"views": 3})
    client.set_cookie("koa.sess", value)
    client.set_cookie("koa.sess.sig", signature)
    response = client.get("/read")
    assert (response.status_code, response.text) == (200, "None False 0")
    assert "Set-Cookie" not in response.headers
    assert client.options("/read").status_code == 200
    assert after == [None, None]


def _write(session: t.Any, how: str) -> None:
    if how == "setitem":
        session["x"] = 1
    elif how == "delitem":
        del session["x"]
    elif how == "update":
        session.update(x=1)
    elif how == "max_age":
        session.max_age = 1000
    elif how == "permanent":
        session.permanent = True
    elif how in ("pop", "popitem", "setdefault", "clear"):
        getattr(session, how)(*(["x"] if how in ("pop", "setdefault") else []))
    else:  # save, regenerate, destroy, manually_commit
        getattr(session, how)()


@pytest.mark.parametrize(
    "how",
    [
        "setitem",
        "delitem",
        "update",
        "pop",
        "popitem",
        "setdefault",
        "clear",
        "max_age",
        "permanent",
        "save",
        "regenerate",
        "destroy",
        "manually_commit",
    ],
)
def test_without_a_key_a_write_raises_the_clear_error(how: str) -> None:
    app = _keyless_app()
    with app.test_request_context():
        assert flask.session.get("x") is None
        assert flask.session.is_new is flask.session.new is True
        with pytest.raises(RuntimeError) as info:
            _write(flask.session, how)
    message = str(info.value)
    assert message.startswith("The session is unavailable because no secret key")
    assert "app.secret_key" in message
    assert "keys=" in message


def test_without_a_key_a_view_that_writes_is_a_500_without_a_cookie() -> None:
    app = _keyless_app()
    app.testing = False
    response = app.test_client().get("/")
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers


def test_without_a_key_the_test_client_opens_no_session() -> None:
    # Flask's test_session_transactions_no_null_sessions.
    client = _keyless_app().test_client()
    with pytest.raises(RuntimeError, match="did not open a session"):  # noqa: SIM117
        with client.session_transaction():
            pass


@pytest.mark.parametrize("options", [{"keys": ["k"]}, {"signed": False}])
def test_without_a_key_sessions_work_when_none_is_needed(
    options: dict[str, t.Any],
) -> None:
    client = _keyless_app(**options).test_client()
    assert client.get("/").text == "1 views"
    assert client.get("/").text == "2 views"


def test_flask_login_serves_an_app_without_a_key() -> None:
    # Flask-Login's test_options_call_exempt: it reads the session after
    # every request, so a failing read would make every request a 500.
    app = _keyless_app()
    app.testing = False
    manager = flask_login.LoginManager(app)
    manager.user_loader(lambda user_id: None)

    @app.route("/private", methods=["GET", "OPTIONS"])
    @flask_login.login_required
    def private() -> str:
        return "private"

    client = app.test_client()
    assert client.options("/private").status_code == 200
    assert client.get("/private").status_code == 401
    assert client.get("/nothing").status_code == 200


# -- set-up leaves the Jinja environment to Flask --------------------------------


def test_template_settings_made_after_set_up_are_honoured() -> None:
    # Flask's test_templates_auto_reload: the environment is made from the
    # config when first used, so it must not be made at set-up.
    app = flask.Flask(__name__)
    KoaSession(app)
    app.config["TEMPLATES_AUTO_RELOAD"] = True
    app.jinja_options = {"trim_blocks": True}
    assert app.jinja_env.auto_reload is True
    assert app.jinja_env.trim_blocks is True

    debug_app = flask.Flask(__name__)
    KoaSession(debug_app)
    debug_app.config["DEBUG"] = True
    assert debug_app.jinja_env.auto_reload is True


def test_app_is_freed_on_zero_refcount() -> None:
    # Flask's test_app_freed_on_zero_refcount: setting up the extension adds
    # no reference cycle, so the app goes as soon as its last reference does.
    gc.disable()
    try:
        app = flask.Flask(__name__)
        KoaSession(app)
        weak = weakref.ref(app)
        del app
        assert weak() is None
    finally:
        gc.enable()


@pytest.mark.parametrize("env_first", [False, True])
def test_pop_flash_in_templates(env_first: bool) -> None:
    # Whether or not the environment exists when the extension is set up.
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    app.jinja_loader = jinja2.DictLoader(
        {"page.html": "{{ pop_flash(default='none') }}"}
    )
    if env_first:
        assert app.jinja_env.get_template("page.html")
    KoaSession(app)

    @app.get("/flash")
    def flash_() -> str:
        set_flash("Saved")
        return "ok"

    @app.get("/page")
    def page() -> str:
        return flask.render_template("page.html")

    @app.get("/inline")
    def inline() -> str:
        return flask.render_template_string("{{ pop_flash(default='none') }}")

    client = app.test_client()
    client.get("/flash")
    assert client.get("/page").text == "Saved"
    assert client.get("/page").text == "none"
    client.get("/flash")
    assert client.get("/inline").text == "Saved"


# -- Flask-Login's strong session protection ---------------------------------------


class User(flask_login.UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def _protected_app(**options: t.Any) -> flask.Flask:
    """docs/flask-login.rst's set-up: strong protection, ``max_age="session"``."""
    app = make_app(**options)
    manager = flask_login.LoginManager(app)
    manager.session_protection = "strong"
    manager.user_loader(lambda user_id: User(user_id))

    @app.post("/login")
    def login() -> str:
        remember = flask.request.args.get("remember") == "1"
        flask_login.login_user(User("7"), remember=remember)
        flask.session["theme"] = "dark"
        return "logged in"

    @app.get("/whoami")
    def whoami() -> str:
        user = flask_login.current_user
        if not user.is_authenticated:
            return "anonymous"
        return f"{user.id} fresh={flask_login.login_fresh()}"

    return app


BROWSER = {"User-Agent": "browser"}
THIEF = {"User-Agent": "thief"}


@pytest.mark.parametrize("remember", ["0", "1"])
def test_strong_protection_logs_out_a_session_from_another_client(
    remember: str,
) -> None:
    client = _protected_app(max_age="session").test_client()
    client.post(f"/login?remember={remember}", headers=BROWSER)
    assert client.get("/whoami", headers=BROWSER).text == "7 fresh=True"
    with listen_to(flask_login.session_protected) as protected:
        response = client.get("/whoami", headers=THIEF)
    assert response.text == "anonymous"
    assert len(protected.calls) == 1
    # The login keys are gone from the saved session, the rest is kept...
    data = client.get("/get", headers=BROWSER).json
    assert data is not None
    assert not {"_user_id", "_fresh", "_id"} & set(data)
    assert data["theme"] == "dark"
    # ...the remember-me cookie is deleted, and the user stays logged out.
    if remember == "1":
        removal = set_cookies(response)["remember_token"]["remember_token"]
        assert removal["expires"].startswith("Thu, 01 Jan 1970")
    assert client.get_cookie("remember_token") is None
    assert client.get("/whoami", headers=BROWSER).text == "anonymous"


def test_with_a_max_age_strong_protection_only_marks_the_session_stale() -> None:
    # Why docs/flask-login.rst asks for max_age="session": with a number, every
    # session is permanent, and Flask-Login treats a permanent session as in
    # "basic" mode (as it does with Flask's own session.permanent = True).
    # The extension says so, once.
    client = _protected_app().test_client()
    with pytest.warns(KoaSessionConfigWarning, match="acts as 'basic'"):
        client.post("/login", headers=BROWSER)
    assert client.get("/whoami", headers=THIEF).text == "7 fresh=False"
