"""Cost and size of sealed cookies against koa-session's plain base64.

Prints, for a typical small session and a 500-item cart:

- the time per call of sealing (JSON text -> cookie value) and unsealing
  (cookie value -> JSON text) with compression, encryption and both, beside
  the plain codec's base64 encoding and decoding, and the ratio to it;
- the cookie value's length in each form, and whether the ``Set-Cookie``
  header fits in the 4093 bytes that browsers keep.

The plain codec's work is only a part of a request, so those ratios are an
upper bound of what sealing adds. Then, per request, for the small session:
apps with ``encrypt``, ``compress`` and both beside the same app in plain
cookie mode (signed, the default), each ratio to plain measured in the same
run, interleaved: the whole request through Flask's test client, and the
session work alone (open, use, save).

Run from the repository root (so that ``devkit`` is importable):
``python -m benchmarks.bench_sealing [--rounds R] [--requests N]``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
import typing as t

import flask
from werkzeug.test import EnvironBuilder

from devkit.payloads import cart
from flask_koasession import KoaSession, codec
from flask_koasession.sealing import Sealer

if t.TYPE_CHECKING:
    from flask_koasession import KoaSessionOptions

KEYS = ["benchmark-secret", "previous-secret"]
COOKIE_LIMIT = 4093
EXPIRE = 1_795_679_564_692
SMALL = {
    "user_id": 42,
    "roles": ["admin", "editor"],
    "name": "Zoë",
    "views": 7,
    "csrf_token": "3f1c9a0e5b7d4c2a8e6f1b3d5a7c9e0f",
    "_expire": EXPIRE,
    "_maxAge": 86_400_000,
}


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


# -- per request ----------------------------------------------------------------

#: The apps compared per request: plain cookie mode, then each sealed form.
FORMS: dict[str, KoaSessionOptions] = {
    "plain": {},
    "encrypt": {"encrypt": True},
    "compress": {"compress": True},
    "both": {"encrypt": True, "compress": True},
}
SESSION_DATA = {k: v for k, v in SMALL.items() if not k.startswith("_")}


def build(form: str) -> flask.Flask:
    app = flask.Flask(f"bench-{form}")
    app.secret_key = KEYS[0]
    KoaSession(app, **FORMS[form])

    @app.get("/read")
    def read() -> str:
        return str(flask.session.get("user_id"))

    @app.get("/write")
    def write() -> str:
        flask.session["views"] = flask.session.get("views", 0) + 1
        return "ok"

    @app.get("/seed")
    def seed() -> str:
        flask.session.update(SESSION_DATA)
        return "ok"

    return app


def cookie_header(app: flask.Flask) -> str:
    """The ``Cookie`` header a browser sends after visiting ``/seed``."""
    response = app.test_client().get("/seed")
    pairs = [line.split(";", 1)[0] for line in response.headers.getlist("Set-Cookie")]
    return "; ".join(pairs)


def whole_request(app: flask.Flask, cookie: str, path: str, requests: int) -> float:
    """Seconds per request through the test client (routing included)."""
    client = app.test_client(use_cookies=False)
    headers = {"Cookie": cookie}
    start = time.perf_counter()
    for _ in range(requests):
        client.get(path, headers=headers)
    return (time.perf_counter() - start) / requests


def session_work(app: flask.Flask, cookie: str, path: str, loops: int) -> float:
    """Seconds for one open + use + save of the session, outside routing."""
    environ = EnvironBuilder(path="/", headers=[("Cookie", cookie)]).get_environ()
    interface = app.session_interface
    with app.app_context():
        start = time.perf_counter()
        for _ in range(loops):
            request = app.request_class(dict(environ))
            session = interface.open_session(app, request)
            assert session is not None
            if path == "/read":
                session.get("user_id")
            else:
                session["views"] = session.get("views", 0) + 1
            interface.save_session(app, session, app.response_class())
        return (time.perf_counter() - start) / loops


def per_request_tables(requests: int, rounds: int) -> None:
    apps = {form: build(form) for form in FORMS}
    cookies = {form: cookie_header(app) for form, app in apps.items()}
    sealed = [form for form in FORMS if form != "plain"]
    head = f"{'scenario':<9} {'plain us':>9}" + "".join(
        f" {form + ' us':>11} {'x plain':>7}" for form in sealed
    )
    measures = (
        ("Whole request (test client, routing included)", whole_request),
        ("Session work alone (open, use, save)", session_work),
    )
    for title, measure in measures:
        print(f"{title}, small session, median of {rounds} rounds")
        print(head)
        for path in ("/read", "/write"):
            samples: dict[str, list[float]] = {form: [] for form in FORMS}
            for _ in range(rounds):  # interleaved, to share the machine's noise
                for form, app in apps.items():
                    samples[form].append(measure(app, cookies[form], path, requests))
            median = {form: statistics.median(v) for form, v in samples.items()}
            line = f"{path[1:]:<9} {median['plain'] * 1e6:>9.1f}"
            for form in sealed:
                ratio = median[form] / median["plain"]
                line += f" {median[form] * 1e6:>11.1f} {ratio:>7.2f}"
            print(line)
        print()
    print("x plain: ratio to the same app in plain cookie mode (goal: encrypt <= 1.5)")


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)
    sealers = {
        "compress": Sealer(KEYS, "koa.sess", encrypt=False, compress=True),
        "encrypt": Sealer(KEYS, "koa.sess", encrypt=True, compress=False),
        "both": Sealer(KEYS, "koa.sess", encrypt=True, compress=True),
    }
    big = Sealer(KEYS, "koa.sess", encrypt=True, compress=False, max_value_length=10**6)
    for label, payload in (
        ("small session", SMALL),
        ("500-item cart", cart(500, expire=EXPIRE)),
    ):
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
    print()
    per_request_tables(args.requests, max(3, args.rounds // 3))


if __name__ == "__main__":
    main()
