"""The request a session belongs to, and what its session work needs from it."""

from __future__ import annotations

import typing as t
import uuid

from .cookies import COOKIE_OCTETS_IN_WORDS, not_cookie_octets
from .options import MAX_ID_LENGTH

if t.TYPE_CHECKING:
    from flask import Flask, Request

    from .options import Options
    from .sealing import Sealer
    from .signing import Keygrip
    from .state import KoaSessionState
    from .stores.base import SessionStore


_UNSET = object()


class RequestScope:
    """The app, the request and the options of one session; the store, the
    signer and the sealer, each found once, on first use.

    It holds nothing that changes while the request runs: what came in is a
    :class:`~flask_koasession.loading.Loaded` record, what the view asked is
    on the session.
    """

    # Slots and hand-made lazy properties: one is made per request, and
    # functools.cached_property takes a lock on Python 3.11.
    __slots__ = ("_keygrip", "_sealer", "_store", "app", "options", "request", "state")

    def __init__(self, app: Flask, request: Request, state: KoaSessionState) -> None:
        self.app = app
        self.request = request
        self.state = state
        self.options: Options = state.options
        # _UNSET until first used.
        self._store: t.Any = _UNSET
        self._keygrip: t.Any = _UNSET
        self._sealer: t.Any = _UNSET

    @property
    def store(self) -> SessionStore | None:
        """The store of this request (``store_factory`` is called once), or
        ``None`` in cookie mode."""
        store: SessionStore | None = self._store
        if store is _UNSET:
            store = self._store = self.options.make_store(self.request)
        return store

    @property
    def keygrip(self) -> Keygrip | None:
        """The signer, ``None`` when cookies are unsigned. The keys are read
        from the config once per request.

        :raise RuntimeError: when signing is on and no key is configured.
        """
        keygrip: Keygrip | None = self._keygrip
        if keygrip is _UNSET:
            keygrip = self._keygrip = self.state.keygrip(self.app)
        return keygrip

    @property
    def sealer(self) -> Sealer | None:
        """The sealer of the cookie value, ``None`` unless ``encrypt`` or
        ``compress`` is on. The keys are read from the config once per
        request.

        :raise RuntimeError: when encryption is on and no key is configured.
        """
        sealer: Sealer | None = self._sealer
        if sealer is _UNSET:
            sealer = self._sealer = self.state.sealer(self.app)
        return sealer

    @property
    def trusted(self) -> bool:
        """Whether only this app (or one holding its keys) can have written
        the session data: a signed or encrypted cookie (AES-GCM authenticates
        it), or a store entry. Tagged types are restored from such data
        only."""
        options = self.options
        return options.signed or options.encrypt or self.store is not None

    def new_id(self) -> str:
        """A new store id: ``genid(request)``, or ``prefix`` and a UUID4.

        Checked before anything is written under it: an id that no cookie
        can carry would lose the session on every request and leave an
        entry behind each time.

        :raise TypeError: when ``genid`` returns something else than a ``str``.
        :raise ValueError: when the id is empty, longer than 255 characters or
            holds a character a cookie value cannot carry.
        """
        genid = self.options.genid
        if genid is None:
            # Nothing to check: prefix was at set-up, and a UUID's 36
            # characters are letters, digits and dashes.
            return (self.options.prefix or "") + str(uuid.uuid4())
        return check_new_id(genid(self.request))


def check_new_id(made: object) -> str:
    """Return a new store id, if a cookie can carry it and a store key hold it.

    :raise TypeError: when ``made`` is not a ``str``.
    :raise ValueError: when it is empty, too long or holds a character that
        is not a cookie-octet.
    """
    if not isinstance(made, str):
        raise TypeError(
            f"KoaSession option genid returned {type(made).__name__}"
            f" {made!r:.60}: expected genid(request) -> str."
        )
    problem = not_cookie_octets(made)
    if problem is None and len(made) > MAX_ID_LENGTH:
        problem = f"{len(made)} characters"
    if problem is None:
        return made
    raise ValueError(
        f"KoaSession option genid returned {made!r:.60}, which cannot be a"
        f" session id: {problem}. A session id travels in a cookie (or the"
        " external key) and names a store entry: 1 to"
        f" {MAX_ID_LENGTH} characters, {COOKIE_OCTETS_IN_WORDS}."
    )
