"""SQLAlchemyStore on SQLite (a file, and in memory) against the store
contract, and the forms of its ``engine_or_url`` argument."""

from __future__ import annotations

import pathlib
import sqlite3
import time
import typing as t

import pytest
import sqlalchemy as sa

from devkit.traffic import sqlite_traffic
from flask_koasession.exceptions import SessionStoreError
from flask_koasession.stores import SQLAlchemyStore
from flask_koasession.stores.sql_statements import Statements, define_table
from tests.store_contract import (
    HOUR,
    PAYLOAD,
    PAYLOAD_JSON,
    SESSION_PAYLOAD,
    SQLContract,
    fetch,
    put,
)


class TestSQLiteFileStore(SQLContract):
    @pytest.fixture
    def database_url(self, tmp_path: t.Any) -> str:
        return f"sqlite:///{tmp_path / 'sessions.db'}"

    def test_text_that_is_not_utf8_reads_like_node(
        self, store: SQLAlchemyStore, write_raw: t.Callable[[str, bytes], None]
    ) -> None:
        # sqlite3 cannot read such TEXT as str; the store reads its bytes.
        write_raw("key", b'{"name":"\xff","_session":true}')
        assert fetch(store, "key") == {"name": "\ufffd", "_session": True}

    def test_blob_row_reads_like_text(self, store: SQLAlchemyStore) -> None:
        # SQLite stores a BLOB in a TEXT column as it is.
        store.destroy("key")
        with store.engine.begin() as connection:
            row = {"id": "key", "data": PAYLOAD_JSON, "expires_at": None}
            connection.execute(sa.insert(store.table).values(row))
        assert fetch(store, "key") == PAYLOAD

    def test_processes_share_the_file(
        self, make_store: t.Callable[..., SQLAlchemyStore]
    ) -> None:
        first, second = make_store(), make_store()  # two engines, one file
        put(first, "key", PAYLOAD)
        assert fetch(second, "key") == PAYLOAD


class TestSQLiteFilePortableStatements(TestSQLiteFileStore):
    """Every test again with the portable statements that other dialects
    (MySQL...) get."""

    portable = True


