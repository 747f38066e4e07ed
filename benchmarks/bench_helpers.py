"""Hand-written helpers against the library facility they stand in for.

Where the extension writes something by hand that Werkzeug already offers,
the code says why with a figure from this script. Prints microseconds per
call, each pair measured interleaved in one run, and the ratio.

- ``Vary: Cookie`` (every request that reads the session): the hand-written
  header update in ``cookies.vary_on_cookie`` against ``response.vary.add``,
  which parses the header into a set and writes it back through a callback.

Run: ``python benchmarks/bench_helpers.py [--calls N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import typing as t

import flask

from flask_koasession.cookies import vary_on_cookie


def with_library(response: flask.Response) -> None:
    response.vary.add("Cookie")


def per_call(
    app: flask.Flask, helper: t.Callable[[flask.Response], None], calls: int
) -> float:
    responses = [app.response_class() for _ in range(calls)]
    for response in responses[::2]:  # half of them with a Vary already
        response.headers["Vary"] = "Accept-Encoding"
    start = time.perf_counter()
    for response in responses:
        helper(response)
    return (time.perf_counter() - start) / calls


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)

    app = flask.Flask(__name__)
    samples: dict[str, list[float]] = {"hand": [], "library": []}
    with app.app_context():
        for _ in range(args.rounds):
            samples["hand"].append(per_call(app, vary_on_cookie, args.calls))
            samples["library"].append(per_call(app, with_library, args.calls))
    hand = statistics.median(samples["hand"]) * 1e6
    library = statistics.median(samples["library"]) * 1e6
    print(f"{'helper':<28} {'hand µs':>8} {'library µs':>11} {'ratio':>6}")
    print(f"{'Vary: Cookie':<28} {hand:>8.2f} {library:>11.2f} {library / hand:>6.2f}")


if __name__ == "__main__":
    main()
