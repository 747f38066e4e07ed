"""What the extension keeps per app: ``app.extensions["koasession"]``."""

from __future__ import annotations

import sys
import typing as t

from .cookie_value import CookieCodec
from .flask_settings import warn_if_changed
from .null_session import missing_key
from .sealing import Sealer
from .signing import Keygrip

if t.TYPE_CHECKING:
    from flask import Flask

    from .flask_settings import FlaskSettings
    from .options import Options

Keys = tuple[str | bytes, ...]


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
        self.options = options
        #: Flask's settings as read at set-up, until the first session load
        #: has compared them with the config (then ``None``).
        self.unchecked_flask_settings = flask_settings
        #: Payloads to cookie values and back, as the options say.
        self.cookie_codec = CookieCodec(options)
        # The keys the signer (the sealer) was made from, and the signer (the
        # sealer): one tuple, so a thread never sees one without the other
        # while the keys rotate.
        self._signer: tuple[Keys, Keygrip] | None = None
        self._sealer: tuple[Keys, Sealer] | None = None
        # app.secret_key, and the keys made of it alone (see keys()).
        self._secret_alone: tuple[str | bytes, Keys] | None = None

    def keys(self, app: Flask) -> Keys:
        """The secret keys, newest first: the ``keys`` option, else, as Flask
        reads them, ``app.secret_key`` followed by ``SECRET_KEY_FALLBACKS``.

        They are read on each request (and the signer and sealer rebuilt only
        when they change) so rotating them takes effect at once.

        :raise RuntimeError: when no key is configured.
        """
        keys = self.options.keys
        if keys is None:
            secret = app.secret_key
            if not secret:
                raise RuntimeError(missing_key(self.options))
            fallbacks = app.config.get("SECRET_KEY_FALLBACKS")
            if not fallbacks:
                # The usual case, the secret alone: its tuple made once, while
                # it stays the same object (measured 0.5 µs a request less).
                last = self._secret_alone
                if last is None or last[0] is not secret:
                    last = self._secret_alone = (secret, (secret,))
                return last[1]
            keys = tuple(k for k in (secret, *fallbacks) if k)
        return keys

    def keygrip(self, app: Flask) -> Keygrip | None:
        """The signer for this app's :meth:`keys`, ``None`` when cookies are
        unsigned.

        :raise RuntimeError: when signing is on and no key is configured.
        """
        if not self.options.signed:
            return None
        keys = self.keys(app)
        signer = self._signer
        if signer is None or (signer[0] is not keys and signer[0] != keys):
            signer = self._signer = (keys, Keygrip(keys, self.options.digest))
        return signer[1]

    def check_flask_settings(self, app: Flask) -> None:
        """Warn, once, if Flask's settings read at set-up have changed since."""
        settings, self.unchecked_flask_settings = self.unchecked_flask_settings, None
        if settings is not None:
            warn_if_changed(app, settings)

    def sealer(self, app: Flask) -> Sealer | None:
        """The sealer of cookie values (options ``encrypt`` and ``compress``),
        ``None`` when neither is on. Encryption uses this app's :meth:`keys`.

        :raise RuntimeError: when encryption is on and no key is configured.
        """
        options = self.options
        if not (options.encrypt or options.compress):
            return None
        keys = self.keys(app) if options.encrypt else ()
        sealer = self._sealer
        if sealer is None or sealer[0] != keys:
            made = Sealer(
                keys,
                options.key,
                encrypt=options.encrypt,
                compress=options.compress,
                # Loading refuses a value longer than MAX_COOKIE_SIZE allows
                # (incoming_limit) before it gets here, as for plain values:
                # whatever the app may write, it reads back.
                max_value_length=sys.maxsize,
            )
            sealer = self._sealer = (keys, made)
        return sealer[1]
