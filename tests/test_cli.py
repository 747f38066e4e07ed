"""The ``flask koa-session`` commands."""

from __future__ import annotations

import typing as t

from click.testing import CliRunner
from flask import Flask
from flask.cli import FlaskGroup

from flask_koasession import KoaSession
from flask_koasession.cli import koa_session_cli
from flask_koasession.exceptions import SessionStoreError
from flask_koasession.stores import MemoryStore, SQLAlchemyStore
from tests.store_contract import PAYLOAD, SESSION_PAYLOAD, FakeClock, put


def make_app(store: t.Any = None, *, register: bool = True, **options: t.Any) -> Flask:
    app = Flask(__name__)
    if register:
        app.cli.add_command(koa_session_cli)
    # The real extension: the command reads its validated options.
    KoaSession(app, store=store, **options)
    return app


def cleanup(app: Flask) -> t.Any:
    return app.test_cli_runner().invoke(args=["koa-session", "cleanup"])


def test_cleanup_removes_expired_sessions() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    put(store, "a", PAYLOAD, 1000)
    put(store, "b", PAYLOAD, 1000)
    put(store, "kept", SESSION_PAYLOAD, "session")
    clock.advance(2)
    result = cleanup(make_app(store))
    assert result.exit_code == 0, result.output
    assert result.output == "Removed 2 expired sessions.\n"
    assert cleanup(make_app(store)).output == "Removed 0 expired sessions.\n"


def test_cleanup_says_one_session() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    put(store, "a", PAYLOAD, 1000)
    clock.advance(2)
    assert cleanup(make_app(store)).output == "Removed 1 expired session.\n"


def test_cleanup_sql_store(tmp_path: t.Any) -> None:
    clock = FakeClock()
    store = SQLAlchemyStore(f"sqlite:///{tmp_path / 's.db'}", clock=clock)
    try:
        for key in ("a", "b", "c"):
            put(store, key, PAYLOAD, 1000)
        clock.advance(2)
        result = cleanup(make_app(store))
        assert result.exit_code == 0, result.output
        assert result.output == "Removed 3 expired sessions.\n"
    finally:
        store.close()


def test_cleanup_sql_store_given_a_file_path(tmp_path: t.Any) -> None:
    clock = FakeClock()
    store = SQLAlchemyStore(tmp_path / "s.db", clock=clock)
    try:
        put(store, "a", PAYLOAD, 1000)
        put(store, "kept", PAYLOAD, 60_000)
        clock.advance(2)
        result = cleanup(make_app(store))
        assert result.exit_code == 0, result.output
        assert result.output == "Removed 1 expired session.\n"
    finally:
        store.close()


def test_without_the_extension() -> None:
    app = Flask(__name__)
    app.cli.add_command(koa_session_cli)
    result = cleanup(app)
    assert result.exit_code == 1
    assert "not set up on this app" in result.output


def test_without_a_store() -> None:
    result = cleanup(make_app(None))
    assert result.exit_code == 1
    assert "No session store is configured" in result.output


def test_with_a_store_factory() -> None:
    result = cleanup(make_app(None, store_factory=lambda request: MemoryStore()))
    assert result.exit_code == 1
    assert "store_factory" in result.output


class NoCleanupStore:
    def get(self, key: str, max_age: t.Any, *, rolling: bool) -> None:
        return None

    def set(self, key: str, data: t.Any, max_age: t.Any, **flags: bool) -> None:
        pass

    def destroy(self, key: str) -> None:
        pass


def test_store_without_cleanup() -> None:
    result = cleanup(make_app(NoCleanupStore()))
    assert result.exit_code == 1
    assert "NoCleanupStore" in result.output
    assert "has no cleanup()" in result.output


def test_store_error() -> None:
    class DownStore(NoCleanupStore):
        def cleanup(self) -> int:
            try:
                raise ConnectionRefusedError("connection refused")
            except OSError as error:
                raise SessionStoreError("DownStore", "cleanup") from error

    result = cleanup(make_app(DownStore()))
    assert result.exit_code == 1
    assert "DownStore could not cleanup a session" in result.output
    assert "connection refused" in result.output


def test_registered_with_the_flask_command() -> None:
    # The flask.commands entry point makes it part of every "flask" command.
    store = MemoryStore()
    group = FlaskGroup(create_app=lambda: make_app(store, register=False))
    result = CliRunner().invoke(group, ["koa-session", "cleanup"])
    assert result.exit_code == 0, result.output
    assert result.output == "Removed 0 expired sessions.\n"
