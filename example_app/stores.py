"""The session store that ``KOA_SESSION_STORE`` names, checked at start-up.

The URL is :func:`flask_koasession.stores.store_from_url`'s (``memory``,
``redis://...``, ``sqlite:///...``, ``postgresql://...``; see its forms in
:data:`flask_koasession.stores.urls.URL_FORMS`), and empty means cookie
sessions. A mistake in the URL, or a store that cannot be reached, stops the
app when it starts with a message that says what to fix, instead of a 500 on
the first request that uses a session.
"""

from __future__ import annotations

import typing as t

from flask_koasession import SessionStoreError
from flask_koasession.stores import store_from_url
from flask_koasession.stores.urls import hide_password

if t.TYPE_CHECKING:
    from flask_koasession.stores import SessionStore

#: A session id that no store holds: reading it checks that the store answers.
PROBE_ID = "koa-session-example:start-up-check"


class StoreURLError(ValueError):
    """``KOA_SESSION_STORE`` names no store that can be used."""


def open_store(url: str) -> SessionStore | None:
    """The store that ``url`` names, checked to answer; ``None`` for cookie
    sessions (an empty ``url``).

    :raise StoreURLError: the URL is not a store URL, its extra is not
        installed, or the store cannot be opened or reached. The message
        names the value (without its password) and the fix.
    """
    url = url.strip()
    if not url:
        return None
    named = f"KOA_SESSION_STORE={hide_password(url)!r}"
    try:
        store = store_from_url(url)
        # A Redis store connects on first use: make that use now.
        store.get(PROBE_ID, 86_400_000, rolling=False)
    except (ValueError, ImportError) as error:
        raise StoreURLError(f"{named}: {error}") from error
    except SessionStoreError as error:
        raise StoreURLError(
            f"{named}: cannot reach the store ({error}). Is the server running there?"
        ) from error
    return store
