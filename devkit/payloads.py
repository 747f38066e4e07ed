"""Session data that the tests and the benchmarks share.

A cart of repetitive entries is the large session of both: the tests seal,
compress and send it to koa-session (``tests/interop/server.js`` builds the
same entries), the benchmarks time and measure it.
"""

from __future__ import annotations

import json
import typing as t

#: A cart's ``_expire`` unless told: 2100-01-01, so that its text never changes.
CART_EXPIRE = 4_102_444_800_000


def cart_items(items: int) -> list[dict[str, t.Any]]:
    """``items`` repetitive cart entries, as ``tests/interop/server.js``
    makes them."""
    return [
        {
            "sku": f"SKU-{i:05d}",
            "name": "Organic cotton T-shirt",
            "size": "M",
            "qty": 1 + i % 3,
            "price": 19.99,
        }
        for i in range(items)
    ]


def cart(items: int, *, expire: int = CART_EXPIRE) -> dict[str, t.Any]:
    """A session holding a cart of ``items`` entries, with koa's bookkeeping
    (``_expire``, ``_maxAge`` of a day)."""
    return {"cart": cart_items(items), "_expire": expire, "_maxAge": 86_400_000}


def cart_json(items: int, *, expire: int = CART_EXPIRE) -> str:
    """The JSON text of :func:`cart` (what Flask's zlib-compressed cookie
    holds 1140 entries of), as ``JSON.stringify`` writes it.
    """
    payload = cart(items, expire=expire)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
