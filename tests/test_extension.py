"""Setting the extension up on an app: ``KoaSession(app)`` and ``init_app``."""

from __future__ import annotations

import flask
import pytest

from flask_koasession import KoaSession


def _app() -> flask.Flask:
    app = flask.Flask(__name__)
    app.secret_key = "secret"
    return app


def test_a_second_extension_on_the_same_app_is_an_error() -> None:
    app = _app()
    first = KoaSession(app, key="first.sess")
    with pytest.raises(RuntimeError, match="already set up") as info:
        KoaSession(app, key="second.sess")
    assert "KoaSession" in str(info.value)
    # The first set-up stands.
    assert app.extensions["koasession"].options.key == "first.sess"
    with pytest.raises(RuntimeError, match="already set up"):
        first.init_app(app)


def test_init_app_twice_on_the_same_app_is_an_error() -> None:
    app = _app()
    koa = KoaSession()
    koa.init_app(app)
    with pytest.raises(RuntimeError, match="already set up"):
        koa.init_app(app, rolling=True)
    assert app.extensions["koasession"].options.rolling is False


def test_one_object_may_set_up_many_apps() -> None:
    koa = KoaSession()
    apps = [_app(), _app()]
    for app in apps:
        koa.init_app(app)
    assert all("koasession" in app.extensions for app in apps)


def test_a_failed_set_up_may_be_retried() -> None:
    app = _app()
    with pytest.raises(ValueError, match="maxAge"):
        KoaSession(app, maxAge=0)
    KoaSession(app, maxAge=100_000)
    assert app.extensions["koasession"].options.max_age == 100_000
