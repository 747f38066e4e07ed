"""The benchmark harness (``python -m benchmarks``) keeps working.

No timing is asserted here (figures are printed by the benchmarks, never
tested). What is asserted: the harness runs every case on every variant
through the public API, its round-trip counts match what the store docs
promise (untouched 0, read 1, write 2, new 1), the cookie sizes it
reports are those of the cookies the apps really set, and the architecture
figures are measured (requests traced, imports and private names found).
"""

from __future__ import annotations

import re
import typing as t

import pytest

from benchmarks import architecture, cookie_size, inprocess
from benchmarks.__main__ import main
from benchmarks.apps import CASES, Backends

if t.TYPE_CHECKING:
    from pathlib import Path

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


def test_architecture_traces_every_case(capsys: pytest.CaptureFixture[str]) -> None:
    main(["architecture"])  # no servers
    out = capsys.readouterr().out
    walked = re.findall(r"^  ([a-z ]+): (\d+) modules.*?, (\d+) functions: ", out, re.M)
    assert [name for name, _, _ in walked] == [case.name for case in architecture.CASES]
    for _, modules, functions in walked:
        assert 0 < int(modules) <= int(functions)
    assert re.search(r"^Import circles: \d+ \(target: none\)$", out, re.M)
    assert re.search(r"^Imports that run back up: \d+ ", out, re.M)
    assert re.search(r"^Reads of another object's private attributes: \d+ ", out, re.M)
    assert re.search(r"^  +\d+  session_dict$", out, re.M)


def test_architecture_finds_circles_and_private_reads(tmp_path: Path) -> None:
    package = tmp_path / "flask_koasession"
    package.mkdir()
    (package / "__init__.py").write_text("from .a import A\n")
    (package / "a.py").write_text(
        "from . import b\nA = 1\ndef f(row):\n"
        "    return b._x, row._replace(), self._y, super()._z\n"
    )
    (package / "b.py").write_text(
        "import typing as t\nif t.TYPE_CHECKING:\n    from .a import A\n"
        "from . import A as B\nt._SpecialForm\n"
    )
    parsed = architecture.Package(package)
    edges = {(edge.source, edge.target, edge.kind) for edge in parsed.imports()}
    assert edges == {
        ("__init__", "a", ""),
        ("a", "b", ""),
        ("b", "a", "type-only"),
        ("b", "__init__", ""),
    }
    graph: dict[str, set[str]] = {}
    for source, target, _ in edges:
        graph.setdefault(source, set()).add(target)
    assert architecture.components(graph) == [["__init__", "a", "b"]]
    found = {(item.text, item.external) for item in architecture.privates(parsed)}
    assert found == {("b._x", False), ("t._SpecialForm", True)}
