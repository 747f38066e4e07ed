"""Where the time of a request goes: cProfile over today's hot paths.

``python -m benchmarks profile`` (or ``python -m benchmarks.hotspots``)
profiles requests of the cookie read, write and new paths and the Redis
read, write and new paths, through ``app.wsgi_app`` as in process; the
profiler is on only inside the app, not in the benchmark's own loop. For each
path it prints the share of the request's time by package, the functions
with the most time of their own, and our functions by cumulative time.

cProfile adds a fixed cost to every call, so many small calls look dearer
than they are: read the shares as where to look, and confirm a change with
``python -m benchmarks``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import typing as t

from werkzeug.test import EnvironBuilder

from . import servers
from .apps import CASES, VARIANTS, Backends, build_app
from .client import Browser, call

#: (variant, case) pairs profiled.
PATHS = (
    ("koa-cookie", "read"),
    ("koa-cookie", "write"),
    ("koa-cookie", "new"),
    ("koa-redis", "read"),
    ("koa-redis", "write"),
    ("koa-redis", "new"),
)

Key = tuple[str, int, str]
#: pstats' per-function figures: primitive calls, calls, own time, cumulative.
Row = tuple[int, int, float, float, t.Any]


def profile(browser: Browser, path: str, requests: int) -> pstats.Stats:
    """Profile ``requests`` requests of ``path``, inside the app only."""
    profiler = cProfile.Profile()
    for _ in range(20):  # warm up: imports, caches, connections
        browser.get(path)
    template = EnvironBuilder(path=path).get_environ()
    for _ in range(requests):
        environ = dict(template)
        if browser.jar:
            environ["HTTP_COOKIE"] = browser.cookie_header
        profiler.enable()
        reply = call(browser.app, environ)
        profiler.disable()
        if browser.follow:
            browser.update(reply.headers)
    return pstats.Stats(profiler)


def package(filename: str) -> str:
    """The package a function belongs to, for the by-package shares."""
    if filename == "~":
        return "built-ins (C)"
    for name in (
        "flask_koasession", "flask_session", "flask", "werkzeug", "itsdangerous",
        "redis", "sqlalchemy", "json", "blinker",
    ):  # fmt: skip
        if f"/{name}/" in filename:
            return name
    return "other Python (stdlib)"


def _is_harness(key: Key) -> bool:
    """The benchmark's own call wrapper and the profiler's switch."""
    return "/benchmarks/" in key[0] or "_lsprof" in key[2]


def describe(key: Key) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    for marker in ("site-packages/", "/flask_koasession/", "/lib/python3"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker == "/flask_koasession/":
                filename = "flask_koasession/" + filename
            break
    return f"{filename}:{line} {name}"


def report(stats: pstats.Stats, requests: int, top: int) -> None:
    rows: dict[Key, Row] = {
        key: row
        for key, row in stats.stats.items()  # type: ignore[attr-defined]
        if not _is_harness(key)
    }
    total = sum(row[2] for row in rows.values())
    print(f"  {total / requests * 1e6:.0f} µs per request under the profiler")
    shares: dict[str, float] = {}
    for key, row in rows.items():
        shares[package(key[0])] = shares.get(package(key[0]), 0.0) + row[2]
    print(
        "  by package (own time): "
        + ", ".join(
            f"{name} {seconds / total:.0%}"
            for name, seconds in sorted(shares.items(), key=lambda item: -item[1])
            if seconds / total >= 0.005
        )
    )
    print("  most own time:")
    for key, row in sorted(rows.items(), key=lambda item: -item[1][2])[:top]:
        print(
            f"    {row[2] / total:5.1%}  {row[1] / requests:5.1f} calls/req"
            f"  {describe(key)}"
        )
    print("  ours, by cumulative time (share of the whole request):")
    ours = [item for item in rows.items() if "flask_koasession" in item[0][0]]
    for key, row in sorted(ours, key=lambda item: -item[1][3])[:top]:
        print(
            f"    {row[3] / total:5.1%}  {row[1] / requests:5.1f} calls/req"
            f"  {describe(key)}"
        )


def main(
    backends: Backends,
    *,
    requests: int = 3000,
    top: int = 12,
    paths: t.Sequence[tuple[str, str]] = PATHS,
) -> None:
    print(f"Profile (cProfile, {requests} requests per path, inside app.wsgi_app):")
    with contextlib.ExitStack() as cleanup:
        for variant, case in paths:
            app = build_app(variant, backends, cleanup)
            browser = Browser(app, follow=case != "new")
            if case != "new":
                browser.get("/new")
            print(f"{variant} {case}:")
            report(profile(browser, f"/{case}", requests), requests, top)
            print()


def parse_paths(text: str) -> list[tuple[str, str]]:
    """``"koa-cookie:read,koa-redis:write"`` as (variant, case) pairs."""
    pairs = [tuple(item.split(":", 1)) for item in text.split(",") if item]
    for pair in pairs:
        if len(pair) != 2 or pair[0] not in VARIANTS or pair[1] not in CASES:
            raise ValueError(f"not a variant:case pair: {':'.join(pair)!r}")
    return t.cast(list[tuple[str, str]], pairs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument(
        "--paths",
        default=",".join(f"{variant}:{case}" for variant, case in PATHS),
        help="comma-separated variant:case pairs (e.g. koa-redis-cached:read)",
    )
    parser.add_argument("--redis-server", default=None, metavar="PATH")
    arguments = parser.parse_args()
    with servers.redis_server(arguments.redis_server) as url:
        main(
            Backends(redis_url=url),
            requests=arguments.requests,
            top=arguments.top,
            paths=parse_paths(arguments.paths),
        )
