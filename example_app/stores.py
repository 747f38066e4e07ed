"""The session store that ``KOA_SESSION_STORE`` names, checked at start-up.

A mistake in the URL, or a store that cannot be reached, stops the app when it
starts with a message that says what to fix, instead of a 500 on the first
request that writes a session.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

if t.TYPE_CHECKING:
    from flask_koasession.stores import SessionStore

URL_FORMS = """\
KOA_SESSION_STORE takes one of:
  (unset or empty)                      sessions in signed cookies
  memory                                this process only
  redis://[:password@]host:port/db      Redis (also rediss:// and unix://)
  sqlite:///relative/path.db            SQLite file, relative to the working directory
  sqlite:////absolute/path.db           SQLite file, absolute path: four slashes
  postgresql+psycopg://user@host/db     PostgreSQL (any SQLAlchemy URL works)"""


class StoreURLError(ValueError):
    """``KOA_SESSION_STORE`` names no store that can be used."""


def shown(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def store_from_url(url: str) -> SessionStore | None:
    """The store that ``url`` names, connected; ``None`` for cookie sessions.

    :raise StoreURLError: the URL is not a store URL, or the store cannot be
        opened or reached. The message names the value and the fix.
    """
    url = url.strip()
    if not url:
        return None
    if url == "memory":
        from flask_koasession.stores import MemoryStore

        return MemoryStore()
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        return _redis_store(url)
    if scheme and "://" in url:
        return _sql_store(url)
    raise StoreURLError(
        f"KOA_SESSION_STORE={shown(url)!r} is not a store URL.\n{URL_FORMS}"
    )


def _redis_store(url: str) -> SessionStore:
    import redis

    from flask_koasession.stores import RedisStore

    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        client.ping()
    except (ValueError, redis.RedisError) as error:
        raise StoreURLError(
            f"KOA_SESSION_STORE={shown(url)!r}: cannot use this Redis ({error})."
            " Is redis-server running there?"
        ) from error
    return RedisStore(client)


def _sql_store(url: str) -> SessionStore:
    import sqlalchemy as sa

    from flask_koasession.exceptions import SessionStoreError
    from flask_koasession.stores import SQLAlchemyStore

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as error:
        raise StoreURLError(
            f"KOA_SESSION_STORE={shown(url)!r} is not a database URL ({error}).\n"
            f"{URL_FORMS}"
        ) from error
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_path(url, parsed.database or "")
    try:
        store = SQLAlchemyStore(parsed)
    except ValueError as error:  # a dialect SQLAlchemy does not know
        raise StoreURLError(
            f"KOA_SESSION_STORE={shown(url)!r} is not a store URL: SQLAlchemy"
            f" knows no database {parsed.drivername!r}.\n{URL_FORMS}"
        ) from error
    except ImportError as error:  # a known database without its driver
        raise StoreURLError(
            f"KOA_SESSION_STORE={shown(url)!r}: the database driver is not"
            f" installed ({error})."
        ) from error
    except SessionStoreError as error:  # the store makes its table at once
        raise StoreURLError(
            f"KOA_SESSION_STORE={shown(url)!r}: cannot open this database"
            f" ({error.__cause__ or error})."
        ) from error
    return store


def _check_sqlite_path(url: str, database: str) -> None:
    """Fail when the SQLite file's directory does not exist.

    ``sqlite:///srv/app/s.db`` (three slashes) is the *relative* path
    ``srv/app/s.db``: SQLite would only say "unable to open database file".
    """
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    path = Path(database)
    try:
        if path.parent.is_dir():
            return
    except OSError as error:  # a name too long, say
        raise StoreURLError(
            f"KOA_SESSION_STORE={url!r}: cannot use this path for the SQLite"
            f" file ({error.strerror})."
        ) from error
    if path.is_absolute():
        hint = f"Create the directory {str(path.parent)!r} first."
    else:
        hint = (
            f"Three slashes make a path relative to the working directory"
            f" ({os.getcwd()}): this one is {str(path)!r}. For the absolute path"
            f" /{path} use four slashes: 'sqlite:////{path}'. For a relative"
            f" path, create the directory {str(path.parent)!r} first."
        )
    raise StoreURLError(
        f"KOA_SESSION_STORE={url!r}: the directory of the SQLite file does not"
        f" exist. {hint}"
    )
