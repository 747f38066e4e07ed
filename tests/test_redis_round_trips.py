"""Round trips to Redis per request in store mode, counted on a real server.

Issue 12 sets the minimum (read 1, write 2, new 1, untouched 0) and issue 9's
merged, no-resurrection saves add none: a write is ``GET`` then one
``EVALSHA`` (a script that compares, then sets), a new session one ``SET
... NX``. With ``merge=False`` the commands are koa-redis's own. Counted by
:func:`devkit.traffic.redis_traffic`.
"""

from __future__ import annotations

import flask
import pytest
import redis
from flask.testing import FlaskClient

from devkit.servers import RedisServer
from devkit.traffic import Traffic, redis_traffic
from flask_koasession import KoaSessionDict
from flask_koasession.stores import RedisStore
from tests.helpers import round_trip_app

#: The database of these tests (others use 0, 5 and 9).
REDIS_DB = 8


@pytest.fixture(params=[True, False], ids=["merge", "whole-entry"])
def merge(request: pytest.FixtureRequest) -> bool:
    merged: bool = request.param
    return merged


@pytest.fixture
def app(redis_server: RedisServer, merge: bool) -> flask.Flask:
    client = redis.Redis(redis_server.host, redis_server.port, db=REDIS_DB)
    return round_trip_app(RedisStore(client), merge=merge)


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


def test_new_session_is_created_only_where_there_is_none(
    app: flask.Flask, redis_server: RedisServer, merge: bool
) -> None:
    traffic = measure(app, redis_server, "/new", existing=False)
    [command] = traffic.commands
    assert command.arguments.endswith("} NX EX 86410" if merge else "} EX 86410")


@pytest.mark.parametrize("path", ["/write", "/rolling"])
def test_write_reads_then_writes_once(
    app: flask.Flask, redis_server: RedisServer, merge: bool, path: str
) -> None:
    traffic = measure(app, redis_server, path)
    assert traffic.round_trips == 2
    if merge:
        # One script: compare with the text loaded, then SET.
        assert traffic.names == ["GET", "EVALSHA"]
        assert traffic.script_calls == ["GET", "SET"]
    else:
        assert traffic.names == ["GET", "SET"]
        assert traffic.script_calls == []


def test_contended_write_costs_one_more_round_trip_per_retry(
    app: flask.Flask, redis_server: RedisServer, merge: bool
) -> None:
    client: FlaskClient = app.test_client()
    client.get("/new")
    cookie = "; ".join(
        f"{name}={client.get_cookie(name).value}"  # type: ignore[union-attr]
        for name in ("koa.sess", "koa.sess.sig")
    )
    interface = app.session_interface
    with (
        redis_traffic(redis_server.host, redis_server.port, db=REDIS_DB) as traffic,
        app.test_request_context("/", headers={"Cookie": cookie}),
    ):
        session = interface.open_session(app, flask.request)
        assert isinstance(session, KoaSessionDict)
        session["mine"] = 1  # loads: GET
        # Another request of the session saves in between.
        assert client.get("/write").status_code == 200
        interface.save_session(app, session, app.response_class())
    if merge:
        # The first try finds the other save and returns it; the second
        # writes this request's key onto it.
        assert traffic.names == ["GET", "GET", "EVALSHA", "EVALSHA", "EVALSHA"]
    else:
        assert traffic.names == ["GET", "GET", "SET", "SET"]


def test_destroy_reads_then_deletes_in_one_script(
    app: flask.Flask, redis_server: RedisServer
) -> None:
    traffic = measure(app, redis_server, "/logout")
    if app.extensions["koasession"].options.merge:
        # And the way from the old id to a new one, if a login moved it.
        assert traffic.names == ["GET", "EVALSHA", "GET"]
    else:
        assert traffic.names == ["GET", "EVALSHA"]
    assert traffic.script_calls == ["TYPE", "DEL"]


def test_regenerate_reads_writes_the_new_id_then_deletes_the_old(
    app: flask.Flask, redis_server: RedisServer, merge: bool
) -> None:
    traffic = measure(app, redis_server, "/login")
    if merge:
        # The way from the old id to the new one, then one script: the new
        # entry is created (NX) first, then the old one deleted only if it
        # is still the one loaded.
        assert traffic.names == ["GET", "SET", "EVALSHA"]
        assert traffic.script_calls == ["SET", "GET", "DEL"]
        [created] = [command for command in traffic.commands if command.from_script][:1]
        assert created.arguments.endswith(" NX EX 86410")
    else:
        assert traffic.names == ["GET", "SET", "EVALSHA"]
        assert traffic.script_calls == ["TYPE", "DEL"]
