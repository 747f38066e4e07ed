"""Turning a store entry's text back into a payload."""

from __future__ import annotations

import typing as t

from ..codec import loads_json


def decode_payload(text: str | bytes) -> dict[str, t.Any] | None:
    """Parse a stored JSON text; ``None`` when it is not a JSON object.

    A damaged or foreign entry reads as "no session", as in koa-redis (which
    swallows ``JSON.parse`` errors), rather than failing every request that
    carries its id. Bytes are decoded as UTF-8 with U+FFFD for invalid
    sequences, as Node's ``buffer.toString()`` does.

    :param text: the stored value.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        payload = loads_json(text)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
