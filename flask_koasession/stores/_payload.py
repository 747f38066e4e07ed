"""Turning a store entry's text back into a payload."""

from __future__ import annotations

import typing as t

from ..codec import loads_json


def decode_payload(text: str | bytes) -> dict[str, t.Any] | None:
    """Parse a stored JSON text; ``None`` when it is not a session payload.

    A damaged or foreign entry reads as "no session", as in koa-redis (which
    swallows ``JSON.parse`` errors), rather than failing every request that
    carries its id. That covers any failure of the decoding, not only text
    that is not JSON: a tagged marker with a value of the wrong type (e.g.
    ``{" t": 5}`` or ``{" b": 5}``, written by something other than this
    package) makes Flask's tag classes raise ``TypeError``,
    ``AttributeError`` or others. Bytes are decoded as UTF-8 with U+FFFD for
    invalid sequences, as Node's ``buffer.toString()`` does.

    :param text: the stored value.
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        payload = loads_json(text)
    except Exception:  # whatever failed, this is not a session
        return None
    return payload if isinstance(payload, dict) else None
