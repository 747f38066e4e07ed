"""A session store in any SQL database that SQLAlchemy 2 speaks.

The store and its one retry after a lost connection live here; the engine it
makes from a URL or path in :mod:`.sql_engines`, its table and statements in
:mod:`.sql_statements`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import typing as t

try:
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError, IntegrityError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError
    from sqlalchemy.pool import StaticPool
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "SQLAlchemyStore needs SQLAlchemy 2: pip install"
        " 'flask-koasession[sqlalchemy]' (or '[postgresql]' for PostgreSQL)"
    ) from error

from ..codec import dumps_json, loads_json
from ..exceptions import SessionStoreError
from .sql_engines import (
    ACCEPTED_FORMS,
    check_sqlite_directory,
    database_url,
    make_engine,
)
from .sql_statements import (
    NATIVE_UPSERT,
    SINGLE_STATEMENT_SWAP,
    IndexStatements,
    Statements,
    define_index_table,
    define_table,
)
from .text import ConditionalTextStore

# An unreachable database, a failed statement, or no pooled connection free.
_ERRORS = (DBAPIError, PoolTimeoutError)

_T = t.TypeVar("_T")


class _Undecided(Exception):
    """A retry cannot tell what the lost first try did: the store raises the
    first try's error rather than guess."""


