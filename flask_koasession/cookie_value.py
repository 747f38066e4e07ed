"""The value of a cookie session's cookie, and back: one pipeline.

Writing: the payload (the data and its bookkeeping) goes through the codec
(koa's base64 JSON by default, or the ``encode`` option) to the text of the
cookie. Reading: the ``decode`` option, or koa's default, from the text back
to a payload. A step that transforms the text further (sealing it, say) goes
between the codec and the cookie, here and nowhere else.
"""

from __future__ import annotations

import typing as t

from . import codec
from .cookies import check_encoded
from .payload import append_bookkeeping

if t.TYPE_CHECKING:
    from .options import Options


class CookieCodec:
    """Turns payloads into cookie values and back, as the options say.

    :param options: the app's options (``encode`` and ``decode``).
    """

    def __init__(self, options: Options) -> None:
        self._encode = options.encode
        self._decode = options.decode
        # koa's own codec works on the data's JSON text, already made to
        # detect changes: bookkeeping is appended to it, no second dump.
        self._default = options.default_codec
        self._default_decode = options.decode is codec.decode
        # Anyone can forge an unsigned cookie: its values are never untagged.
        self._untag = options.signed

    def dumps(
        self, data: dict[str, t.Any], data_json: str, extra: dict[str, t.Any]
    ) -> str:
        """The cookie value of a payload.

        :param data: the session data.
        :param data_json: ``data`` serialized by :func:`.codec.dumps_json`.
        :param extra: the bookkeeping fields to append.
        """
        if self._default:
            return codec.encode_text(append_bookkeeping(data_json, extra))
        return check_encoded(self._encode({**data, **extra}))

    def loads(self, value: str) -> t.Any:
        """The payload of a cookie value. Raises whatever the codec raises on
        a value it cannot read; callers treat any error as a bad cookie.
        """
        if self._default_decode:
            return codec.decode(value, untag=self._untag)
        return self._decode(value)
