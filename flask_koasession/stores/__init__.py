"""Server-side session stores.

:class:`SessionStore` is the interface, :class:`ConditionalStore`,
:class:`MovingStore` and :class:`SessionIndex` its optional capabilities,
and :class:`TextStore` and :class:`ConditionalTextStore` base classes for
stores that keep JSON text;
:class:`MemoryStore`, :class:`RedisStore` and :class:`SQLAlchemyStore` are
built in. The last two need optional dependencies (``flask-koasession[redis]``,
``flask-koasession[sqlalchemy]``) and are imported only when first used, so
this package imports without them. :func:`store_from_url` makes any of them
from a URL, and :func:`bounded_redis_client` the Redis client it uses.
"""

from __future__ import annotations

import importlib
import typing as t

from .base import (
    ConditionalStore,
    Entry,
    MovingStore,
    SessionIndex,
    SessionStore,
    is_conditional,
)
from .memory import MemoryStore
from .text import ConditionalTextStore, TextStore
from .urls import store_from_url

if t.TYPE_CHECKING:
    from .redis import RedisStore, bounded_redis_client
    from .sqlalchemy import SQLAlchemyStore

__all__ = [
    "ConditionalStore",
    "ConditionalTextStore",
    "Entry",
    "MemoryStore",
    "MovingStore",
    "RedisStore",
    "SQLAlchemyStore",
    "SessionIndex",
    "SessionStore",
    "TextStore",
    "bounded_redis_client",
    "is_conditional",
    "store_from_url",
]

_LAZY = {
    "RedisStore": ".redis",
    "SQLAlchemyStore": ".sqlalchemy",
    "bounded_redis_client": ".redis",
}


def __getattr__(name: str) -> t.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
