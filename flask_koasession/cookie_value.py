"""The value of a cookie session's cookie, and back: one pipeline.

Writing: the payload (the data and its bookkeeping) goes through the codec
(koa's base64 JSON by default, or the ``encode`` option) to the text of the
cookie. Reading: the ``decode`` option, or koa's default, from the text back
to a payload. With ``encrypt`` or ``compress`` the payload's JSON text is
sealed (:mod:`.sealing`) in place of koa's base64, and unsealed before it is
parsed: here and nowhere else.
"""

from __future__ import annotations

import typing as t

from . import codec
from .cookies import check_encoded
from .payload import append_bookkeeping

if t.TYPE_CHECKING:
    from .options import Options
    from .sealing import Sealer


class CookieCodec:
    """Turns payloads into cookie values and back, as the options say.

    The sealer is given with each call, not kept: it is made from the keys,
    which may rotate between two requests (see
    :meth:`.KoaSessionState.sealer`).

    :param options: the app's options (``encode``, ``decode``, ``signed``,
        ``encrypt``).
    """

    def __init__(self, options: Options) -> None:
        self._encode = options.encode
        self._decode = options.decode
        # koa's own codec works on the data's JSON text, already made to
        # detect changes: bookkeeping is appended to it, no second dump.
        self._default = options.default_codec
        self._default_decode = options.decode is codec.decode
        # Anyone can forge an unsigned, unencrypted cookie: its values are
        # never untagged. AES-GCM authenticates an encrypted one as a
        # signature does.
        self._untag = options.signed or options.encrypt

    def dumps(
        self,
        data: dict[str, t.Any],
        data_json: str,
        extra: dict[str, t.Any],
        sealer: Sealer | None = None,
    ) -> str:
        """The cookie value of a payload.

        :param data: the session data.
        :param data_json: ``data`` serialized by :func:`.codec.dumps_json`.
        :param extra: the bookkeeping fields to append.
        :param sealer: seals the payload's JSON text (``encrypt`` or
            ``compress``); only with koa's own codec (checked at set-up).
        :raise SealedTooLargeError: when the text is too large to seal.
        """
        if sealer is not None:
            return sealer.seal(append_bookkeeping(data_json, extra))
        if self._default:
            return codec.encode_text(append_bookkeeping(data_json, extra))
        return check_encoded(self._encode({**data, **extra}))

    def loads(self, value: str, sealer: Sealer | None = None) -> tuple[t.Any, bool]:
        """The payload of a cookie value, and whether it was sealed under a
        key other than the current one (then it is to be sealed again).

        Raises whatever the codec raises on a value it cannot read; callers
        treat any error as a bad cookie.

        :param sealer: opens sealed values (``encrypt`` or ``compress``).
        :raise SealError: when ``sealer`` cannot open the value, with a reason.
        """
        if sealer is not None:
            text, key_index = sealer.unseal(value)
            return codec.loads_json(text, untag=self._untag), key_index > 0
        if self._default_decode:
            return codec.decode(value, untag=self._untag), False
        return self._decode(value), False
