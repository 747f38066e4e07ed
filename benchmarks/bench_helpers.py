"""Hand-written helpers against the library facility they stand in for.

Where the extension writes something by hand that Werkzeug already offers,
the code says why with a figure from this script. Prints microseconds per
call, each pair measured interleaved in one run, and the ratio.

- ``Vary: Cookie`` (every request that reads the session): the hand-written
  header update in ``cookies.vary_on_cookie`` against ``response.vary.add``,
  which parses the header into a set and writes it back through a callback.
- ``MAX_COOKIE_SIZE`` (every commit): ``app.config.get`` against
  ``response.max_cookie_size``, which finds the app through ``current_app``.

Run: ``python benchmarks/bench_helpers.py [--calls N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import typing as t

import flask

from flask_koasession.cookies import vary_on_cookie


def vary_with_library(app: flask.Flask, response: flask.Response) -> None:
    response.vary.add("Cookie")


def vary_by_hand(app: flask.Flask, response: flask.Response) -> None:
    vary_on_cookie(response)


def size_with_library(app: flask.Flask, response: flask.Response) -> int:
    return response.max_cookie_size


def size_by_hand(app: flask.Flask, response: flask.Response) -> int:
    size: int = app.config.get("MAX_COOKIE_SIZE", 4093)
    return size


Helper = t.Callable[[flask.Flask, flask.Response], object]
PAIRS: dict[str, tuple[Helper, Helper]] = {
    "Vary: Cookie": (vary_by_hand, vary_with_library),
    "MAX_COOKIE_SIZE": (size_by_hand, size_with_library),
}


def per_call(app: flask.Flask, helper: Helper, calls: int) -> float:
    responses = [app.response_class() for _ in range(calls)]
    for response in responses[::2]:  # half of them with a Vary already
        response.headers["Vary"] = "Accept-Encoding"
    start = time.perf_counter()
    for response in responses:
        helper(app, response)
    return (time.perf_counter() - start) / calls


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)

    app = flask.Flask(__name__)
    print(f"{'helper':<20} {'hand µs':>8} {'library µs':>11} {'ratio':>6}")
    with app.app_context():
        for name, (by_hand, with_library) in PAIRS.items():
            hand: list[float] = []
            library: list[float] = []
            for _ in range(args.rounds):  # interleaved
                hand.append(per_call(app, by_hand, args.calls))
                library.append(per_call(app, with_library, args.calls))
            hand_us = statistics.median(hand) * 1e6
            library_us = statistics.median(library) * 1e6
            ratio = library_us / hand_us
            print(f"{name:<20} {hand_us:>8.2f} {library_us:>11.2f} {ratio:>6.2f}")


if __name__ == "__main__":
    main()
