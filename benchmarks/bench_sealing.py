"""Cost and size of sealed cookie values against koa-session's plain base64.

Prints, for a typical small session and a 500-item cart:

- the time per call of sealing (JSON text -> cookie value) and unsealing
  (cookie value -> JSON text) with compression, encryption and both, beside
  the plain codec's base64 encoding and decoding, and the ratio to it;
- the cookie value's length in each form, and whether the ``Set-Cookie``
  header fits in the 4093 bytes that browsers keep.

The plain codec's work is only a part of a request (see bench_sessions.py for
whole requests), so the ratios here are an upper bound of what sealing adds.

Run: ``python benchmarks/bench_sealing.py [--rounds R]``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
import typing as t

from flask_koasession import codec
from flask_koasession.sealing import Sealer

KEYS = ["benchmark-secret", "previous-secret"]
COOKIE_LIMIT = 4093
SMALL = {
    "user_id": 42,
    "roles": ["admin", "editor"],
    "name": "Zoë",
    "views": 7,
    "csrf_token": "3f1c9a0e5b7d4c2a8e6f1b3d5a7c9e0f",
    "_expire": 1_795_679_564_692,
    "_maxAge": 86_400_000,
}


def cart(items: int) -> dict[str, t.Any]:
    entries = [
        {
            "sku": f"SKU-{i:05d}",
            "name": "Organic cotton T-shirt",
            "size": "M",
            "qty": 1 + i % 3,
            "price": 19.99,
        }
        for i in range(items)
    ]
    return {"cart": entries, "_expire": 1_795_679_564_692, "_maxAge": 86_400_000}


def per_call(function: t.Callable[[], object], rounds: int) -> float:
    """Median seconds per call over ``rounds`` timed batches."""
    number = 1
    while True:  # a batch of at least ~20 ms
        start = time.perf_counter()
        for _ in range(number):
            function()
        if time.perf_counter() - start > 0.02:
            break
        number *= 2
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            function()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def row(
    name: str, seal_s: float, seal_base: float, open_s: float, open_base: float
) -> None:
    print(
        f"{name:<10} {seal_s * 1e6:>9.1f} {seal_s / seal_base:>8.2f}"
        f" {open_s * 1e6:>9.1f} {open_s / open_base:>8.2f}"
    )


def header(value: str) -> int:
    """The length of a typical ``Set-Cookie`` value carrying ``value``."""
    return len(
        f"koa.sess={value}; path=/; expires=Thu, 01 Jan 2026 00:00:00 GMT;"
        " samesite=lax; secure; httponly"
    )


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    sealers = {
        "compress": Sealer(KEYS, "koa.sess", encrypt=False, compress=True),
        "encrypt": Sealer(KEYS, "koa.sess", encrypt=True, compress=False),
        "both": Sealer(KEYS, "koa.sess", encrypt=True, compress=True),
    }
    big = Sealer(KEYS, "koa.sess", encrypt=True, compress=False, max_value_length=10**6)
    for label, payload in (("small session", SMALL), ("500-item cart", cart(500))):
        text = codec.dumps_json(payload)
        plain = codec.encode_text(text)
        print(f"{label}: JSON {len(text.encode())} bytes")
        print(
            f"{'form':<10} {'seal us':>9} {'x plain':>8} {'open us':>9} {'x plain':>8}"
        )
        seal_base = per_call(functools.partial(codec.encode_text, text), args.rounds)
        open_base = per_call(
            functools.partial(codec.b64decode_lenient, plain), args.rounds
        )
        row("plain", seal_base, seal_base, open_base, open_base)
        sizes = {"plain": plain}
        for name, sealer in sealers.items():
            value = sizes[name] = sealer.seal(text)
            reader = big if len(value) > sealer.max_value_length else sealer
            seal_s = per_call(functools.partial(sealer.seal, text), args.rounds)
            open_s = per_call(functools.partial(reader.unseal, value), args.rounds)
            row(name, seal_s, seal_base, open_s, open_base)
        print(f"{'form':<10} {'value chars':>12} {'header':>8} {'fits 4093':>10}")
        for name, value in sizes.items():
            size = header(value)
            print(f"{name:<10} {len(value):>12} {size:>8} {size <= COOKIE_LIMIT!s:>10}")
        print()
    print("x plain: ratio to the plain codec's base64 step alone, not a request")


if __name__ == "__main__":
    main()
