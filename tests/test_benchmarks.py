"""The benchmark harness (``python -m benchmarks``) keeps working.

No timing is asserted here (figures are printed by the benchmarks, never
tested). What is asserted: the harness runs every case on every variant
through the public API, its round-trip counts match what the store docs
promise (untouched 0, read 1, write 2, new 1), and the cookie sizes it
reports are those of the cookies the apps really set.
"""

from __future__ import annotations

import typing as t

import pytest

from benchmarks import cookie_size, inprocess
from benchmarks.apps import CASES, Backends

if t.TYPE_CHECKING:
    from devkit.servers import RedisServer


@pytest.fixture(scope="module")
def results(redis_server: RedisServer) -> inprocess.Results:
    return inprocess.run(
        ["flask", "koa-cookie", "flask-session", "koa-redis", "koa-redis-whole"],
        Backends(redis_url=redis_server.url),
        requests=3,
        rounds=1,
        count_requests=4,
    )


def test_every_case_of_every_variant_is_timed(results: inprocess.Results) -> None:
    assert results.variants == [
        "bare",
        "flask",
        "koa-cookie",
        "flask-session",
        "koa-redis",
        "koa-redis-whole",
    ]
    for variant in results.variants:
        for case in CASES:
            assert len(results.seconds[(variant, case)]) == 1


@pytest.mark.parametrize("variant", ["koa-redis", "koa-redis-whole"])
@pytest.mark.parametrize(
    ("case", "round_trips"),
    [("untouched", 0), ("read", 1), ("write", 2), ("new", 1)],
)
def test_redis_round_trips_are_the_documented_ones(
    results: inprocess.Results, variant: str, case: str, round_trips: int
) -> None:
    # Merged saves (issue 9) and koa's whole-entry ones alike.
    total, _ = results.round_trips[(variant, case)]
    assert total == round_trips


def test_cookie_mode_has_no_round_trips_to_count(
    results: inprocess.Results,
) -> None:
    assert ("koa-cookie", "read") not in results.round_trips


def test_cookie_sizes_are_those_of_the_cookies_set() -> None:
    sent, written, largest = cookie_size.measure("koa-cookie", cookie_size.SMALL)
    assert sent < written  # attributes are only in Set-Cookie
    assert largest < cookie_size.BROWSER_LIMIT
    cart_sent, _, cart_largest = cookie_size.measure("koa-cookie", cookie_size.CART)
    assert cart_largest > cookie_size.BROWSER_LIMIT > largest
    assert cart_sent > 10 * sent
