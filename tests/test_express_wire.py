"""``wire="express-session"``: the connect.sid cookie, connect-redis's
entries, express-session's ids, against a real Redis. (The real Express app
on Node reads and writes them in tests/interop.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import typing as t
from urllib.parse import unquote

import flask
import pytest
import redis

from devkit.servers import RedisServer
from flask_koasession import KoaSession, session_invalid
from flask_koasession.express import ExpressRedisStore, ExpressSigner
from flask_koasession.stores import MemoryStore
from tests.helpers import cookie_attributes, freeze_clock, listen_to

SECRET = "keyboard cat"
DB = 7


def cookie_signature(value: str, secret: str = SECRET) -> str:
    """``cookie-signature``'s ``sign``, written out from its source."""
    mac = hmac.new(secret.encode(), value.encode(), hashlib.sha256).digest()
    return value + "." + base64.b64encode(mac).decode().rstrip("=")


@pytest.fixture
def client_redis(redis_server: RedisServer) -> t.Iterator[redis.Redis[bytes]]:
    client: redis.Redis[bytes] = redis.Redis(
        redis_server.host, redis_server.port, db=DB
    )
    client.flushdb()
    yield client
    client.close()


def express_app(redis_server: RedisServer, **options: t.Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    url = f"redis://{redis_server.host}:{redis_server.port}/{DB}"
    KoaSession(app, wire="express-session", store=url, max_age=3600, **options)

    @app.get("/count")
    def count() -> str:
        flask.session["views"] = flask.session.get("views", 0) + 1
        return str(flask.session["views"])

    return app


def test_the_cookie_and_the_entry_are_express_session_s(
    redis_server: RedisServer,
    client_redis: redis.Redis[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = freeze_clock(monkeypatch)
    app = express_app(redis_server)
    response = app.test_client().get("/count")
    [(name, (value, attributes))] = cookie_attributes(response).items()
    assert name == "connect.sid"  # and no .sig cookie
    signed = unquote(value)
    assert signed.startswith("s:")
    session_id = signed[2 : signed.rfind(".")]
    assert len(session_id) == 32  # uid-safe(24)
    assert signed[2:] == cookie_signature(session_id)
    assert "expires" in attributes
    stored = client_redis.get(f"sess:{session_id}")
    assert stored is not None
    entry = json.loads(stored)
    assert list(entry) == ["cookie", "views"]  # the cookie object first
    assert entry["views"] == 1
    cookie = entry["cookie"]
    assert list(cookie) == ["originalMaxAge", "expires", "httpOnly", "path"]
    assert cookie["originalMaxAge"] == 3_600_000
    assert cookie["httpOnly"] is True
    assert cookie["path"] == "/"
    assert cookie["expires"].endswith("Z")
    # connect-redis's TTL: the seconds until the cookie expires.
    assert 3590 <= client_redis.ttl(f"sess:{session_id}") <= 3600
    assert clock  # the clock was frozen for the whole request


def test_an_express_entry_is_read_and_counted_on(
    redis_server: RedisServer, client_redis: redis.Redis[bytes]
) -> None:
    # Written as express-session + connect-redis write a session.
    session_id = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
    entry = {
        "cookie": {
            "originalMaxAge": 3_600_000,
            "expires": "2100-01-01T00:00:00.000Z",
            "httpOnly": True,
            "path": "/",
        },
        "views": 41,
    }
    client_redis.set(f"sess:{session_id}", json.dumps(entry), ex=3600)
    app = express_app(redis_server)
    client = app.test_client()
    client.set_cookie("connect.sid", "s:" + cookie_signature(session_id))
    assert client.get("/count").text == "42"
    assert json.loads(client_redis.get(f"sess:{session_id}") or "")["views"] == 42


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param("AbCdEfGhIjKlMnOpQrStUvWxYz012345", id="unsigned"),
        pytest.param(
            "s:" + cookie_signature("AbCdEfGhIjKlMnOpQrStUvWxYz012345", "wrong"),
            id="wrong-secret",
        ),
        pytest.param("s:AbCdEfGhIjKlMnOpQrStUvWxYz012345.", id="empty-signature"),
        pytest.param("s:%%%", id="garbage"),
    ],
)
def test_a_bad_connect_sid_is_a_fresh_session(
    redis_server: RedisServer, client_redis: redis.Redis[bytes], cookie: str
) -> None:
    client_redis.set(
        "sess:AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        json.dumps({"cookie": {"originalMaxAge": None}, "views": 41}),
    )
    app = express_app(redis_server)
    client = app.test_client()
    client.set_cookie("connect.sid", cookie)
    with listen_to(session_invalid) as invalid:
        assert client.get("/count").text == "1"
    assert len(invalid.calls) == 1


def test_an_older_secret_verifies(redis_server: RedisServer) -> None:
    app = express_app(redis_server)
    client = app.test_client()
    client.get("/count")
    app.secret_key = "new secret"
    app.config["SECRET_KEY_FALLBACKS"] = [SECRET]
    assert client.get("/count").text == "2"
    value = client.get_cookie("connect.sid")
    assert value is not None
    signed = unquote(value.value)[2:]
    assert signed == cookie_signature(signed[: signed.rfind(".")], "new secret")


def test_a_browser_session_cookie_lives_a_day_in_redis(
    redis_server: RedisServer, client_redis: redis.Redis[bytes]
) -> None:
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    url = f"redis://{redis_server.host}:{redis_server.port}/{DB}"
    KoaSession(app, wire="express-session", store=url, max_age="session")

    @app.get("/")
    def index() -> str:
        flask.session["a"] = 1
        return "ok"

    response = app.test_client().get("/")
    [(value, attributes)] = cookie_attributes(response).values()
    assert "expires" not in attributes
    session_id = unquote(value)[2:].rsplit(".", 1)[0]
    entry = json.loads(client_redis.get(f"sess:{session_id}") or "")
    assert entry["cookie"]["originalMaxAge"] is None
    assert entry["cookie"]["expires"] is None
    assert 86_390 <= client_redis.ttl(f"sess:{session_id}") <= 86_400


def test_the_signer_matches_cookie_signature() -> None:
    signer = ExpressSigner(["a", "b"])
    [(name, value)] = signer.cookies("connect.sid", "x" * 32)
    assert name == "connect.sid"
    assert unquote(value) == "s:" + cookie_signature("x" * 32, "a")
    assert signer.cookies("connect.sid", "") == [("connect.sid", "")]


def test_express_session_needs_its_store() -> None:
    app = flask.Flask(__name__)
    with pytest.raises(ValueError, match='store="redis://'):
        KoaSession(app, wire="express-session")
    with pytest.raises(ValueError, match="ExpressRedisStore"):
        KoaSession(flask.Flask("y"), wire="express-session", store=MemoryStore())
    with pytest.raises(ValueError, match="redis://"):
        KoaSession(flask.Flask("z"), wire="express-session", store="sqlite:///x.db")


def test_the_cookie_name_can_still_be_given(redis_server: RedisServer) -> None:
    app = express_app(redis_server, key="app.sid")
    response = app.test_client().get("/count")
    assert set(cookie_attributes(response)) == {"app.sid"}


def test_an_express_store_object(redis_server: RedisServer) -> None:
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    store = ExpressRedisStore(redis.Redis(redis_server.host, redis_server.port, db=DB))
    KoaSession(app, wire="express-session", store=store)

    @app.get("/")
    def index() -> str:
        flask.session["n"] = flask.session.get("n", 0) + 1
        return str(flask.session["n"])

    client = app.test_client()
    assert [client.get("/").text for _ in range(2)] == ["1", "2"]


def test_a_stale_expires_in_a_live_entry_is_no_expiry(
    redis_server: RedisServer, client_redis: redis.Redis[bytes]
) -> None:
    # express-session touches the key's TTL on each read and leaves the text:
    # its cookie.expires lags behind, and only the TTL ends a session.
    session_id = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
    entry = {
        "cookie": {
            "originalMaxAge": 3_599_999,  # drifted, as express-session lets it
            "expires": "2000-01-01T00:00:00.000Z",
            "httpOnly": True,
            "path": "/",
        },
        "views": 1,
    }
    client_redis.set(f"sess:{session_id}", json.dumps(entry), ex=3600)
    client = express_app(redis_server).test_client()
    client.set_cookie("connect.sid", "s:" + cookie_signature(session_id))
    assert client.get("/count").text == "2"
    saved = json.loads(client_redis.get(f"sess:{session_id}") or "")
    assert saved["cookie"]["originalMaxAge"] == 3_599_999
    assert saved["cookie"]["expires"] > "2026"


@pytest.mark.parametrize(
    "cookie", ["s:abc.%C3%A9", "s:%C3%A9.x", "s:\u00e9\u00e9.\u00e9"]
)
def test_a_non_ascii_connect_sid_is_a_fresh_session(
    redis_server: RedisServer, cookie: str
) -> None:
    # compare_digest refuses non-ASCII str: it was a 500 (and the cookie is
    # never cleared, so a cookie planted from a sibling domain locked out).
    client = express_app(redis_server).test_client()
    client.set_cookie("connect.sid", cookie)
    assert client.get("/count").text == "1"


def test_the_way_from_a_moved_id_lives_its_window(
    redis_server: RedisServer, client_redis: redis.Redis[bytes]
) -> None:
    # Written expired on purpose, it took a TTL of 1 second in the
    # express-session layout: requests in flight across a login lost it.
    from flask_koasession import merging

    app = express_app(redis_server)

    @app.get("/login")
    def login() -> str:
        flask.session.regenerate()  # type: ignore[attr-defined]
        return "ok"

    client = app.test_client()
    client.get("/count")
    cookie = client.get_cookie("connect.sid")
    assert cookie is not None
    old = unquote(cookie.value)[2:].rsplit(".", 1)[0]
    client.get("/login")
    ttl = client_redis.ttl("sess:" + merging.moved_key(old))
    assert merging.MOVE_WINDOW - 2 <= ttl <= merging.MOVE_WINDOW
