"""Per-request cost of flask-koasession against Flask's built-in session.

Prints, for each scenario, the time per request of both and the ratio
(ours / Flask's; below 1.0 means cheaper). Both are measured in the same run,
interleaved, on the same app shape, through Flask's full request cycle with the
test client, so the figures compare like with like on this machine.

Scenarios:
- untouched: the view never reads the session (a cookie is sent anyway);
- read: the view reads one key of an existing session;
- write: the view increments a counter (decode, change, encode, sign);

Run: ``python benchmarks/bench_sessions.py [--requests N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import typing as t

import flask
from flask.testing import FlaskClient

from flask_koasession import KoaSession

SECRET = "benchmark-secret"
DATA = {"user_id": 42, "roles": ["admin", "editor"], "name": "Zoë", "views": 0}


def build(kind: str) -> tuple[flask.Flask, str]:
    app = flask.Flask(kind)
    app.secret_key = SECRET
    cookie = "session"
    if kind == "koa":
        KoaSession(app)
        cookie = "koa.sess"

    @app.get("/untouched")
    def untouched() -> str:
        return "ok"

    @app.get("/read")
    def read() -> str:
        return str(flask.session.get("user_id"))

    @app.get("/write")
    def write() -> str:
        flask.session["views"] = flask.session.get("views", 0) + 1
        return "ok"

    @app.get("/seed")
    def seed() -> str:
        flask.session.update(DATA)
        return "ok"

    return app, cookie


def seeded_client(app: flask.Flask) -> FlaskClient:
    client = app.test_client()
    client.get("/seed")
    return client


def per_request(client: FlaskClient, path: str, requests: int) -> float:
    start = time.perf_counter()
    for _ in range(requests):
        client.get(path)
    return (time.perf_counter() - start) / requests


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    clients = {kind: seeded_client(build(kind)[0]) for kind in ("flask", "koa")}
    print(f"{'scenario':<10} {'flask µs':>10} {'koa µs':>10} {'koa/flask':>10}")
    for path in ("/untouched", "/read", "/write"):
        samples: dict[str, list[float]] = {"flask": [], "koa": []}
        for _ in range(args.rounds):  # interleave to share the machine's noise
            for kind, client in clients.items():
                samples[kind].append(per_request(client, path, args.requests))
        flask_us = statistics.median(samples["flask"]) * 1e6
        koa_us = statistics.median(samples["koa"]) * 1e6
        print(
            f"{path[1:]:<10} {flask_us:>10.1f} {koa_us:>10.1f}"
            f" {koa_us / flask_us:>10.2f}"
        )


if __name__ == "__main__":
    main()