class TestSQLiteFileLocking:
    """An SQLite file shared by threads and processes: write-ahead logging and
    a busy timeout on the engine the store makes, so that a writer neither
    waits for readers nor gives up while other writers commit."""

    def pragma(self, store: SQLAlchemyStore, name: str) -> t.Any:
        with store.engine.connect() as connection:
            return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

    def test_write_ahead_log_and_busy_timeout(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        store = closing(SQLAlchemyStore(tmp_path / "s.db"))
        assert self.pragma(store, "journal_mode") == "wal"
        assert self.pragma(store, "busy_timeout") == 15_000
        # The mode stays with the file: every process opening it uses it.
        with sqlite3.connect(tmp_path / "s.db") as other:
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        other.close()

    def test_synchronous_normal_by_default(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        # In WAL mode NORMAL keeps every commit through an app crash; only a
        # power loss may take back the last ones. 1 is NORMAL, 2 FULL.
        store = closing(SQLAlchemyStore(tmp_path / "s.db"))
        assert self.pragma(store, "synchronous") == 1

    @pytest.mark.parametrize(("value", "level"), [("FULL", 2), ("extra", 3)])
    def test_synchronous_set_on_a_subclass(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
        value: str,
        level: int,
    ) -> None:
        class DurableStore(SQLAlchemyStore):
            sqlite_synchronous = value

        store = closing(DurableStore(tmp_path / "s.db"))
        assert self.pragma(store, "synchronous") == level

    def test_synchronous_left_alone(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        class SQLiteDefault(SQLAlchemyStore):
            sqlite_synchronous = None

        store = closing(SQLiteDefault(tmp_path / "s.db"))
        assert self.pragma(store, "synchronous") == 2  # SQLite's FULL

    def test_unknown_synchronous_is_a_value_error(self, tmp_path: pathlib.Path) -> None:
        class Mistaken(SQLAlchemyStore):
            sqlite_synchronous = "SOMETIMES"

        with pytest.raises(ValueError, match="sqlite_synchronous") as caught:
            Mistaken(tmp_path / "s.db")
        assert "'SOMETIMES'" in str(caught.value)
        assert "'NORMAL'" in str(caught.value)

    def test_timeout_in_the_url_wins(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        store = closing(SQLAlchemyStore(f"sqlite:///{tmp_path / 's.db'}?timeout=2"))
        assert self.pragma(store, "busy_timeout") == 2000

    def test_engine_passed_in_is_left_as_it_is(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
        try:
            store = closing(SQLAlchemyStore(engine))
            assert self.pragma(store, "journal_mode") == "delete"
        finally:
            engine.dispose()

    def test_a_reader_never_holds_up_a_save(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        # Another process in the middle of a read transaction. With a
        # rollback journal a writer cannot commit until it ends: the save
        # waited out the busy timeout and failed with "database is locked".
        store = closing(SQLAlchemyStore(tmp_path / "s.db"))
        put(store, "key", PAYLOAD)
        reader = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
        try:
            reader.execute("BEGIN")
            assert reader.execute(f"SELECT count(*) FROM {store.table.name}").fetchone()
            started = time.monotonic()
            put(store, "key", SESSION_PAYLOAD, "session")
            assert store.create("other", PAYLOAD, HOUR)
            assert time.monotonic() - started < 2
            reader.execute("COMMIT")
        finally:
            reader.close()
        assert fetch(store, "key") == SESSION_PAYLOAD


class TestStatementsSettledOnce:
    """What the dialect can do is settled when the store is made, from its
    two class attributes: the one switch."""

    def test_a_dialect_left_out_gets_the_portable_statements(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        class Portable(SQLAlchemyStore):
            native_upsert_dialects = frozenset({"postgresql"})

        native = closing(SQLAlchemyStore(tmp_path / "native.db"))
        portable = closing(Portable(tmp_path / "portable.db"))
        for store, create, write in (
            (native, ["INSERT"], ["INSERT"]),
            (portable, ["DELETE", "INSERT"], ["UPDATE", "INSERT"]),
        ):
            with sqlite_traffic(store.engine) as traffic:
                assert store.create("new", PAYLOAD, HOUR)
            assert traffic.kinds == create
            with sqlite_traffic(store.engine) as traffic:
                put(store, "written", PAYLOAD)
            assert traffic.kinds == write
            assert fetch(store, "new") == fetch(store, "written") == PAYLOAD

    def test_a_dialect_without_the_statement_is_a_value_error(
        self, tmp_path: pathlib.Path
    ) -> None:
        class Mistaken(SQLAlchemyStore):
            single_statement_swap_dialects = frozenset({"sqlite", "postgresql"})

        with pytest.raises(ValueError, match="single_statement_swap") as caught:
            Mistaken(tmp_path / "s.db")
        assert str(caught.value) == (
            "SQLAlchemyStore.single_statement_swap_dialects names 'sqlite', but"
            " that statement exists only for 'postgresql': leave 'sqlite' out."
        )
        assert not (tmp_path / "s.db").exists()  # refused before any connection

    def test_no_native_upsert_but_sqlite_and_postgresql(self) -> None:
        table = define_table("t", sa.MetaData())
        for dialect in ("sqlite", "postgresql"):
            assert (
                Statements(
                    table, dialect, native_upsert=True, single_statement_swap=False
                ).create
                is not None
            )
        with pytest.raises(ValueError, match="only for 'postgresql' and 'sqlite'"):
            Statements(table, "mysql", native_upsert=True, single_statement_swap=False)


class TestSQLiteMemoryStore(SQLContract):
    @pytest.fixture
    def database_url(self) -> str:
        return "sqlite://"


@pytest.fixture
def closing() -> t.Iterator[t.Callable[[SQLAlchemyStore], SQLAlchemyStore]]:
    """Close the stores a test makes."""
    stores: list[SQLAlchemyStore] = []
    yield lambda store: stores.append(store) or store
    for store in stores:
        store.close()


class PathLikeOnly:
    """An os.PathLike that is no pathlib.Path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path


class TestSQLAlchemyStoreArgument:
    """``engine_or_url``: an Engine, a URL, or the path of an SQLite file."""

    def test_relative_path_is_a_file_in_the_working_directory(
        self,
        tmp_path: pathlib.Path,
        monkeypatch: pytest.MonkeyPatch,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        monkeypatch.chdir(tmp_path)
        store = closing(SQLAlchemyStore("sessions.db"))
        assert store.engine.url.get_backend_name() == "sqlite"
        assert store.engine.url.database == "sessions.db"
        put(store, "key", PAYLOAD)
        assert (tmp_path / "sessions.db").is_file()
        # The same file as the URL "sqlite:///" + the path.
        same = closing(SQLAlchemyStore("sqlite:///sessions.db"))
        assert fetch(same, "key") == PAYLOAD

    def test_relative_path_in_a_directory(
        self,
        tmp_path: pathlib.Path,
        monkeypatch: pytest.MonkeyPatch,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        (tmp_path / "instance").mkdir()
        monkeypatch.chdir(tmp_path)
        store = closing(SQLAlchemyStore("instance/sessions.db"))
        put(store, "key", PAYLOAD)
        assert (tmp_path / "instance" / "sessions.db").is_file()

    def test_absolute_path(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        path = str(tmp_path / "s.db")
        store = closing(SQLAlchemyStore(path))
        assert store.engine.url.database == path
        put(store, "key", PAYLOAD)
        same = closing(SQLAlchemyStore(f"sqlite:///{path}"))
        assert fetch(same, "key") == PAYLOAD

    @pytest.mark.parametrize("kind", [pathlib.Path, PathLikeOnly])
    def test_path_object(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
        kind: t.Callable[[str], t.Any],
    ) -> None:
        store = closing(SQLAlchemyStore(kind(str(tmp_path / "p.db"))))
        put(store, "key", PAYLOAD)
        assert (tmp_path / "p.db").is_file()
        same = closing(SQLAlchemyStore(tmp_path / "p.db"))
        assert fetch(same, "key") == PAYLOAD

    def test_path_is_taken_as_it_is(
        self,
        tmp_path: pathlib.Path,
        monkeypatch: pytest.MonkeyPatch,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        # No URL parsing of a path: "?" and "@" are part of the file name.
        monkeypatch.chdir(tmp_path)
        store = closing(SQLAlchemyStore("odd@name?mode=memory.db"))
        put(store, "key", PAYLOAD)
        assert (tmp_path / "odd@name?mode=memory.db").is_file()

    def test_memory_path(
        self, closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore]
    ) -> None:
        store = closing(SQLAlchemyStore(":memory:"))
        put(store, "key", PAYLOAD)
        assert fetch(store, "key") == PAYLOAD

    @pytest.mark.parametrize(
        "value",
        [
            "://no-scheme",
            "not a url://x",
            "postgresql+psycopg://user@host:notaport/db",
            "nosuchdatabase://user@host/db",
            "",
        ],
    )
    def test_unusable_url_is_a_value_error(self, value: str) -> None:
        with pytest.raises(ValueError, match="engine_or_url") as caught:
            SQLAlchemyStore(value)
        message = str(caught.value)
        for form in (
            "'sqlite:///path.db'",
            "'sqlite://'",
            "'postgresql+psycopg://user@host/db'",
            "Engine",
            "file path",
        ):
            assert form in message

    @pytest.mark.parametrize(
        "value",
        [
            "postgresql+psycopg://user:s3cret@host:notaport/db",
            "nosuchdatabase://user:s3cret@host/db",
        ],
    )
    def test_url_error_hides_the_password(self, value: str) -> None:
        with pytest.raises(ValueError, match="engine_or_url") as caught:
            SQLAlchemyStore(value)
        assert "s3cret" not in str(caught.value)

    def test_bytes_path_is_a_value_error(self) -> None:
        class BytesPath:
            def __fspath__(self) -> bytes:
                return b"sessions.db"

        with pytest.raises(ValueError, match="engine_or_url"):
            SQLAlchemyStore(BytesPath())  # type: ignore[arg-type]

    def test_url_object(
        self,
        tmp_path: pathlib.Path,
        closing: t.Callable[[SQLAlchemyStore], SQLAlchemyStore],
    ) -> None:
        url = sa.URL.create("sqlite", database=str(tmp_path / "u.db"))
        store = closing(SQLAlchemyStore(url))
        put(store, "key", PAYLOAD)
        assert (tmp_path / "u.db").is_file()


class TestSQLiteFileErrors:
    """An SQLite file that cannot be opened: the message names it, and the
    slashes of the URL that often cause it."""

    def test_a_missing_directory_is_named_when_the_store_is_made(
        self, tmp_path: t.Any
    ) -> None:
        path = tmp_path / "missing" / "dir" / "s.db"
        url = f"sqlite:///{path}"
        with pytest.raises(ValueError, match="does not exist") as made:
            SQLAlchemyStore(url)
        assert str(made.value) == (
            f"SQLAlchemyStore: the directory of the SQLite file '{path}' does not"
            f" exist. Create the directory '{path.parent}' first. (The URL"
            f" 'sqlite:///{path}' has four slashes, the path is absolute; with"
            " three it would be relative to the working directory.)"
        )
        store = SQLAlchemyStore(url, create_table=False)
        try:
            with pytest.raises(ValueError, match="does not exist"):
                store.create_table()
            # A request still meets the database's own error.
            with pytest.raises(SessionStoreError) as caught:
                put(store, "key", PAYLOAD)
            assert (caught.value.store, caught.value.operation) == (
                "SQLAlchemyStore",
                "set",
            )
            assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
        finally:
            store.close()
        assert not (tmp_path / "missing").exists()

    @pytest.mark.parametrize("given", ["sqlite:///srv/app/s.db", "srv/app/s.db"])
    def test_three_slashes_meant_as_absolute_are_named(
        self,
        tmp_path: pathlib.Path,
        monkeypatch: pytest.MonkeyPatch,
        given: str,
    ) -> None:
        # The path is relative: the message resolves it and shows both forms.
        monkeypatch.chdir(tmp_path)
        with pytest.raises(ValueError, match="does not exist") as made:
            SQLAlchemyStore(given)
        message = str(made.value)
        for part in (
            f"SQLite file '{tmp_path}/srv/app/s.db'",
            f"relative to the working directory ({tmp_path})",
            "'sqlite:///srv/app/s.db' (three slashes)",
            "For the absolute path '/srv/app/s.db' use four slashes:"
            " 'sqlite:////srv/app/s.db'",
            f"create the directory '{tmp_path}/srv/app' first",
        ):
            assert part in message
        assert not (tmp_path / "srv").exists()

    def test_a_path_the_system_refuses_is_named(self, tmp_path: t.Any) -> None:
        path = tmp_path / ("d" * 300) / "s.db"
        with pytest.raises(ValueError, match="too long") as made:
            SQLAlchemyStore(path)
        assert str(made.value) == (
            f"SQLAlchemyStore: cannot use the SQLite file '{path}': File name too long."
        )
