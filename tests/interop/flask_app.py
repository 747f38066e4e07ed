"""The Flask twin of ``server.js``: same configuration, routes and JSON shapes.

:func:`create_app` takes the environment that configures ``server.js`` (``KEYS``,
``DIGEST``, ``KEY``, ``MAX_AGE``, ``ROLLING``, ``RENEW``, ``SIGNED``,
``SAME_SITE``, ``PREFIX``, ``REDIS_URL``, ``SEAL``) and builds the same app on
flask-koasession, so one configuration drives both sides of a test. ``SECURE``
(a boolean) is the ``secure`` option, as in ``express_server.js``; server.js
does not read it. One extra variable is Flask's own:
``FLASK_KEYS_FROM_CONFIG=1`` gives the keys as ``SECRET_KEY`` (the first) and
``SECRET_KEY_FALLBACKS`` (the rest) instead of ``keys=[...]``.

``WIRE=express-session`` makes it the twin of ``express_session_server.js``
instead: the option ``wire="express-session"``, the cookie name
``connect.sid`` unless ``KEY`` says otherwise, no maxAge (a browser-session
cookie, as express-session without ``cookie.maxAge``) unless ``MAX_AGE`` gives
one, no ``digest`` unless ``DIGEST`` is set, and ``REDIS_URL`` (required) with
``RedisStore(client, prefix=PREFIX or "sess:")``: ``PREFIX`` is
connect-redis's key prefix there, not koa-session's ``prefix`` option.

Run it by hand with ``flask --app tests.interop.flask_app run``.
"""

from __future__ import annotations

import datetime
import json
import typing as t
import uuid

import requests
from flask import Flask, redirect, request, session

