"""Round trips to a SQL database per request in store mode, counted on real
PostgreSQL (on the wire, through :class:`devkit.traffic.PostgresRelay`)
and real SQLite (what the library runs).

Issue 12 sets the minimum (read 1, write 2, new 1, untouched 0):
:class:`~flask_koasession.stores.SQLAlchemyStore` runs each operation as one
statement in autocommit mode, with no ``BEGIN``/``COMMIT`` and no pool
pre-ping. Also: what a retry after a lost reply decides.
"""

from __future__ import annotations

import typing as t
import uuid

import flask
import pytest
from flask.testing import FlaskClient

from devkit.servers import PostgresServer
from devkit.traffic import PostgresRelay, sqlite_traffic
from flask_koasession import KoaSession, SessionStoreError, session
from flask_koasession.stores import Entry, SQLAlchemyStore
from tests.helpers import round_trip_app
from tests.store_contract import HOUR, PAYLOAD, SESSION_PAYLOAD, fetch


@pytest.fixture
def relay(postgres_instance: PostgresServer) -> t.Iterator[PostgresRelay]:
    relay = PostgresRelay(postgres_instance.host, postgres_instance.port)
    yield relay
    relay.close()


class Counted(t.NamedTuple):
    store: SQLAlchemyStore
    #: Runs the block and returns the statements of its round trips.
    count: t.Callable[[t.Callable[[], object]], list[str]]


@pytest.fixture(params=["postgresql", "sqlite"])
def counted(request: pytest.FixtureRequest, tmp_path: t.Any) -> t.Iterator[Counted]:
    table = f"trips_{uuid.uuid4().hex[:8]}"
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_instance")
        relay: PostgresRelay = request.getfixturevalue("relay")
        store = SQLAlchemyStore(relay.url(server.url), table=table)

        def count(block: t.Callable[[], object]) -> list[str]:
            relay.reset()
            block()
            # psycopg prepares a statement on its fifth run on a connection:
            # a round trip of the driver's, once, not the store's.
            return [kind for kind in relay.messages if kind != "PREPARE"]

    else:
        store = SQLAlchemyStore(tmp_path / "trips.db", table=table)

        def count(block: t.Callable[[], object]) -> list[str]:
            with sqlite_traffic(store.engine) as traffic:
                block()
            return traffic.kinds

    yield Counted(store, count)
    store.index_table.drop(store.engine, checkfirst=True)
    store.table.drop(store.engine, checkfirst=True)
    store.close()


@pytest.fixture(params=[True, False], ids=["merge", "whole-entry"])
def app(request: pytest.FixtureRequest, counted: Counted) -> flask.Flask:
    return round_trip_app(counted.store, merge=request.param)


#: The statements of a merged login and logout.
MERGED_EXTRA = {
    "/login": ["SELECT", "INSERT|UPDATE", "INSERT", "DELETE"],
    "/logout": ["SELECT", "DELETE", "SELECT"],
}


@pytest.mark.parametrize(
    ("path", "statements"),
    [
        pytest.param("/untouched", [], id="untouched"),
        pytest.param("/read", ["SELECT"], id="read"),
        pytest.param("/write", ["SELECT", "UPDATE|INSERT"], id="write"),
        pytest.param("/new", ["INSERT"], id="new"),
        pytest.param("/login", ["SELECT", "INSERT", "DELETE"], id="regenerate"),
        pytest.param("/logout", ["SELECT", "DELETE"], id="destroy"),
    ],
)
def test_one_statement_per_store_call(
    app: flask.Flask, counted: Counted, path: str, statements: list[str]
) -> None:
    client: FlaskClient = app.test_client()
    if path != "/new":
        client.get("/new")
    if app.extensions["koasession"].options.merge:
        # With merged saves a login first writes the way from its old id to
        # its new one, and a logout reads it (merging.MOVE_WINDOW).
        statements = MERGED_EXTRA.get(path, statements)
    seen = counted.count(lambda: client.get(path))
    # A merged save UPDATEs the row it loaded; a whole-entry one upserts.
    assert len(seen) == len(statements)
    for kind, allowed in zip(seen, statements, strict=True):
        assert kind in allowed.split("|")


