"""What the extension keeps per app: ``app.extensions["koasession"]``."""

from __future__ import annotations

import sys
import typing as t
import uuid

from . import flask_settings, users
from .cookies import CookieCodec, Keygrip, KeyRing, Keys, Signer
from .option_sources import given_options, parse_options
from .sealing import Sealer
from .stores.base import capabilities

if t.TYPE_CHECKING:
    from flask import Flask
    from flask.config import Config

    from .stores.base import SessionIndex, SessionStore, StoreCapabilities


#: ``app.config`` key holding a dict of options.
CONFIG_KEY = "KOA_SESSION"


class KoaSessionState:
    """What one app keeps in ``app.extensions["koasession"]``: its options,
    and what is made of them once.

    The options are made from ``app.config["KOA_SESSION"]``, the options
    given in code and Flask's session settings, and made again when the
    config changes (:meth:`reconfigure`), as Flask reads its settings on
    every request.

    :param config: the app's config.
    :param given: the options given to ``KoaSession(...)`` and to
        ``init_app(...)``, lowest priority first.
    :raise ValueError: for an unknown option or a value out of range.
    :raise TypeError: for a value of the wrong type.
    """

    def __init__(
        self, config: Config, given: tuple[t.Mapping[str, t.Any], t.Mapping[str, t.Any]]
    ) -> None:
        self._given = given
        #: Whether the first session load checked Flask-Login's set-up.
        self.login_checked = False
        # The stores made from URLs, kept when the options are made again.
        self._stores: dict[tuple[str, bool], SessionStore] = {}
        self._configure(config)

    def _configure(self, config: Config) -> None:
        shared, own = self._given
        sources = (
            (config.get(CONFIG_KEY) or {}, f'app.config["{CONFIG_KEY}"]'),
            (shared, "KoaSession(...)"),
            (own, "init_app(...)"),
        )
        # Flask's SESSION_COOKIE_* and lifetime settings: the lowest source.
        from_flask = flask_settings.read(config, given_options(*sources))
        options = parse_options(
            (from_flask, "Flask's settings"), *sources, stores=self._stores
        )
        #: What the options were made of: Flask's settings
        #: (:func:`.flask_settings.watch`), and a copy of ``KOA_SESSION``.
        self.watch = flask_settings.watch(config)
        given_in_config = config.get(CONFIG_KEY)
        self.config_options = (
            dict(given_in_config)
            if isinstance(given_in_config, dict)
            else given_in_config
        )
        #: The validated options of the app.
        self.options = options
        #: Payloads to cookie values and back, as the options say.
        self.cookie_codec = CookieCodec(options)
        signer: t.Callable[[Keys, str], Signer] = Keygrip
        #: Makes a new store id (with the default ``genid``).
        self.make_id: t.Callable[[], object] = uuid.uuid4
        if options.wire == "express-session":
            from . import express  # it needs the [redis] extra

            signer, self.make_id = express.ExpressSigner, express.new_id
            t.cast("express.ExpressPayloads", options.store).bind_cookie(options)
        #: The secret keys and the signer made of them.
        self.key_ring = KeyRing(options, signer)
        #: What the ``store`` option's store can do, found once; ``None`` in
        #: cookie mode or with ``store_factory`` (found per request then).
        self.store_capabilities: StoreCapabilities | None = (
            None if options.store is None else capabilities(options.store)
        )
        #: When this process last wrote each session's ``last_seen``.
        self.seen_times = users.SeenTimes()
        #: Where ``user_id_key`` keeps each user's sessions: the ``registry``
        #: option, else the store; ``None`` when the option is off.
        self.registry: SessionIndex | None = None
        #: Ends the sessions of users (``user_id_key``), ``None`` when off.
        self.revoker: users.Revoker | None = None
        if options.user_id_key is not None:
            self.registry = t.cast(
                "SessionIndex",
                options.registry if options.registry is not None else options.store,
            )
            self.revoker = users.Revoker(self.registry, options.store, options.max_age)
        # By whether it compresses: the keys the sealer was made from, and
        # the sealer: one tuple, so a thread never sees one without the other
        # while the keys rotate.
        self._sealers: dict[bool, tuple[Keys, Sealer]] = {}

    def reconfigure(self, config: Config) -> None:
        """Make the options again from ``config``: called when it changed
        since they were made (see :attr:`watch`).

        :raise ValueError: for a changed setting out of range.
        :raise TypeError: for a changed setting of the wrong type.
        """
        self._configure(config)

    def sealer(self, app: Flask, *, compress: bool) -> Sealer | None:
        """The sealer of cookie values: it encrypts with the ``encrypt``
        option, and deflates when ``compress`` says; ``None`` when it would
        do neither. Encryption uses the app's keys.

        :param compress: whether it deflates (when that makes a value
            shorter).
        :raise RuntimeError: when encryption is on and no key is configured.
        """
        options = self.options
        if not (options.encrypt or compress):
            return None
        keys = self.key_ring.keys(app) if options.encrypt else ()
        sealer = self._sealers.get(compress)
        if sealer is None or sealer[0] != keys:
            made = Sealer(
                keys,
                options.key,
                encrypt=options.encrypt,
                compress=compress,
                # Loading refuses a value longer than MAX_COOKIE_SIZE allows
                # (incoming_limit) before it gets here, as for plain values:
                # whatever the app may write, it reads back.
                max_value_length=sys.maxsize,
            )
            sealer = self._sealers[compress] = (keys, made)
        return sealer[1]
