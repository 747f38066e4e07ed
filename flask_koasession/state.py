"""What the extension keeps per app: ``app.extensions["koasession"]``."""

from __future__ import annotations

import sys
import typing as t

from .cookies import CookieCodec, KeyRing, Keys
from .flask_settings import warn_if_changed
from .sealing import Sealer
from .stores.base import capabilities

if t.TYPE_CHECKING:
    from flask import Flask

    from .flask_settings import FlaskSettings
    from .options import Options
    from .stores.base import StoreCapabilities


class KoaSessionState:
    """What one app keeps in ``app.extensions["koasession"]``.

    :param options: the validated options of this app.
    :param flask_settings: the Flask settings its options' defaults were read
        from, with their values then (see :doc:`/options`); checked for
        changes once, when the app first loads a session.
    """

    def __init__(
        self, options: Options, *, flask_settings: FlaskSettings | None = None
    ) -> None:
        #: The validated options of the app.
        self.options = options
        #: Flask's settings as read at set-up, until the first session load
        #: has compared them with the config (then ``None``).
        self.unchecked_flask_settings = flask_settings
        #: Payloads to cookie values and back, as the options say.
        self.cookie_codec = CookieCodec(options)
        #: The secret keys and the signer made of them.
        self.key_ring = KeyRing(options)
        #: What the ``store`` option's store can do, found once; ``None`` in
        #: cookie mode or with ``store_factory`` (found per request then).
        self.store_capabilities: StoreCapabilities | None = (
            None if options.store is None else capabilities(options.store)
        )
        # By whether it compresses: the keys the sealer was made from, and
        # the sealer: one tuple, so a thread never sees one without the other
        # while the keys rotate.
        self._sealers: dict[bool, tuple[Keys, Sealer]] = {}

    def check_flask_settings(self, app: Flask) -> None:
        """Warn, once, if Flask's settings read at set-up have changed since."""
        settings, self.unchecked_flask_settings = self.unchecked_flask_settings, None
        if settings is not None:
            warn_if_changed(app, settings)

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