def test_contended_save(counted: Counted) -> None:
    # A conditional save that finds the row changed by another request:
    # on PostgreSQL the UPDATE itself returns the row (one round trip); on
    # SQLite a SELECT follows the UPDATE that matched nothing.
    store = counted.store
    assert store.create("key", PAYLOAD, HOUR)
    entry = store.get_entry("key", HOUR, rolling=False)
    assert entry is not None
    other = {**PAYLOAD, "other": 1}
    assert store.compare_and_set(
        "key", entry.version, other, HOUR, rolling=False, changed=True
    )
    outcome: object = None

    def swap() -> None:
        nonlocal outcome
        outcome = store.compare_and_set(
            "key", entry.version, SESSION_PAYLOAD, HOUR, rolling=False, changed=True
        )

    seen = counted.count(swap)
    assert isinstance(outcome, Entry)
    assert outcome.payload == other
    if store.engine.dialect.name == "postgresql":
        assert seen == ["UPDATE"]
    else:
        assert seen == ["UPDATE", "SELECT"]
    assert fetch(store, "key") == other


def test_one_statement_per_index_call(counted: Counted) -> None:
    # The user index (SessionIndex): an upsert that refuses an ended handle,
    # an upsert that ends one and says whether it was active, a SELECT.
    store = counted.store
    calls: list[tuple[t.Callable[[], object], object, str]] = [
        (lambda: store.index_session("u1", "h1", {"n": 1}, 60), True, "INSERT"),
        (lambda: store.indexed_sessions("u1"), {"h1": {"n": 1}}, "SELECT"),
        (lambda: store.user_of("h1"), "u1", "SELECT"),
        (lambda: store.end_session("u1", "h1", 60), True, "INSERT"),
        (lambda: store.index_session("u1", "h1", {}, 60), False, "INSERT"),
    ]
    for call, outcome, statement in calls:
        returned: list[object] = []
        seen = counted.count(lambda call=call, into=returned: into.append(call()))
        assert (returned, seen) == ([outcome], [statement])


# -- retries after a broken connection (PostgreSQL) ------------------------------


@pytest.fixture
def relayed(
    postgres_instance: PostgresServer, relay: PostgresRelay
) -> t.Iterator[SQLAlchemyStore]:
    store = SQLAlchemyStore(
        relay.url(postgres_instance.url), table=f"lost_{uuid.uuid4().hex[:8]}"
    )
    yield store
    store.index_table.drop(store.engine, checkfirst=True)
    store.table.drop(store.engine, checkfirst=True)
    store.close()


def test_broken_connection_is_replaced_without_a_pre_ping(
    relayed: SQLAlchemyStore, relay: PostgresRelay
) -> None:
    # The read's reply is lost and its connection closed: the store reads
    # again on a fresh connection, and the request never sees the failure.
    assert relayed.create("key", PAYLOAD, HOUR)
    relay.cut_next_reply()
    assert fetch(relayed, "key") == PAYLOAD


def test_create_whose_reply_was_lost_is_done(
    relayed: SQLAlchemyStore, relay: PostgresRelay
) -> None:
    # The INSERT ran; its retry finds the row, holding this very text.
    relay.cut_next_reply()
    assert relayed.create("key", PAYLOAD, HOUR)
    assert fetch(relayed, "key") == PAYLOAD
    # Another text under a live id is still refused, on retry too.
    relay.cut_next_reply()
    assert not relayed.create("key", SESSION_PAYLOAD, HOUR)


def test_save_whose_reply_was_lost_is_done(
    relayed: SQLAlchemyStore, relay: PostgresRelay
) -> None:
    assert relayed.create("key", PAYLOAD, HOUR)
    entry = relayed.get_entry("key", HOUR, rolling=False)
    assert entry is not None
    relay.cut_next_reply()
    assert (
        relayed.compare_and_set(
            "key", entry.version, SESSION_PAYLOAD, HOUR, rolling=False, changed=True
        )
        is True
    )
    assert fetch(relayed, "key") == SESSION_PAYLOAD


