"""A session store named by a URL: :func:`store_from_url`.

One string, from the environment or a config file, chooses the store and
where it lives. Each store's module is imported only for a URL that needs it,
so that a missing extra is an error naming it rather than an import error at
start-up.
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import urlsplit

from .memory import MemoryStore

if t.TYPE_CHECKING:
    from .base import SessionStore

#: What :func:`store_from_url` accepts, for the messages of its errors.
URL_FORMS = """\
A store URL is one of:
  memory                               MemoryStore: this process only
  redis://[[user]:password@]host[:port][/db]
                                       RedisStore (also rediss:// for TLS and
                                       unix:///path/to/redis.sock)
  sqlite:///relative/path.db           SQLAlchemyStore on an SQLite file,
                                       relative to the working directory
  sqlite:////absolute/path.db          the same, absolute path: four slashes
  postgresql://user:password@host/db   SQLAlchemyStore on PostgreSQL, through
                                       psycopg 3 (postgresql+psycopg:// too)
  or any other SQLAlchemy database URL (mysql+pymysql://user@host/db...)"""

_REDIS_SCHEMES = frozenset(("redis", "rediss", "unix"))

#: The scheme of an SQLAlchemy URL: a name, and maybe ``+driver``.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\+[A-Za-z0-9_]+)?")

#: The user info of a URL with a password (``scheme://user:password@``), and
#: a password in the query string (redis-py's ``unix://...?password=``).
_PASSWORDS = re.compile(r"^([^:/?#]+://[^:/?#@]*:)[^/?#]*(@)|([?&]password=)[^&#]*")


def store_from_url(url: str) -> SessionStore:
    """The session store that ``url`` names.

    - ``"memory"``: a :class:`~flask_koasession.stores.MemoryStore`, for
      one process (tests, development).
    - ``redis://``, ``rediss://`` (TLS), ``unix://`` (a socket): a
      :class:`~flask_koasession.stores.RedisStore` over
      :func:`~flask_koasession.stores.redis.bounded_redis_client`, which
      gives up on a Redis that stalls in about 4 seconds. It connects on
      first use.
    - ``sqlite:///relative/path.db`` (three slashes: relative to the working
      directory), ``sqlite:////absolute/path.db`` (four), ``postgresql://``
      or ``postgres://``
      (taken as ``postgresql+psycopg://``: psycopg 3, which the
      ``postgresql`` extra installs; name another driver to use it), or any
      other SQLAlchemy database URL: a
      :class:`~flask_koasession.stores.SQLAlchemyStore`, which creates its
      table at once.

    For other settings (a key prefix, ``session_ttl``, a table name) make
    the store yourself.

    :raise ValueError: for a value that is no store URL, or one that cannot
        be read, with the forms accepted; for an SQLite file whose
        directory does not exist. A password in the URL is never repeated.
    :raise ImportError: when the extra that the store needs is not
        installed, with the ``pip install`` command.
    :raise SessionStoreError: when the SQL database cannot be reached to
        create the table.
    """
    if not isinstance(url, str):
        raise TypeError(f"store URL must be a str, got {type(url).__name__}.")
    url = url.strip()
    if url == "memory":
        return MemoryStore()
    scheme, separator, _ = url.partition("://")
    if not (separator and _SCHEME.fullmatch(scheme)):
        raise ValueError(f"{hide_password(url)!r} is not a store URL.\n{URL_FORMS}")
    if scheme.lower() in _REDIS_SCHEMES:
        return _redis_store(url)
    return _sql_store(url, scheme.lower().partition("+")[0])


def hide_password(url: str) -> str:
    """``url`` with its password, if it has one, shown as ``***``."""
    return _PASSWORDS.sub(
        lambda found: f"{found[1]}***{found[2]}" if found[1] else f"{found[3]}***",
        url,
    )


def _redis_store(url: str) -> SessionStore:
    try:
        from .redis import RedisStore, bounded_redis_client
    except ImportError as error:
        raise _missing_extra(url, "the redis package", "redis") from error
    try:
        _check_redis_database(url)
        client = bounded_redis_client(url)
    except ValueError as error:
        raise ValueError(
            f"{hide_password(url)!r} is not a Redis URL that redis-py can read"
            f" ({error}).\n{URL_FORMS}"
        ) from error
    return RedisStore(client)


def _check_redis_database(url: str) -> None:
    """Refuse a database that is not a number: redis-py would quietly use
    database 0 for ``redis://host/sessions``."""
    parts = urlsplit(url)
    if parts.scheme != "unix" and not re.fullmatch(r"/?|/[0-9]+", parts.path):
        raise ValueError(
            f"the database after the host must be a number, as in '/0', not"
            f" {parts.path!r}"
        )


def _sql_store(url: str, database: str) -> SessionStore:
    postgresql = database in ("postgresql", "postgres")
    try:
        import sqlalchemy as sa
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        from .sqlalchemy import SQLAlchemyStore
    except ImportError as error:
        if postgresql or database == "sqlite":
            extra = "postgresql" if postgresql else "sqlalchemy"
            raise _missing_extra(url, "SQLAlchemy", extra) from error
        raise ValueError(
            f"{hide_password(url)!r} is not a store URL.\n{URL_FORMS}\n(Other"
            " database URLs need SQLAlchemy, which is not installed: pip install"
            " 'flask-koasession[sqlalchemy]'.)"
        ) from error
    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError) as error:
        raise ValueError(
            f"{hide_password(url)!r} is not a database URL that SQLAlchemy can"
            f" read ({error}).\n{URL_FORMS}"
        ) from error
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        parsed.get_dialect()
    except NoSuchModuleError as error:
        raise ValueError(
            f"{hide_password(url)!r} is not a store URL: SQLAlchemy knows no"
            f" database {parsed.drivername!r}.\n{URL_FORMS}"
        ) from error
    return SQLAlchemyStore(parsed)


def _missing_extra(url: str, package: str, extra: str) -> ImportError:
    return ImportError(
        f"The store URL {hide_password(url)!r} needs {package}, which is not"
        f" installed: pip install 'flask-koasession[{extra}]'."
    )
