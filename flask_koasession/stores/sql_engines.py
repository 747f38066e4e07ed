"""The engine that :class:`~flask_koasession.stores.SQLAlchemyStore` makes
from a database URL or the path of an SQLite file: in autocommit mode, and
for an SQLite file with a busy timeout, write-ahead logging and
``PRAGMA synchronous``. Why each is chosen: ``docs/stores.rst``.
"""

from __future__ import annotations

import os
import pathlib
import typing as t

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

#: What ``engine_or_url`` may be, for the messages of errors about it.
ACCEPTED_FORMS = (
    "Accepted: a URL such as 'sqlite:///path.db' (a file), 'sqlite://' (in"
    " memory) or 'postgresql+psycopg://user@host/db', a SQLAlchemy Engine, or"
    " a file path such as 'sessions.db' or pathlib.Path('/var/app/sessions.db')"
    " for an SQLite file."
)

#: What ``PRAGMA synchronous`` accepts.
_SYNCHRONOUS = frozenset(("OFF", "NORMAL", "FULL", "EXTRA"))


def database_url(value: str | sa.URL | os.PathLike[str]) -> sa.URL:
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
                f" file path. {ACCEPTED_FORMS}"
            )
        # As given: "sqlite:///" + "s.db" is relative, + "/tmp/s.db" absolute.
        return sa.URL.create("sqlite", database=path)
    try:
        return sa.make_url(value)
    except (ArgumentError, ValueError) as error:
        # The text is not repeated: it may hold a password.
        raise ValueError(
            f"engine_or_url is not a valid database URL ({error}). {ACCEPTED_FORMS}"
        ) from error


def make_engine(
    parsed: sa.URL, *, busy_timeout: float, synchronous: str | None
) -> sa.Engine:
    """An engine for ``parsed``, in autocommit mode: every statement of the
    store is a transaction of its own.

    No ``pool_pre_ping``, which costs a round trip per checkout: a broken
    connection is found by the statement itself, and the store retries.

    :raise ValueError: when SQLAlchemy knows no such database (an unknown
        dialect name, say), or ``synchronous`` is no ``PRAGMA synchronous``
        value.
    :raise ImportError: when the database's driver is not installed, with
        what to install.
    """
    backend = parsed.get_backend_name()
    options: dict[str, t.Any] = {"isolation_level": "AUTOCOMMIT"}
    if backend in ("sqlite", "postgresql"):
        # Their drivers tell that a connection is in autocommit mode: the
        # rollback with which a connection goes back to the pool, which has
        # nothing to undo, is skipped rather than sent.
        options["skip_autocommit_rollback"] = True
    try:
        if backend == "sqlite" and _is_sqlite_memory(parsed):
            # One connection for all threads, else each sees its own empty
            # database.
            return sa.create_engine(
                parsed,
                poolclass=StaticPool,
                connect_args={"check_same_thread": False},
                **options,
            )
        if backend == "sqlite" and parsed.get_driver_name() in ("pysqlite", ""):
            return _sqlite_file_engine(
                parsed, options, busy_timeout=busy_timeout, synchronous=synchronous
            )
        return sa.create_engine(parsed, **options)
    except ArgumentError as error:
        shown = parsed.render_as_string(hide_password=True)
        raise ValueError(
            f"engine_or_url {shown!r} is not a usable database URL: {error}."
            f" {ACCEPTED_FORMS}"
        ) from error
    except ImportError as error:  # SQLAlchemy imports the driver here
        raise _missing_driver(parsed, error) from error


def _missing_driver(url: sa.URL, error: ImportError) -> ImportError:
    """The error for a database URL whose driver is not installed."""
    module = error.name or str(error)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() != "postgresql":
        fix = f"install it (SQLAlchemy's driver for {url.drivername!r})"
    elif module == "psycopg":
        fix = "pip install 'flask-koasession[postgresql]'"
    else:
        # psycopg2, say: SQLAlchemy 2.0's driver for "postgresql://".
        fix = (
            "pip install it, or use psycopg 3, which pip install"
            " 'flask-koasession[postgresql]' installs, by writing the URL"
            " 'postgresql+psycopg://...'"
        )
    return ImportError(
        f"SQLAlchemyStore: the database URL {shown!r} needs the {module!r}"
        f" package, which is not installed: {fix}.",
        name=module,
    )


def check_sqlite_directory(url: sa.URL) -> None:
    """Fail, naming the file, when ``url`` is an SQLite file whose directory
    does not exist: SQLite itself says only "unable to open database file".

    The usual cause: ``sqlite:///srv/app/s.db`` (three slashes) is the path
    ``srv/app/s.db``, relative to the working directory; the absolute path
    takes four, ``sqlite:////srv/app/s.db``.

    :raise ValueError: naming the file's absolute path and the fix.
    """
    database = url.database or ""
    if (
        url.get_backend_name() != "sqlite"
        or _is_sqlite_memory(url)
        or database.startswith("file:")  # a URI filename: SQLite's to read
    ):
        return
    path = os.path.abspath(database)
    directory = os.path.dirname(path)
    try:
        if pathlib.Path(directory).is_dir():
            return
    except OSError as error:  # a name too long, say
        raise ValueError(
            f"SQLAlchemyStore: cannot use the SQLite file {path!r}: {error.strerror}."
        ) from error
    if os.path.isabs(database):
        hint = (
            f"Create the directory {directory!r} first. (The URL"
            f" 'sqlite:///{database}' has four slashes, the path is absolute;"
            " with three it would be relative to the working directory.)"
        )
    else:
        hint = (
            f"The path {database!r} is relative to the working directory"
            f" ({os.getcwd()}), as in the URL 'sqlite:///{database}' (three"
            f" slashes). For the absolute path '/{database}' use four slashes:"
            f" 'sqlite:////{database}'. For this relative path, create the"
            f" directory {directory!r} first."
        )
    raise ValueError(
        f"SQLAlchemyStore: the directory of the SQLite file {path!r} does not"
        f" exist. {hint}"
    )


def _sqlite_file_engine(
    url: sa.URL,
    options: dict[str, t.Any],
    *,
    busy_timeout: float,
    synchronous: str | None,
) -> sa.Engine:
    """An engine for an SQLite file shared by threads and processes: a busy
    timeout, write-ahead logging (readers and a writer never block each
    other) and ``synchronous``."""
    if synchronous is not None and synchronous.upper() not in _SYNCHRONOUS:
        raise ValueError(
            f"SQLAlchemyStore.sqlite_synchronous must be one of"
            f" {', '.join(map(repr, sorted(_SYNCHRONOUS)))} or None (leave"
            f" SQLite's setting), got {synchronous!r}."
        )
    connect_args = {}
    if "timeout" not in url.query:
        connect_args["timeout"] = busy_timeout
    engine = sa.create_engine(url, connect_args=connect_args, **options)
    pragmas = ["PRAGMA journal_mode=WAL"]
    if synchronous is not None:
        pragmas.append(f"PRAGMA synchronous={synchronous.upper()}")

    def on_connect(dbapi_connection: t.Any, connection_record: t.Any) -> None:
        # Once per new connection. The journal mode stays with the file (a
        # no-op once in WAL mode, waiting for locks as the busy timeout
        # says); synchronous is the connection's own.
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    sa.event.listen(engine, "connect", on_connect)
    return engine


def _is_sqlite_memory(url: sa.URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"
