"""What the extension keeps per app: ``app.extensions["koasession"]``."""

from __future__ import annotations

import typing as t

from .cookie_value import CookieCodec
from .null_session import MISSING_KEY
from .signing import Keygrip

if t.TYPE_CHECKING:
    from flask import Flask

    from .options import Options


class KoaSessionState:
    """What one app keeps in ``app.extensions["koasession"]``.

    :param options: the validated options of this app.
    """

    def __init__(self, options: Options) -> None:
        self.options = options
        #: Payloads to cookie values and back, as the options say.
        self.cookie_codec = CookieCodec(options)
        # The keys the signer was made from, and the signer: one tuple, so a
        # thread never sees one without the other while the keys rotate.
        self._signer: tuple[tuple[str | bytes, ...], Keygrip] | None = None

    def keygrip(self, app: Flask) -> Keygrip | None:
        """The signer for this app's keys, ``None`` when cookies are unsigned.

        Keys come from the ``keys`` option, else, as Flask reads them, from
        ``app.secret_key`` followed by ``SECRET_KEY_FALLBACKS``; they are read
        on each request (and the signer rebuilt only when they change) so
        rotating them takes effect at once.

        :raise RuntimeError: when signing is on and no key is configured.
        """
        if not self.options.signed:
            return None
        keys = self.options.keys
        if keys is None:
            secret = app.secret_key
            fallbacks = app.config.get("SECRET_KEY_FALLBACKS") or ()
            keys = tuple(k for k in (secret, *fallbacks) if k)
            if not secret:
                raise RuntimeError(MISSING_KEY)
        signer = self._signer
        if signer is None or signer[0] != keys:
            signer = self._signer = (keys, Keygrip(keys, self.options.digest))
        return signer[1]