class SQLAlchemyStore(ConditionalTextStore):
    """Keep sessions in a table of a SQL database, through SQLAlchemy Core.

    Each session is one row: ``id`` (the session id, up to 255 characters),
    ``data`` (the payload's JSON text, the same text koa-redis would store)
    and ``expires_at`` (seconds since the epoch, ``NULL`` for a
    ``"session"`` entry with no ``session_ttl``). The store creates the
    table, if it does not exist yet, when it is made; with
    ``create_table=False`` it leaves that to :meth:`create_table` or to your
    migrations. Requests never create it. Expired rows are never returned,
    but stay in the table until :meth:`cleanup` deletes them: run
    ``flask koa-session cleanup`` periodically (from cron, say).

    SQLite suits one machine (a file shared by the app's processes);
    PostgreSQL or another server database suits several::

        KoaSession(app, store=SQLAlchemyStore("sqlite:///instance/sessions.db"))
        KoaSession(app, store=SQLAlchemyStore(
            "postgresql+psycopg://app@db.internal/app"))

    On SQLite and PostgreSQL each operation is one statement in autocommit
    mode, atomic on its own: a request that reads its session costs one
    round trip, one that writes two, a new session one (other databases get
    portable statements). Saves are conditional, so that concurrent requests
    of a session keep each other's changes (:doc:`/concurrency`); on
    PostgreSQL that needs the database's default isolation, READ COMMITTED.
    A connection found broken, as after a database restart, is replaced and
    the operation run once more; a database that is down fails it at once.
    Database errors are raised as
    :class:`~flask_koasession.exceptions.SessionStoreError`, the original
    chained as its ``__cause__``. An SQLite file named by a URL or a path is
    opened with a busy timeout (:attr:`sqlite_busy_timeout`) and in
    write-ahead-log mode, with :attr:`sqlite_synchronous`; an engine passed
    in gets none of these. The statements, and why they keep the
    guarantees: :ref:`sqlalchemy-store`.

    The store also indexes sessions by user
    (:class:`~flask_koasession.stores.SessionIndex`, for the
    ``user_id_key`` option) in a second table, :attr:`index_table`, named
    after the first with ``_users`` appended: one row a session handle
    (``handle``, ``user_id``, ``record``, ``expires_at``, ``ended``),
    made and cleaned up with the session table. Each of its operations is
    one statement on SQLite and PostgreSQL too.

    :param engine_or_url: an :class:`~sqlalchemy.engine.Engine`, used as
        given, its connections switched to autocommit unless its execution
        options say ``isolation_level="AUTOCOMMIT"`` already; or a database
        URL (``"sqlite:///path.db"``, ``"sqlite://"`` for an in-memory
        database, which every thread shares,
        ``"postgresql+psycopg://user@host/db"``); or the path of an SQLite
        file, as a ``str`` without ``"://"`` or a :class:`os.PathLike`
        (``"sessions.db"``, ``Path("/var/app/s.db")``), relative paths taken
        from the working directory. For a URL or a path the store makes an
        engine, in autocommit mode, and disposes it in :meth:`close`.
    :param table: the table name; the user index's is this name with
        ``_users`` appended.
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
    :raise ValueError: for an SQLite file whose directory does not exist (as
        :meth:`create_table` does), and for the other mistakes in
        ``engine_or_url`` and ``table``.
    :raise ImportError: when the database's driver is not installed, e.g.
        psycopg for ``postgresql://`` (``flask-koasession[postgresql]``).
    """

    #: Dialects that get a native one-statement upsert (``INSERT ... ON
    #: CONFLICT DO UPDATE``): SQLite's and PostgreSQL's, the two that have it.
    #: Others update, then insert when no row matched, and create a row in
    #: two statements. Read once, when the store is made: a subclass may
    #: leave a dialect out, to run the portable statements on it; naming
    #: another dialect raises :class:`ValueError` when a store on it is made.
    native_upsert_dialects: t.ClassVar[frozenset[str]] = NATIVE_UPSERT

    #: Dialects on which a conditional save is one statement whatever it
    #: finds (an ``UPDATE`` of the live row, ``RETURNING`` what stopped it):
    #: PostgreSQL's. Elsewhere a save that finds the row changed reads it
    #: with a second statement. Read once, as :attr:`native_upsert_dialects`.
    single_statement_swap_dialects: t.ClassVar[frozenset[str]] = SINGLE_STATEMENT_SWAP

    #: Seconds that the engine the store makes for an SQLite file waits for
    #: a lock (sqlite3's ``timeout``; its default is 5), unless the URL says
    #: (``?timeout=...``).
    sqlite_busy_timeout: t.ClassVar[float] = 15.0

    #: ``PRAGMA synchronous`` of the engine the store makes for an SQLite
    #: file. ``"NORMAL"``, in write-ahead-log mode, syncs the log to disk at
    #: checkpoints rather than at every commit: a commit survives the app
    #: crashing, and a power loss may take back the last ones (sessions
    #: written in the last moments), never corrupting the file. ``"FULL"``
    #: (SQLite's default) syncs every commit; ``None`` leaves the setting
    #: alone. Set it on a subclass, or give an engine of your own.
    sqlite_synchronous: t.ClassVar[str | None] = "NORMAL"

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
            self.engine = make_engine(
                database_url(engine_or_url),
                busy_timeout=self.sqlite_busy_timeout,
                synchronous=self.sqlite_synchronous,
            )
            self._owns_engine = True
        else:
            raise TypeError(
                "engine_or_url must be a SQLAlchemy Engine, a database URL or"
                f" the path of an SQLite file, got {engine_or_url!r}."
                f" {ACCEPTED_FORMS}"
            )
        if not table or not isinstance(table, str):
            raise ValueError(f"table must be a non-empty str, got {table!r}.")
        super().__init__(session_ttl=session_ttl)
        self._clock = clock
        self.metadata = sa.MetaData() if metadata is None else metadata
        existing = self.metadata.tables.get(table)
        self.table = (
            define_table(table, self.metadata) if existing is None else existing
        )
        index_name, schema = f"{self.table.name}_users", self.table.schema
        existing = self.metadata.tables.get(
            index_name if schema is None else f"{schema}.{index_name}"
        )
        #: The table of the user index (:meth:`index_session`): the session
        #: table's name with ``_users`` appended, in its schema.
        self.index_table = (
            define_index_table(index_name, self.metadata, schema)
            if existing is None
            else existing
        )
        dialect = self.engine.dialect.name
        native_upsert = dialect in self.native_upsert_dialects
        self._statements = Statements(
            self.table,
            dialect,
            native_upsert=native_upsert,
            single_statement_swap=dialect in self.single_statement_swap_dialects,
        )
        self._index_statements = IndexStatements(
            self.index_table,
            dialect,
            # One statement each needs the upsert and RETURNING (SQLite 3.35).
            native=native_upsert and self.engine.dialect.insert_returning,
        )
        #: Where the store's statements run: the engine in autocommit mode
        #: (the engine made from a URL is in it already). Each statement is
        #: a transaction of its own, atomic alone, which is all that the
        #: conditional writes need under READ COMMITTED (docs/stores.rst).
        self._connections: sa.Engine = (
            self.engine
            if self._owns_engine
            or self.engine.get_execution_options().get("isolation_level")
            == "AUTOCOMMIT"
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
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
        """Create the table (and its index) unless it exists, and the table
        of the user index (:attr:`index_table`).

        Done when the store is made, unless ``create_table=False`` was
        given. Safe to call from several processes at once.

        :raise ValueError: when the database is an SQLite file whose
            directory does not exist, with the file's absolute path (often
            ``sqlite:///srv/s.db``, three slashes, meant as the absolute
            ``sqlite:////srv/s.db``, four).
        :raise SessionStoreError: when the database fails.
        """
        check_sqlite_directory(self.engine.url)
        with self._errors("create_table"):
            for table in (self.table, self.index_table):
                try:
                    table.create(self.engine, checkfirst=True)
                except DBAPIError:
                    # Another process may have created it between our check
                    # and CREATE TABLE.
                    if not sa.inspect(self.engine).has_table(
                        table.name, schema=table.schema
                    ):
                        raise

    def read_text(self, key: str) -> str | bytes | None:
        """Select the row's text unless it is missing or expired.

        :raise SessionStoreError: when the database fails.
        """
        if "\x00" in key:
            return None  # never stored; PostgreSQL would reject the query
        now = self._clock()
        read = self._read
        return self._run("get", key, lambda c: read(c, key, now), retry=True)

    def write_text(self, key: str, text: str, ttl: float | None) -> None:
        """Insert or replace the row of ``key``.

        :raise SessionStoreError: when the database fails.
        """
        params = {"key": key, "text": text, "deadline": _deadline(self._clock(), ttl)}
        statements = self._statements
        upsert = statements.write
        if upsert is not None:
            self._run("set", key, lambda c: c.execute(upsert, params), retry=True)
            return

        def write(connection: sa.Connection) -> None:
            # The portable upsert: UPDATE, and INSERT when no row matched
            # (which fails if another writer inserted the id in between).
            if connection.execute(statements.update, params).rowcount == 0:
                connection.execute(statements.insert, params)

        try:
            self._run("set", key, write, retry=True)
        except SessionStoreError as error:
            if not isinstance(error.__cause__, IntegrityError):
                raise
            # Another writer inserted the id between our UPDATE and INSERT.
            self._run("set", key, write, retry=True)

    def create_text(self, key: str, text: str, ttl: float | None) -> bool:
        """Insert the row of ``key`` unless a live one exists (an expired one
        is replaced).

        :raise SessionStoreError: when the database fails.
        """
        now = self._clock()
        params = {"key": key, "text": text, "deadline": _deadline(now, ttl), "now": now}

        def again(connection: sa.Connection) -> bool:
            # The first try may have inserted the row before its reply was
            # lost: the id (a new session's) then holds this very text.
            return self._create(connection, params) or _holds(
                self._read(connection, key, now), text
            )

        return self._run("create", key, lambda c: self._create(c, params), retry=again)

    def replace_text(
        self, key: str, expected: str | bytes, text: str, ttl: float | None
    ) -> t.Literal[True] | str | bytes | None:
        """Replace the live row of ``key`` whose text is ``expected``; else
        return the row's text as it is now.

        :raise SessionStoreError: when the database fails.
        """
        now = self._clock()
        params = {"text": text, "deadline": _deadline(now, ttl)}
        params.update(self._condition(key, expected, now))
        swap = self._swap

        def again(connection: sa.Connection) -> t.Literal[True] | str | bytes | None:
            outcome = swap(connection, params)
            if outcome is True or outcome is None or _holds(outcome, text):
                # Replaced now; or gone (a logout wins either way); or the
                # row holds this very text, which the lost first try wrote.
                return True if outcome is not None else None
            # Another text: another save came after the first try or in its
            # place, and merging onto it could undo it. No answer.
            raise _Undecided

        return self._run("compare_and_set", key, lambda c: swap(c, params), retry=again)

    def delete_text(
        self, key: str, expected: str | bytes
    ) -> t.Literal[True] | str | bytes | None:
        """Delete the live row of ``key`` whose text is ``expected``; else
        return the row's text as it is now.

        :raise SessionStoreError: when the database fails.
        """
        params = self._condition(key, expected, self._clock())

        def delete(connection: sa.Connection) -> t.Literal[True] | str | bytes | None:
            deleted = connection.execute(self._statements.delete, params)
            if deleted.rowcount == 1:
                return True
            return self._read(connection, key, params["now"])

        def again(connection: sa.Connection) -> t.Literal[True] | str | bytes | None:
            outcome = delete(connection)
            if outcome is None:
                # Deleted by the first try, whose reply was lost, or by
                # another request: no telling which, so no answer.
                raise _Undecided
            return outcome

        return self._run("compare_and_delete", key, delete, retry=again)

    def destroy(self, key: str) -> None:
        """Delete the row of ``key``, if there is one.

        :param key: the session id.
        :raise SessionStoreError: when the database fails.
        """
        if "\x00" in key:
            return
        statement = sa.delete(self.table).where(self.table.c.id == key)
        self._run("destroy", key, lambda c: c.execute(statement), retry=True)

    def cleanup(self) -> int:
        """Delete the expired rows and return how many sessions there were.

        The expired rows of the user index (:attr:`index_table`) go too:
        records past their time to live, and the memory of sessions ended
        long enough ago. They are not counted. A database whose migrations
        made the session table but not the index's is cleaned all the same.

        :raise SessionStoreError: when the database fails.
        """
        now = self._clock()
        expires_at = self.table.c.expires_at
        statement = sa.delete(self.table).where(
            expires_at.is_not(None), expires_at <= now
        )
        removed = self._run(
            "cleanup", None, lambda c: c.execute(statement).rowcount, retry=True
        )
        expired = self._index_statements.delete_expired
        try:
            self._run(
                "cleanup", None, lambda c: c.execute(expired, {"now": now}), retry=True
            )
        except SessionStoreError:
            with self._errors("cleanup"):
                if sa.inspect(self.engine).has_table(
                    self.index_table.name, schema=self.index_table.schema
                ):
                    raise
        return removed

    # -- the user index (SessionIndex) -----------------------------------------

    def index_session(
        self, user_id: str, handle: str, record: dict[str, t.Any], ttl: float | None
    ) -> bool:
        """Insert or replace the row of ``handle``, unless it is ended.

        One statement on SQLite and PostgreSQL: ``INSERT ... ON CONFLICT
        (handle) DO UPDATE ... WHERE NOT ended`` (or the ended row has
        expired), ``RETURNING`` a row only when it wrote.

        :raise SessionStoreError: when the database fails.
        """
        now = self._clock()
        params = {
            "key": handle,
            "user": user_id,
            "text": dumps_json(record),
            "deadline": _deadline(now, ttl),
            "now": now,
            "flag": False,
        }
        statements = self._index_statements
        upsert = statements.index
        if upsert is not None:
            return self._run(
                "index_session",
                handle,
                lambda c: c.execute(upsert, params).first() is not None,
                retry=True,
            )

        def index(connection: sa.Connection) -> bool:
            # UPDATE unless ended; INSERT when there was no row; the row made
            # meanwhile by another call: UPDATE unless ended, again.
            if connection.execute(statements.update_indexed, params).rowcount:
                return True
            try:
                connection.execute(statements.insert, params)
            except IntegrityError:
                updated = connection.execute(statements.update_indexed, params)
                return updated.rowcount == 1
            return True

        return self._run("index_session", handle, index, retry=True)

    def end_session(self, user_id: str, handle: str, ttl: float | None) -> bool:
        """Mark the row of ``handle`` ended (inserting one if there is none),
        its record dropped, for ``ttl`` seconds.

        One statement on SQLite and PostgreSQL: ``INSERT ... ON CONFLICT
        (handle) DO UPDATE``, whose ``SET`` reads whether the row was active
        and ``RETURNING`` tells. The portable statements end an active row,
        else any row, else insert one: the handle is ended whatever runs in
        between, but a session indexed between the first and the second
        reads as not active.

        :raise SessionStoreError: when the database fails.
        """
        now = self._clock()
        params = {
            "key": handle,
            "user": user_id,
            "text": None,
            "deadline": _deadline(now, ttl),
            "now": now,
            "flag": True,
        }
        statements = self._index_statements
        upsert = statements.end

        def end(connection: sa.Connection) -> bool:
            if upsert is not None:
                return connection.execute(upsert, params).scalar_one() is not None
            if connection.execute(statements.end_active, params).rowcount:
                return True
            if connection.execute(statements.end_any, params).rowcount:
                return False
            try:
                connection.execute(statements.insert, params)
            except IntegrityError:
                connection.execute(statements.end_any, params)
            return False

        def again(connection: sa.Connection) -> bool:
            # The first try may have ended the session before its reply was
            # lost: a retry that finds it ended cannot tell who ended it.
            if end(connection):
                return True
            raise _Undecided

        return self._run("end_session", handle, end, retry=again)

    def indexed_sessions(self, user_id: str) -> dict[str, dict[str, t.Any]]:
        """Select the handles and records of the user's active rows (one
        statement). Expired rows stay until :meth:`cleanup`.

        :raise SessionStoreError: when the database fails.
        """
        params = {"user": user_id, "now": self._clock()}
        query = self._index_statements.sessions
        rows = self._run(
            "indexed_sessions",
            user_id,
            lambda c: c.execute(query, params).all(),
            retry=True,
        )
        return {handle: loads_json(text) for handle, text in rows}

    def user_of(self, handle: str) -> str | None:
        """Select the user of the handle's active row (one statement).

        :raise SessionStoreError: when the database fails.
        """
        params = {"key": handle, "now": self._clock()}
        query = self._index_statements.user_of
        user: str | None = self._run(
            "user_of",
            handle,
            lambda c: c.execute(query, params).scalar_one_or_none(),
            retry=True,
        )
        return user

    def close(self) -> None:
        """Dispose the engine's connections if the store made the engine.

        An engine passed in is left alone: its owner disposes it.
        """
        if self._owns_engine:
            self.engine.dispose()

    def _read(
        self, connection: sa.Connection, key: str, now: float
    ) -> str | bytes | None:
        read = connection.execute(self._statements.read, {"key": key, "now": now})
        text: str | bytes | None = read.scalar_one_or_none()
        return text

    def _create(self, connection: sa.Connection, params: dict[str, t.Any]) -> bool:
        """Insert the row unless a live one has its id."""
        statements = self._statements
        if statements.create is not None:
            created = connection.execute(statements.create, params)
            if statements.create_returns:
                return created.first() is not None
            return created.rowcount == 1
        # Two statements, each atomic: an expired row goes, then the INSERT
        # fails if a live row has the id (ours, or another creator's).
        connection.execute(statements.delete_expired, params)
        try:
            connection.execute(statements.insert, params)
        except IntegrityError:
            return False
        return True

    def _condition(
        self, key: str, expected: str | bytes, now: float
    ) -> dict[str, t.Any]:
        """The parameters naming the live row of ``key`` holding ``expected``."""
        if self._statements.reads_bytes:
            if isinstance(expected, str):
                expected = expected.encode()  # compared as read: bytes
        elif isinstance(expected, bytes):
            expected = expected.decode("utf-8", "replace")
        return {"key": key, "expected": expected, "now": now}

    def _swap(
        self, connection: sa.Connection, params: dict[str, t.Any]
    ) -> t.Literal[True] | str | bytes | None:
        """The conditional ``UPDATE``: ``True`` when it replaced the row, else
        the row's text as it is now."""
        statements = self._statements
        if statements.swap is not None:
            # No row: none is live. A row: NULL when the row now holds the
            # new text, else the text that stopped the write.
            found = connection.execute(statements.swap, params).first()
            if found is None:
                return None
            current: str | bytes | None = found[0]
            return True if current is None else current
        if connection.execute(statements.replace, params).rowcount == 1:
            return True
        # A statement of its own, it sees at least what was committed before
        # it began; the next attempt's condition catches anything newer.
        return self._read(connection, params["key"], params["now"])

    def _run(
        self,
        operation: str,
        key: str | None,
        work: t.Callable[[sa.Connection], _T],
        *,
        retry: bool | t.Callable[[sa.Connection], _T] = False,
    ) -> _T:
        """Run ``work`` on a connection in autocommit mode, each statement
        its own transaction; database errors raised as store errors.

        When the connection turns out to be broken (the database restarted
        since it was opened), SQLAlchemy invalidates it and the pool's other
        connections; then ``retry`` (``True``: ``work`` again) runs once on a
        fresh connection. It must be right even if the first try's
        statements ran and only their reply was lost (docs/stores.rst says
        how each operation's retry knows); one that cannot tell raises
        :class:`_Undecided`.
        """
        try:
            with self._use_lock:
                try:
                    with self._connections.connect() as connection:
                        return work(connection)
                except DBAPIError as error:
                    if not (retry and error.connection_invalidated):
                        raise
                    first = error
                again = work if retry is True else retry
                try:
                    with self._connections.connect() as connection:
                        return again(connection)
                except _Undecided:
                    raise first from None
        except _ERRORS as error:
            raise SessionStoreError(type(self).__name__, operation, key) from error

    @contextlib.contextmanager
    def _errors(self, operation: str) -> t.Iterator[None]:
        """Use the database, its errors raised as store errors."""
        try:
            with self._use_lock:
                yield
        except _ERRORS as error:
            raise SessionStoreError(type(self).__name__, operation, None) from error


def _holds(found: object, text: str) -> bool:
    """Whether ``found``, a row's text as read, is ``text``."""
    if isinstance(found, bytes):
        return found == text.encode()
    return found == text


def _deadline(now: float, ttl: float | None) -> float | None:
    return None if ttl is None else now + ttl
