"""A session store in any SQL database that SQLAlchemy 2 speaks."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import typing as t

try:
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError
    from sqlalchemy.pool import StaticPool
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "SQLAlchemyStore needs SQLAlchemy 2: pip install"
        " 'flask-koasession[sqlalchemy]' (or '[postgresql]' for PostgreSQL)"
    ) from error

from ..exceptions import SessionStoreError
from .base import TextStore

# An unreachable database, a failed statement, or no pooled connection free.
_ERRORS = (DBAPIError, PoolTimeoutError)


class SQLAlchemyStore(TextStore):
    """Keep sessions in a table of a SQL database, through SQLAlchemy Core.

    Each session is one row: ``id`` (the session id, up to 255 characters),
    ``data`` (the payload's JSON text, the same text koa-redis would store)
    and ``expires_at`` (seconds since the epoch, ``NULL`` for a
    ``"session"`` entry with no ``session_ttl``). The store creates the
    table, if it does not exist yet, when it is made; with
    ``create_table=False`` it leaves that to :meth:`create_table` or to your
    migrations. Requests never create it.

    Expired rows are never returned, but stay in the table until
    :meth:`cleanup` deletes them: run ``flask koa-session cleanup``
    periodically (from cron, say).

    SQLite suits one machine (a file shared by the app's processes);
    PostgreSQL or another server database suits several::

        KoaSession(app, store=SQLAlchemyStore("sqlite:///instance/sessions.db"))
        KoaSession(app, store=SQLAlchemyStore(
            "postgresql+psycopg://app@db.internal/app"))

    Database errors are raised as
    :class:`~flask_koasession.exceptions.SessionStoreError`, the original
    chained as its ``__cause__``.

    :param engine_or_url: an :class:`~sqlalchemy.engine.Engine`, used as
        given; or a database URL (``"sqlite:///path.db"``, ``"sqlite://"``
        for an in-memory database, ``"postgresql+psycopg://user@host/db"``);
        or the path of an SQLite file, as a ``str`` without ``"://"`` or a
        :class:`os.PathLike` (``"sessions.db"``, ``Path("/var/app/s.db")``),
        relative paths taken from the working directory. For a URL or a path
        the store makes an engine (with ``pool_pre_ping``, so connections
        broken by a database restart are replaced; a shared ``StaticPool``
        for in-memory SQLite, so that every thread sees the one database)
        and disposes it in :meth:`close`.
    :param table: the table name.
    :param metadata: a :class:`~sqlalchemy.schema.MetaData` to define the
        table in, e.g. the one your migrations use. If it already defines a
        table of that name, that table is used.
    :param session_ttl: seconds that a ``"session"`` entry is kept, or
        ``None`` to keep it until it is destroyed.
    :param create_table: create the table now (when missing). Pass
        ``False`` when migrations create it, or when the database may be
        unreachable while the app starts; then call :meth:`create_table`
        once it is.
    :param clock: returns the current time in seconds since the epoch; tests
        pass a fake one. Every process sharing the table must agree on it.
    :raise SessionStoreError: when the table cannot be created (operation
        ``"create_table"``).
    """

    #: Dialects that get a native one-statement upsert (``INSERT ... ON
    #: CONFLICT DO UPDATE``). Others update, then insert when no row matched.
    native_upsert_dialects: t.ClassVar[frozenset[str]] = frozenset(
        ("sqlite", "postgresql")
    )

    def __init__(
        self,
        engine_or_url: sa.Engine | sa.URL | str | os.PathLike[str],
        table: str = "koa_sessions",
        *,
        metadata: sa.MetaData | None = None,
        session_ttl: int | None = None,
        create_table: bool = True,
        clock: t.Callable[[], float] = time.time,
    ) -> None:
        if isinstance(engine_or_url, sa.Engine):
            self.engine = engine_or_url
            self._owns_engine = False
        elif isinstance(engine_or_url, (str, sa.URL, os.PathLike)):
            self.engine = _create_engine(_database_url(engine_or_url))
            self._owns_engine = True
        else:
            raise TypeError(
                "engine_or_url must be a SQLAlchemy Engine, a database URL or"
                f" the path of an SQLite file, got {engine_or_url!r}."
                f" {_ACCEPTED_FORMS}"
            )
        if not table or not isinstance(table, str):
            raise ValueError(f"table must be a non-empty str, got {table!r}.")
        super().__init__(session_ttl=session_ttl)
        self._clock = clock
        self.metadata = sa.MetaData() if metadata is None else metadata
        existing = self.metadata.tables.get(table)
        self.table = (
            _define_table(table, self.metadata) if existing is None else existing
        )
        # One connection shared by all threads must serve one of them at a time.
        self._use_lock: t.ContextManager[object] = (
            threading.Lock()
            if isinstance(self.engine.pool, StaticPool)
            else contextlib.nullcontext()
        )
        if create_table:
            self.create_table()

    def create_table(self) -> None:
        """Create the table (and its index) unless it exists.

        Done when the store is made, unless ``create_table=False`` was
        given. Safe to call from several processes at once.

        :raise SessionStoreError: when the database fails.
        """
        with self._errors("create_table"):
            try:
                self.table.create(self.engine, checkfirst=True)
            except DBAPIError:
                # Another process may have created it between our check and
                # CREATE TABLE.
                if not sa.inspect(self.engine).has_table(
                    self.table.name, schema=self.table.schema
                ):
                    raise

    def read_text(self, key: str) -> str | bytes | None:
        """Select the row's text unless it is missing or expired.

        :raise SessionStoreError: when the database fails.
        """
        if "\x00" in key:
            return None  # never stored; PostgreSQL would reject the query
        columns = self.table.c
        data: sa.ColumnElement[t.Any] = columns.data
        if self.engine.dialect.name == "sqlite":
            # SQLite keeps whatever bytes were written into a TEXT column, and
            # sqlite3 fails on reading text that is not UTF-8: read bytes,
            # which decode_payload decodes leniently, so such a row is no
            # session rather than an error on every request with its id.
            data = sa.cast(data, sa.LargeBinary)
        query = sa.select(data).where(
            columns.id == key,
            sa.or_(columns.expires_at.is_(None), columns.expires_at > self._clock()),
        )
        with self._begin("get", key) as connection:
            text: str | bytes | None = connection.execute(query).scalar_one_or_none()
        return text

    def write_text(self, key: str, text: str, ttl: float | None) -> None:
        """Insert or replace the row of ``key``.

        :raise SessionStoreError: when the database fails.
        """
        row = {
            "id": key,
            "data": text,
            "expires_at": None if ttl is None else self._clock() + ttl,
        }
        if self.engine.dialect.name in self.native_upsert_dialects:
            with self._begin("set", key) as connection:
                connection.execute(self._upsert(row))
            return
        try:
            with self._begin("set", key) as connection:
                _update_or_insert(connection, self.table, row)
        except SessionStoreError as error:
            if not isinstance(error.__cause__, IntegrityError):
                raise
            # Another writer inserted the id between our UPDATE and INSERT.
            with self._begin("set", key) as connection:
                _update_or_insert(connection, self.table, row)

    def destroy(self, key: str) -> None:
        """Delete the row of ``key``, if there is one.

        :param key: the session id.
        :raise SessionStoreError: when the database fails.
        """
        if "\x00" in key:
            return
        with self._begin("destroy", key) as connection:
            connection.execute(sa.delete(self.table).where(self.table.c.id == key))

    def cleanup(self) -> int:
        """Delete the expired rows and return how many there were.

        :raise SessionStoreError: when the database fails.
        """
        expires_at = self.table.c.expires_at
        statement = sa.delete(self.table).where(
            expires_at.is_not(None), expires_at <= self._clock()
        )
        with self._begin("cleanup") as connection:
            return connection.execute(statement).rowcount

    def close(self) -> None:
        """Dispose the engine's connections if the store made the engine.

        An engine passed in is left alone: its owner disposes it.
        """
        if self._owns_engine:
            self.engine.dispose()

    @contextlib.contextmanager
    def _errors(self, operation: str, key: str | None = None) -> t.Iterator[None]:
        """Use the database, its errors raised as store errors."""
        try:
            with self._use_lock:
                yield
        except _ERRORS as error:
            raise SessionStoreError(type(self).__name__, operation, key) from error

    @contextlib.contextmanager
    def _begin(
        self, operation: str, key: str | None = None
    ) -> t.Iterator[sa.Connection]:
        """A transaction, with database errors raised as store errors."""
        with self._errors(operation, key), self.engine.begin() as connection:
            yield connection

    def _upsert(self, row: dict[str, t.Any]) -> sa.Executable:
        insert = (
            postgresql.insert
            if self.engine.dialect.name == "postgresql"
            else sqlite.insert
        )
        statement = insert(self.table).values(row)
        return statement.on_conflict_do_update(
            index_elements=[self.table.c.id],
            set_={
                "data": statement.excluded.data,
                "expires_at": statement.excluded.expires_at,
            },
        )


def _define_table(name: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=True, index=True),
    )


def _update_or_insert(
    connection: sa.Connection, table: sa.Table, row: dict[str, t.Any]
) -> None:
    # The portable upsert: UPDATE, and INSERT when no row matched.
    values = {"data": row["data"], "expires_at": row["expires_at"]}
    updated = connection.execute(
        sa.update(table).where(table.c.id == row["id"]).values(values)
    )
    if updated.rowcount == 0:
        connection.execute(sa.insert(table).values(row))


_ACCEPTED_FORMS = (
    "Accepted: a URL such as 'sqlite:///path.db' (a file), 'sqlite://' (in"
    " memory) or 'postgresql+psycopg://user@host/db', a SQLAlchemy Engine, or"
    " a file path such as 'sessions.db' or pathlib.Path('/var/app/sessions.db')"
    " for an SQLite file."
)


def _database_url(value: str | sa.URL | os.PathLike[str]) -> sa.URL:
    """The URL of a URL, or of an SQLite file given by its path.

    :raise ValueError: for a string with ``"://"`` that is not a URL.
    """
    if isinstance(value, sa.URL):
        return value
    if isinstance(value, os.PathLike) or "://" not in value:
        path = os.fspath(value)
        if not isinstance(path, str) or not path:
            raise ValueError(
                f"engine_or_url {value!r} is neither a database URL nor a"
                f" file path. {_ACCEPTED_FORMS}"
            )
        # As given: "sqlite:///" + "s.db" is relative, + "/tmp/s.db" absolute.
        return sa.URL.create("sqlite", database=path)
    try:
        return sa.make_url(value)
    except (ArgumentError, ValueError) as error:
        # The text is not repeated: it may hold a password.
        raise ValueError(
            f"engine_or_url is not a valid database URL ({error}). {_ACCEPTED_FORMS}"
        ) from error


def _create_engine(parsed: sa.URL) -> sa.Engine:
    """An engine for ``parsed``.

    :raise ValueError: when SQLAlchemy knows no such database (an unknown
        dialect name, say).
    """
    try:
        if parsed.get_backend_name() == "sqlite" and _is_sqlite_memory(parsed):
            # One connection for all threads, else each sees its own empty
            # database.
            return sa.create_engine(
                parsed,
                poolclass=StaticPool,
                connect_args={"check_same_thread": False},
            )
        return sa.create_engine(parsed, pool_pre_ping=True)
    except ArgumentError as error:
        shown = parsed.render_as_string(hide_password=True)
        raise ValueError(
            f"engine_or_url {shown!r} is not a usable database URL: {error}."
            f" {_ACCEPTED_FORMS}"
        ) from error


def _is_sqlite_memory(url: sa.URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"
