"""Per-request cost of flask-koasession against Flask's built-in session.

Prints, for each scenario, the time per request of both and the ratio
(ours / Flask's; below 1.0 means cheaper). Both are measured in the same run,
interleaved, on the same app shape, through Flask's full request cycle with the
test client, so the figures compare like with like on this machine.

Two tables: the whole request cycle (what an app feels, Flask's own overhead
included), then the session work alone (open, use, save on a prepared request).

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
from werkzeug.test import EnvironBuilder

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


def seeded_cookie_header(app: flask.Flask) -> str:
    """The ``Cookie`` header a browser sends after visiting ``/seed``."""
    response = app.test_client().get("/seed")
    pairs = [line.split(";", 1)[0] for line in response.headers.getlist("Set-Cookie")]
    return "; ".join(pairs)


def session_work(app: flask.Flask, cookie: str, scenario: str) -> float:
    """Seconds for one open + use + save of the session, outside routing."""
    environ = EnvironBuilder(path="/", headers=[("Cookie", cookie)]).get_environ()
    interface = app.session_interface
    with app.app_context():
        start = time.perf_counter()
        for _ in range(SESSION_WORK_LOOPS):
            request = app.request_class(dict(environ))
            session = interface.open_session(app, request)
            assert session is not None
            if scenario == "read":
                session.get("user_id")
            elif scenario == "write":
                session["views"] = session.get("views", 0) + 1
            interface.save_session(app, session, app.response_class())
        return (time.perf_counter() - start) / SESSION_WORK_LOOPS


SESSION_WORK_LOOPS = 2000


def print_row(name: str, flask_s: list[float], koa_s: list[float]) -> None:
    flask_us = statistics.median(flask_s) * 1e6
    koa_us = statistics.median(koa_s) * 1e6
    print(f"{name:<10} {flask_us:>10.1f} {koa_us:>10.1f} {koa_us / flask_us:>10.2f}")


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    apps = {kind: build(kind)[0] for kind in ("flask", "koa")}
    clients = {kind: seeded_client(app) for kind, app in apps.items()}
    cookies = {kind: seeded_cookie_header(app) for kind, app in apps.items()}
    header = f"{'scenario':<10} {'flask µs':>10} {'koa µs':>10} {'koa/flask':>10}"
    print("Whole request (test client, routing included), median of rounds")
    print(header)
    for scenario in ("untouched", "read", "write"):
        samples: dict[str, list[float]] = {"flask": [], "koa": []}
        for _ in range(args.rounds):  # interleave to share the machine's noise
            for kind, client in clients.items():
                samples[kind].append(per_request(client, f"/{scenario}", args.requests))
        print_row(scenario, samples["flask"], samples["koa"])
    print()
    print("Session work alone (open, use, save), median of rounds")
    print(header)
    for scenario in ("untouched", "read", "write"):
        samples = {"flask": [], "koa": []}
        for _ in range(args.rounds):
            for kind, app in apps.items():
                samples[kind].append(session_work(app, cookies[kind], scenario))
        print_row(scenario, samples["flask"], samples["koa"])


if __name__ == "__main__":
    main()
