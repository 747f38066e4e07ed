"""Per-request session work in store mode, and the cost of merged saves.

Measures, for each store (Memory, Redis, SQLite, PostgreSQL) and scenario,
the microseconds of one session's work outside routing (open, use, save on
a prepared request, the store's round trips included), as
``bench_sessions.py`` does for cookies:

- ``untouched``: the view never reads the session (its cookie is sent);
- ``read``: the view reads two keys of an existing session;
- ``write``: the view increments a counter of an existing session;
- ``new``: no cookie; the view sets two keys (a new entry per request).

With ``merge`` (the default, issue 9) against ``merge=False`` (koa's
whole-entry, last-writer-wins saving), measured interleaved in one run: the
ratio is what the merged save costs when nothing contends. A checkout
without the ``merge`` option measures its only way of saving, so running
this script from two checkouts, alternately, compares them (take the
minima: the machine is shared and noisy).

It starts a throw-away redis-server and PostgreSQL (``tests/servers.py``);
``--stores`` picks fewer.

Run: ``python benchmarks/bench_store_saves.py [--loops N] [--rounds R]
[--stores memory,redis,sqlite,postgresql] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import flask
from werkzeug.test import EnvironBuilder

# This checkout's package and test servers, whatever is installed: running
# the script from two checkouts compares them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import flask_koasession
from flask_koasession import KoaSession
from flask_koasession.options import OPTIONS
from tests.servers import PostgresServer, RedisServer

SECRET = "benchmark-secret"
DATA = {"user_id": 42, "roles": ["admin", "editor"], "name": "Zoë", "views": 0}
SCENARIOS = ("untouched", "read", "write", "new")
STORES = ("memory", "redis", "sqlite", "postgresql")
HAS_MERGE = any(info.name == "merge" for info in OPTIONS)
VARIANTS = ("merge", "whole") if HAS_MERGE else ("default",)


def make_store(kind: str, urls: dict[str, str]) -> t.Any:
    from flask_koasession.stores import MemoryStore

    if kind == "memory":
        return MemoryStore()
    if kind == "redis":
        import redis

        from flask_koasession.stores import RedisStore

        return RedisStore(redis.Redis.from_url(urls["redis"]))
    from flask_koasession.stores import SQLAlchemyStore

    return SQLAlchemyStore(urls[kind])


def build(store: t.Any, variant: str) -> flask.Flask:
    app = flask.Flask(f"bench-{variant}")
    app.secret_key = SECRET
    options: dict[str, t.Any] = {}
    if variant != "default":
        options["merge"] = variant == "merge"
    KoaSession(app, store=store, **options)
    return app


def seeded_cookie(app: flask.Flask) -> str:
    @app.get("/seed")
    def seed() -> str:
        flask.session.update(DATA)
        return "ok"

    response = app.test_client().get("/seed")
    pairs = [line.split(";", 1)[0] for line in response.headers.getlist("Set-Cookie")]
    return "; ".join(pairs)


def session_work(app: flask.Flask, cookie: str, scenario: str, loops: int) -> float:
    """Seconds for one open + use + save of the session, outside routing."""
    headers = [] if scenario == "new" else [("Cookie", cookie)]
    environ = EnvironBuilder(path="/", headers=headers).get_environ()
    interface = app.session_interface
    with app.app_context():
        start = time.perf_counter()
        for _ in range(loops):
            request = app.request_class(dict(environ))
            session = interface.open_session(app, request)
            assert session is not None
            if scenario == "read":
                session.get("user_id")
                session.get("roles")
            elif scenario == "write":
                session["views"] = session.get("views", 0) + 1
            elif scenario == "new":
                session["user_id"] = 42
                session["roles"] = ["admin"]
            interface.save_session(app, session, app.response_class())
        return (time.perf_counter() - start) / loops


@contextlib.contextmanager
def servers(stores: t.Sequence[str]) -> t.Iterator[dict[str, str]]:
    urls: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if "redis" in stores:
            redis_server = RedisServer(directory / "redis")
            redis_server.start()
            stack.callback(redis_server.stop)
            urls["redis"] = redis_server.url
        if "sqlite" in stores:
            urls["sqlite"] = f"sqlite:///{directory / 'sessions.db'}"
        if "postgresql" in stores:
            postgres = PostgresServer("koasession_bench")
            stack.callback(postgres.remove)
            postgres.init()
            stack.callback(postgres.stop)
            urls["postgresql"] = postgres.url
        yield urls


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loops", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--json", help="append the minima to this file as JSON")
    args = parser.parse_args(argv)
    stores = [name for name in args.stores.split(",") if name]
    results: dict[str, float] = {}
    with servers(stores) as urls:
        for kind in stores:
            store = make_store(kind, urls)
            apps = {variant: build(store, variant) for variant in VARIANTS}
            cookies = {variant: seeded_cookie(app) for variant, app in apps.items()}
            for scenario in SCENARIOS:
                samples: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
                for _ in range(args.rounds):  # interleaved: they share the noise
                    for variant, app in apps.items():
                        seconds = session_work(
                            app, cookies[variant], scenario, args.loops
                        )
                        samples[variant].append(seconds)
                for variant in VARIANTS:
                    results[f"{kind}/{scenario}/{variant}"] = min(samples[variant])
    print(f"flask_koasession from {Path(flask_koasession.__file__).parent}")
    print(f"Session work per request, µs (minimum of {args.rounds} rounds)")
    heading = "".join(f"{variant:>10}" for variant in VARIANTS)
    ratio = f"{'merge/whole':>12}" if HAS_MERGE else ""
    print(f"{'store':<11}{'scenario':<10}{heading}{ratio}")
    for kind in stores:
        for scenario in SCENARIOS:
            figures = [results[f"{kind}/{scenario}/{v}"] * 1e6 for v in VARIANTS]
            row = "".join(f"{figure:>10.1f}" for figure in figures)
            if HAS_MERGE:
                row += f"{figures[0] / figures[1]:>12.2f}"
            print(f"{kind:<11}{scenario:<10}{row}")
    if args.json:
        with open(args.json, "a", encoding="utf-8") as file:
            file.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