from devkit.payloads import cart_items
from flask_koasession import (
    KoaSession,
    pop_flash,
    session_dropped,
    session_expired,
    session_invalid,
    session_missed,
    set_flash,
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(env: t.Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name, "")
    if raw == "":
        return None
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError(f"{name} must be a boolean (1/0/true/false), got {raw!r}")


def _max_age(raw: str) -> int | str:
    """A max age as koa gives it: milliseconds, or ``"session"``."""
    return "session" if raw == "session" else int(raw)


def _ms(seconds: float | str) -> float | str:
    """``session.max_age`` (Python's seconds) as koa's ``maxAge`` (ms)."""
    return seconds if isinstance(seconds, str) else seconds * 1000


#: ``WIRE=express-session``: the twin of express_session_server.js.
EXPRESS_SESSION = "express-session"


def _wire(env: t.Mapping[str, str]) -> str | None:
    wire = env.get("WIRE") or None
    if wire not in (None, EXPRESS_SESSION):
        raise ValueError(f"WIRE must be unset or {EXPRESS_SESSION!r}, got {wire!r}")
    return wire


def options_from_env(env: t.Mapping[str, str]) -> dict[str, t.Any]:
    """KoaSession options for the ``server.js`` environment ``env`` (or the
    ``express_session_server.js`` one, with ``WIRE=express-session``)."""
    express_session = _wire(env) == EXPRESS_SESSION
    options: dict[str, t.Any] = {}
    if express_session:
        options["wire"] = EXPRESS_SESSION
    default_key = "connect.sid" if express_session else "koa.sess"
    options["key"] = env.get("KEY") or default_key
    if env.get("FLASK_KEYS_FROM_CONFIG") != "1":
        options["keys"] = json.loads(env.get("KEYS") or '["interop-secret"]')
    if env.get("DIGEST") or not express_session:
        options["digest"] = env.get("DIGEST") or "sha1"
    if env.get("MAX_AGE"):
        max_age = _max_age(env["MAX_AGE"])
        # Koa's milliseconds, as a timedelta: short ones are meant here.
        options["max_age"] = (
            max_age
            if isinstance(max_age, str)
            else datetime.timedelta(milliseconds=max_age)
        )
    elif express_session:
        options["maxAge"] = "session"
    for name, option in (("ROLLING", "rolling"), ("RENEW", "renew")):
        value = _bool(env, name)
        if value is not None:
            options[option] = value
    signed = _bool(env, "SIGNED")
    if signed is not None:
        options["signed"] = signed
    if env.get("SAME_SITE"):
        options["same_site"] = env["SAME_SITE"]
    secure = _bool(env, "SECURE")
    if secure is not None:
        options["secure"] = secure
    if env.get("PREFIX") and not express_session:
        options["prefix"] = env["PREFIX"]
    if env.get("SEAL"):
        # server.js gives these to koa-sealed.cjs's sealedCodec; here they
        # are the options of the same names.
        seal = json.loads(env["SEAL"])
        unknown = set(seal) - {"encrypt", "compress"}
        if unknown:
            raise ValueError(f"SEAL: only encrypt and compress apply, got {unknown}")
        options.update(seal)
    return options


def create_app(env: t.Mapping[str, str] | None = None) -> Flask:
    """The Flask twin of server.js for the configuration ``env``.

    In store mode (``REDIS_URL``) the redis client is at
    ``app.extensions["interop_redis"]``; :func:`close_app` closes it.
    """
    env = dict(env or {})
    app = Flask(__name__)
    keys = json.loads(env.get("KEYS") or '["interop-secret"]')
    if env.get("FLASK_KEYS_FROM_CONFIG") == "1":
        app.config["SECRET_KEY"] = keys[0]
        app.config["SECRET_KEY_FALLBACKS"] = keys[1:]
    options = options_from_env(env)
    express_session = _wire(env) == EXPRESS_SESSION
    if express_session and not env.get("REDIS_URL"):
        raise ValueError("WIRE=express-session needs REDIS_URL (connect-redis)")
    client = None
    if env.get("REDIS_URL"):
        import redis

        from flask_koasession.stores import RedisStore

        client = redis.Redis.from_url(
            env["REDIS_URL"], socket_timeout=5, socket_connect_timeout=5
        )
        app.extensions["interop_redis"] = client
        if express_session:
            from flask_koasession.express import ExpressRedisStore

            # connect-redis's entries under its key prefix ("sess:" by default).
            options["store"] = ExpressRedisStore(
                client, prefix=env.get("PREFIX", "sess:")
            )
        else:
            options["store"] = RedisStore(client)
    try:
        KoaSession(app, **options)
    except BaseException:
        if client is not None:
            client.close()
        raise

    events: list[dict[str, t.Any]] = []
    app.extensions["interop_events"] = events

    def recorder(name: str) -> t.Callable[..., None]:
        def record(sender: Flask, **kwargs: t.Any) -> None:
            events.append(
                {
                    "event": name,
                    "key": kwargs.get("key"),
                    "value": kwargs.get("value"),
                    "reason": kwargs.get("reason"),
                }
            )

        return record

    receivers = [
        (session_missed, recorder("missed")),
        (session_expired, recorder("expired")),
        (session_invalid, recorder("invalid")),
        (session_dropped, recorder("dropped")),
    ]
    for signal, receiver in receivers:
        signal.connect(receiver, app, weak=False)
    app.extensions["interop_receivers"] = receivers

    def state() -> dict[str, t.Any]:
        return {
            "session": dict(session),
            "isNew": session.is_new,
            "maxAge": _ms(session.max_age),
            "externalKey": session.external_key,
            "populated": session.populated,
            "length": len(session),
        }

    @app.get("/session")
    def show() -> t.Any:
        return state()

    @app.get("/touch")
    def touch() -> t.Any:
        return state()

    @app.get("/set")
    def set_values() -> t.Any:
        for name, value in request.args.items(multi=True):
            if name != "json":
                session[name] = value
        if "json" in request.args:
            session.update(json.loads(request.args["json"]))
        return state()

    @app.get("/incr")
    def incr() -> t.Any:
        views = session.get("views", 0) + 1
        session["views"] = views
        return {"views": views}

    @app.get("/cart")
    def cart() -> t.Any:
        """A cart of ``n`` repetitive items, as server.js makes it."""
        n = int(request.args.get("n", "0"))
        session["cart"] = cart_items(n)
        return {"items": n}

    @app.get("/destroy")
    @app.get("/logout")
    def destroy() -> t.Any:
        session.destroy()
        return {"destroyed": True}

    @app.get("/login")
    def login() -> t.Any:
        """A login as express_session_server.js does it: a new id and none of
        the old data (express-session's regenerate()), then ``/set``'s
        parameters (``user``...)."""
        session.regenerate()
        session.clear()
        return set_values()

    @app.get("/regenerate")
    def regenerate() -> t.Any:
        session.regenerate()
        return state()

    @app.get("/flash")
    def flash() -> t.Any:
        set_flash(request.args.get("msg", "Flash Message Example"))
        return redirect("/show-flash")

    @app.get("/show-flash")
    def show_flash() -> t.Any:
        return {"flash": pop_flash()}

    @app.get("/maxage")
    def max_age() -> t.Any:
        value = _max_age(request.args.get("value", ""))
        # koa's ctx.session.maxAge counts milliseconds, session.max_age seconds.
        session.max_age = value if isinstance(value, str) else value / 1000
        return state()

    @app.get("/typed")
    def typed() -> t.Any:
        """Flask only: values JSON cannot hold, kept by the tagged-JSON codec.

        ``?set=1`` stores them under ``typed``; every call reports what the
        session holds there as ``{name: [type name, repr]}``.
        """
        if request.args.get("set"):
            session["typed"] = {
                "when": datetime.datetime(
                    2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(0))
                ),
                "pair": (1, "two"),
                "raw": b"\x00\xff koa",
                "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
            }
        held = session.get("typed") or {}
        return {name: [type(v).__name__, repr(v)] for name, v in held.items()}

    @app.get("/set-around")
    def set_around() -> t.Any:
        """Flask only: load the session, GET the URL ``around`` (a route of
        either server) with this request's ``Cookie`` header, then set each
        other query parameter as ``/set`` does. Answers like ``/set``, plus
        ``around``: what the URL answered (``body``, ``setCookie`` lines).

        What ``around`` saves or destroys falls between this request's load
        and its save, every time: the race of concurrent requests, made
        exact.
        """
        _ = session.is_new  # loads the session
        answer = requests.get(
            request.args["around"],
            headers={
                "Cookie": request.headers.get("Cookie", ""),
                "Connection": "close",
            },
            allow_redirects=False,
            timeout=10,
        )
        answer.raise_for_status()
        for name, value in request.args.items(multi=True):
            if name != "around":
                session[name] = value
        around = {
            "body": answer.json(),
            "setCookie": list(answer.raw.headers.getlist("Set-Cookie")),
        }
        return {**state(), "around": around}

    @app.get("/events")
    def show_events() -> t.Any:
        seen = list(events)
        events.clear()
        return seen

    return app


def close_app(app: Flask) -> None:
    """Disconnect the event receivers and close the redis client, if any."""
    for signal, receiver in app.extensions.pop("interop_receivers", []):
        signal.disconnect(receiver, app)
    client = app.extensions.pop("interop_redis", None)
    if client is not None:
        client.close()


if __name__ == "__main__":  # pragma: no cover - manual runs
    import os

    create_app(os.environ).run(port=int(os.environ.get("PORT") or 5000))
