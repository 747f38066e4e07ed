"""``python -m benchmarks [section ...]``: run the benchmarks, print the tables.

Sections (all but ``e2e``, ``profile`` and ``architecture`` by default):

- ``inprocess``: µs per request over a bare app, ratios, round trips;
- ``sizes``: cookie bytes beside Flask's built-in session;
- ``cache``: Redis client-side caching (redis-py ``cache_config``, RESP3);
- ``e2e``: through gunicorn (1 sync worker) with ``wrk``: requests/s and
  server-side µs per request;
- ``profile``: cProfile hot spots of today's cookie and Redis paths;
- ``architecture``: the package's architecture figures (modules one request
  walks, import circles, private reads, module sizes); no servers.

The servers needed (redis-server, PostgreSQL) are started and stopped here.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import tempfile
import typing as t
from importlib import metadata
from pathlib import Path

from . import servers
from .apps import CASES, MAIN_VARIANTS, VARIANTS, Backends

SECTIONS = ("inprocess", "sizes", "cache", "e2e", "profile", "architecture")
DEFAULT_SECTIONS = ("inprocess", "sizes", "cache")


def parse_args(argv: t.Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(__doc__ or "").split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "sections", nargs="*", metavar="section",
        help=f"any of {', '.join(SECTIONS)}, or all"
        f" (default: {' '.join(DEFAULT_SECTIONS)})",
    )  # fmt: skip
    parser.add_argument("--requests", type=int, default=300, help="per batch")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds")
    parser.add_argument(
        "--batch-seconds", type=float, default=0.3,
        help="a batch stops early after this long (slow variants)",
    )  # fmt: skip
    parser.add_argument(
        "--trim", type=float, default=0.1,
        help="share of each batch's slowest requests left out (preempted ones)",
    )  # fmt: skip
    parser.add_argument(
        "--stat", choices=("median", "min"), default="median",
        help="median of the rounds' differences to the bare app, or fastest rounds",
    )  # fmt: skip
    parser.add_argument(
        "--variants", default=",".join(MAIN_VARIANTS[1:]),
        help=f"comma-separated, of: {', '.join(VARIANTS)}",
    )  # fmt: skip
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated, of: {', '.join(CASES)}",
    )
    parser.add_argument(
        "--redis-server", default=None, metavar="PATH",
        help="redis-server binary (default: Debian's); caching needs Redis >= 7.4",
    )  # fmt: skip
    parser.add_argument(
        "--cache-redis-server", default=None, metavar="PATH",
        help="redis-server binary for the cache section (default: --redis-server)",
    )  # fmt: skip
    parser.add_argument(
        "--duration", type=float, default=3.0, help="e2e: seconds per wrk run"
    )
    parser.add_argument("--e2e-rounds", type=int, default=3, help="e2e: rounds")
    parser.add_argument("--profile-requests", type=int, default=3000)
    parser.add_argument(
        "--package-dir", type=Path, default=None, metavar="PATH",
        help="architecture: the package whose files are read"
        " (default: the flask_koasession beside benchmarks/)",
    )  # fmt: skip
    parser.add_argument(
        "--functions", action="store_true",
        help="architecture: list the functions each traced request runs",
    )  # fmt: skip
    args = parser.parse_args(argv)
    chosen = args.sections or list(DEFAULT_SECTIONS)
    for name in chosen:
        if name not in (*SECTIONS, "all"):
            parser.error(
                f"unknown section {name!r}; choose from {', '.join(SECTIONS)}, all"
            )
    args.sections = list(SECTIONS) if "all" in chosen else chosen
    args.variants = [name for name in args.variants.split(",") if name]
    args.cases = [name for name in args.cases.split(",") if name]
    for name in args.variants:
        if name not in VARIANTS:
            parser.error(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
    for name in args.cases:
        if name not in CASES:
            parser.error(f"unknown case {name!r}; choose from {', '.join(CASES)}")
    return args


def versions() -> str:
    names = ("flask", "werkzeug", "flask-session", "redis", "sqlalchemy", "psycopg")
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return f"Python {platform.python_version()}, " + ", ".join(found)


def start_backends(
    stack: contextlib.ExitStack, needs: t.Iterable[str | None], redis_binary: str | None
) -> Backends:
    """Start the servers that the variants need."""
    wanted = set(needs)
    redis_url = postgres_url = sqlite_path = ""
    if "redis_url" in wanted:
        redis_url = stack.enter_context(servers.redis_server(redis_binary))
    if "postgres_url" in wanted:
        postgres_url = stack.enter_context(servers.postgres_server())
    if "sqlite_path" in wanted:
        directory = stack.enter_context(
            tempfile.TemporaryDirectory(prefix="koa-bench-")
        )
        sqlite_path = str(Path(directory) / "sessions.db")
    return Backends(redis_url, postgres_url, sqlite_path)


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def main(argv: t.Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"{platform.node()}: {versions()}")
    print()
    with contextlib.ExitStack() as stack:
        needs = (
            [VARIANTS[name].needs for name in args.variants]
            if {"inprocess", "e2e"} & set(args.sections)
            else []
        )
        if {"cache", "e2e", "profile"} & set(args.sections):
            needs.append("redis_url")
        backends = start_backends(stack, needs, args.redis_server)
        if "inprocess" in args.sections:
            from . import inprocess

            results = inprocess.run(
                args.variants, backends, requests=args.requests, rounds=args.rounds,
                cases=args.cases, batch_seconds=args.batch_seconds, trim=args.trim,
                statistic=args.stat, progress=progress,
            )  # fmt: skip
            inprocess.print_results(results, args.cases)
            print()
        if "sizes" in args.sections:
            from . import cookie_size

            cookie_size.main()
            print()
        if "cache" in args.sections:
            from . import client_cache

            client_cache.main(
                args.cache_redis_server or args.redis_server,
                requests=args.requests, rounds=args.rounds, trim=args.trim,
                progress=progress,
            )  # fmt: skip
            print()
        if "e2e" in args.sections:
            from . import e2e

            e2e.main(
                args.variants, backends, cases=args.cases, duration=args.duration,
                rounds=args.e2e_rounds, progress=progress,
            )  # fmt: skip
            print()
        if "profile" in args.sections:
            from . import hotspots

            hotspots.main(backends, requests=args.profile_requests)
        if "architecture" in args.sections:
            from . import architecture

            architecture.main(
                args.package_dir or architecture.DEFAULT_PACKAGE_DIR,
                list_functions=args.functions,
            )


if __name__ == "__main__":
    main()
