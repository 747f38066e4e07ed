"""Round trips to Redis per request in store mode, counted on a real server.

Issue 12 sets the minimum (read 1, write 2, new 1, untouched 0) and issue 9's
merged, no-resurrection saves must not add any; these are today's figures,
counted by :func:`tests.redis_traffic.redis_traffic`.
"""

from __future__ import annotations

import flask
import pytest
import redis
from flask.testing import FlaskClient

from flask_koasession import KoaSession, session
from flask_koasession.stores import RedisStore
from tests.redis_traffic import Traffic, redis_traffic
from tests.servers import RedisServer

#: The database of these tests (others use 0, 5 and 9).
REDIS_DB = 8


@pytest.fixture
def app(redis_server: RedisServer) -> flask.Flask:
    client = redis.Redis(redis_server.host, redis_server.port, db=REDIS_DB)
    app = flask.Flask(__name__)
    app.secret_key = "round-trips"
    KoaSession(app, store=RedisStore(client))

    @app.get("/new")
    def new() -> str:
        session["user"] = "alice"
        session["cart"] = []
        return "created"

    @app.get("/read")
    def read() -> str:
        return f"{session.get('user')} {session.get('cart')}"

    @app.get("/write")
    def write() -> str:
        session["views"] = session.get("views", 0) + 1
        return "written"

    @app.get("/untouched")
    def untouched() -> str:
        return "no session"

    @app.get("/login")
    def login() -> str:
        session.regenerate()
        return "regenerated"

    @app.get("/logout")
    def logout() -> str:
        session.destroy()
        return "destroyed"

    # Open the store's connection now: a new one sends HELLO first.
    app.test_client().get("/new")
    return app


def measure(
    app: flask.Flask, server: RedisServer, path: str, *, existing: bool = True
) -> Traffic:
    """The traffic of one request to ``path``, with a session when ``existing``."""
    client: FlaskClient = app.test_client()
    if existing:
        client.get("/new")
    with redis_traffic(server.host, server.port, db=REDIS_DB) as traffic:
        assert client.get(path).status_code == 200
    return traffic


@pytest.mark.parametrize(
    ("path", "existing", "commands"),
    [
        pytest.param("/untouched", True, [], id="untouched"),
        pytest.param("/read", True, ["GET"], id="read"),
        pytest.param("/write", True, ["GET", "SET"], id="write"),
        pytest.param("/new", False, ["SET"], id="new"),
    ],
)
def test_round_trips_per_request(
    app: flask.Flask,
    redis_server: RedisServer,
    path: str,
    existing: bool,
    commands: list[str],
) -> None:
    traffic = measure(app, redis_server, path, existing=existing)
    assert traffic.names == commands
    assert traffic.script_calls == []


def test_destroy_reads_then_deletes_in_one_script(
    app: flask.Flask, redis_server: RedisServer
) -> None:
    traffic = measure(app, redis_server, "/logout")
    assert traffic.round_trips == 2
    assert traffic.names[0] == "GET"
    assert traffic.script_calls == ["TYPE", "DEL"]


def test_regenerate_reads_writes_the_new_id_then_deletes_the_old(
    app: flask.Flask, redis_server: RedisServer
) -> None:
    traffic = measure(app, redis_server, "/login")
    assert traffic.round_trips == 3
    assert traffic.names[:2] == ["GET", "SET"]
    assert traffic.script_calls == ["TYPE", "DEL"]
