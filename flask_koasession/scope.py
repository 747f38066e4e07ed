"""The request a session belongs to, and what its session work needs from it."""

from __future__ import annotations

import typing as t
import uuid

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
        """A new store id: ``genid(request)``, or ``prefix`` and a UUID4."""
        genid = self.options.genid
        if genid is not None:
            return genid(self.request)
        return (self.options.prefix or "") + str(uuid.uuid4())
