"""Saving and removing a session: the last steps of koa-session's commit.

:func:`save` writes the payload (the data and koa's bookkeeping) to the cookie
or to the store; every store write goes through :func:`save_to_store`.
:func:`remove` deletes a store entry and expires the cookies;
:func:`remove_entry` deletes an entry alone (the old one, after
``regenerate()``).
"""

from __future__ import annotations

import typing as t

from .max_age import store_ttl
from .payload import bookkeeping

if t.TYPE_CHECKING:
    from flask import Response

    from .cookies import CookieWriter
    from .loading import Loaded
    from .max_age import MaxAge
    from .scope import RequestScope
    from .stores.base import SessionStore


def save(
    scope: RequestScope,
    writer: CookieWriter,
    response: Response,
    *,
    loaded: Loaded,
    store_id: str | None,
    data: dict[str, t.Any],
    data_json: str,
    max_age: MaxAge,
    now: int,
    changed: bool,
) -> None:
    """Save a session: to the cookie, or to the store and its id to the
    cookie (or to the ``external_key``).

    :param loaded: what came with the request.
    :param store_id: the id to save under (store mode).
    :param data: the session data; ``data_json`` is its serialized text.
    :param max_age: the session's max age.
    :param now: the time of the save, in epoch milliseconds.
    :param changed: whether the save is due to a change of the data (the
        store's ``changed`` flag).
    """
    extra = bookkeeping(max_age, now)
    expire = extra.get("_expire")
    store = scope.store
    if store is None:
        value = scope.state.cookie_codec.dumps(data, data_json, extra, scope.sealer)
        writer.set(value, expire)
        return
    assert store_id is not None
    options = scope.options
    save_to_store(
        store,
        loaded,
        store_id,
        {**data, **extra},
        store_ttl(max_age),
        rolling=options.rolling,
        changed=changed,
    )
    if options.external_key is not None:
        options.external_key.set(response, store_id)
    else:
        writer.set(store_id, expire)


def save_to_store(
    store: SessionStore,
    loaded: Loaded,
    store_id: str,
    payload: dict[str, t.Any],
    ttl: MaxAge,
    *,
    rolling: bool,
    changed: bool,
) -> None:
    """Write a session's payload to its store entry: the one place every
    store write goes through.

    The whole entry is replaced, as koa-session does.

    :param loaded: what came with the request (the entry as it was loaded).
    :param ttl: the entry's time to live: the max age plus 10 seconds.
    """
    store.set(store_id, payload, ttl, rolling=rolling, changed=changed)


def remove(scope: RequestScope, writer: CookieWriter, store_id: str | None) -> None:
    """Delete the store entry ``store_id`` (when there is one) and expire the
    session cookies."""
    if store_id is not None:
        remove_entry(scope, store_id)
    writer.remove()


def remove_entry(scope: RequestScope, store_id: str) -> None:
    """Delete the store entry ``store_id`` (store mode; else nothing)."""
    if scope.store is not None:
        scope.store.destroy(store_id)