def test_save_whose_retry_finds_another_text_is_an_error(
    relayed: SQLAlchemyStore, relay: PostgresRelay
) -> None:
    # A retry that finds the row changed cannot tell whether its lost first
    # try wrote and another save followed (merging onto that one would undo
    # it), or another save came first: it reports the failure.
    assert relayed.create("key", PAYLOAD, HOUR)
    entry = relayed.get_entry("key", HOUR, rolling=False)
    assert entry is not None
    relayed.set("key", {"other": 1}, HOUR, rolling=False, changed=True)
    relay.break_connections()
    with pytest.raises(SessionStoreError) as caught:
        relayed.compare_and_set(
            "key", entry.version, SESSION_PAYLOAD, HOUR, rolling=False, changed=True
        )
    assert caught.value.operation == "compare_and_set"
    assert fetch(relayed, "key") == {"other": 1}


def test_delete_whose_reply_was_lost_is_an_error(
    relayed: SQLAlchemyStore, relay: PostgresRelay
) -> None:
    # After a lost reply the row is gone, deleted by the first try or by
    # another request: the retry cannot tell, so the store reports the
    # failure rather than guess (a login must neither undo a logout nor be
    # dropped for nothing).
    assert relayed.create("key", PAYLOAD, HOUR)
    entry = relayed.get_entry("key", HOUR, rolling=False)
    assert entry is not None
    relay.cut_next_reply()
    with pytest.raises(SessionStoreError) as caught:
        relayed.compare_and_delete("key", entry.version)
    assert caught.value.operation == "compare_and_delete"
    assert fetch(relayed, "key") is None


def test_delete_retried_when_the_first_try_did_not_run(
    relayed: SQLAlchemyStore, relay: PostgresRelay
) -> None:
    # A connection broken before the DELETE reached the server (the
    # database restarted, say): the retry finds the row and deletes it.
    assert relayed.create("key", PAYLOAD, HOUR)
    entry = relayed.get_entry("key", HOUR, rolling=False)
    assert entry is not None
    relay.break_connections()
    assert relayed.compare_and_delete("key", entry.version) is True
    assert fetch(relayed, "key") is None


def test_session_survives_a_lost_reply(
    relayed: SQLAlchemyStore, relay: PostgresRelay
) -> None:
    app = flask.Flask(__name__)
    app.secret_key = "lost"
    KoaSession(app, store=relayed)

    @app.get("/")
    def count() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    client = app.test_client()
    assert client.get("/").text == "1"
    relay.cut_next_reply()  # the read's
    assert client.get("/").text == "2"
    assert client.get("/").text == "3"


def test_index_whose_reply_was_lost_is_done(
    relayed: SQLAlchemyStore, relay: PostgresRelay
) -> None:
    # The upsert ran; its retry writes the same record again.
    relay.cut_next_reply()
    assert relayed.index_session("u1", "h1", {"n": 1}, 60) is True
    assert relayed.indexed_sessions("u1") == {"h1": {"n": 1}}


def test_end_whose_reply_was_lost_is_an_error(
    relayed: SQLAlchemyStore, relay: PostgresRelay
) -> None:
    # The first try ended the session; the retry finds it ended and cannot
    # tell by whom, so it reports the failure rather than say "not active".
    assert relayed.index_session("u1", "h1", {"n": 1}, 60)
    relay.cut_next_reply()
    with pytest.raises(SessionStoreError) as caught:
        relayed.end_session("u1", "h1", 60)
    assert (caught.value.operation, caught.value.key) == ("end_session", "h1")
    assert relayed.user_of("h1") is None
    assert relayed.index_session("u1", "h1", {"n": 2}, 60) is False


def test_end_retried_when_the_first_try_did_not_run(
    relayed: SQLAlchemyStore, relay: PostgresRelay
) -> None:
    assert relayed.index_session("u1", "h1", {"n": 1}, 60)
    relay.break_connections()
    assert relayed.end_session("u1", "h1", 60) is True
    assert relayed.user_of("h1") is None
