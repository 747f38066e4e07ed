"""The in-process benchmark: every variant, every case, interleaved.

Each request goes through ``app.wsgi_app`` (Flask's whole request cycle) of
one app per variant. A round runs a batch of requests of every case on every
variant, in a shuffled order, so that whatever else the machine does falls on
all variants alike; the figure kept is the median over the rounds of each
variant's time per request minus the bare app's in the same round.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import random
import time
import typing as t

from . import report
from .apps import CASES, VARIANTS, Backends, build_app
from .client import Browser
from .roundtrips import (
    Counter,
    PostgresCounter,
    RedisCounter,
    SQLiteCounter,
    describe,
)

if t.TYPE_CHECKING:
    from flask import Flask

#: The fewest requests in a batch cut short by its time limit.
MIN_BATCH = 10


@dataclasses.dataclass
class Results:
    """Seconds per request of each round, and round trips, per variant and case."""

    variants: list[str]
    requests: int
    rounds: int
    statistic: str = "median"
    trim: float = 0.0
    seconds: dict[tuple[str, str], list[float]] = dataclasses.field(
        default_factory=dict
    )
    round_trips: dict[tuple[str, str], tuple[float, str]] = dataclasses.field(
        default_factory=dict
    )
    units: dict[str, str] = dataclasses.field(default_factory=dict)

    def overheads(self, variant: str, case: str) -> list[float]:
        """Per round: this variant's seconds per request minus the bare app's."""
        zero = self.seconds[("bare", case)]
        return [
            mine - bare
            for mine, bare in zip(self.seconds[(variant, case)], zero, strict=True)
        ]

    def overhead(self, variant: str, case: str) -> float:
        """The figure reported: see :func:`run`'s ``statistic``."""
        if self.statistic == "min":
            zero = self.seconds[("bare", case)]
            return min(self.seconds[(variant, case)]) - min(zero)
        return report.median(self.overheads(variant, case))


class Subject:
    """One variant's app with a visitor per case, seeded with a session."""

    def __init__(self, name: str, app: Flask) -> None:
        self.name = name
        self.app = app
        self.browsers: dict[str, Browser] = {}
        for case in CASES:
            browser = Browser(app)
            if case != "new":
                browser.get("/new")  # the session that the case's requests carry
            # "new" requests never carry a cookie: do not follow the ones it sets.
            browser.follow = case != "new"
            self.browsers[case] = browser

    def batch(
        self,
        case: str,
        requests: int,
        max_seconds: float = float("inf"),
        trim: float = 0.0,
    ) -> float:
        """Seconds per request over ``requests`` requests of ``case``.

        :param max_seconds: stop early (after 10 requests at least) once the
            batch has run this long, so that a slow variant (SQLite's fsync
            on every commit, say) does not stretch each round.
        :param trim: the share of the slowest requests left out of the mean:
            on a shared machine they are the ones that another process
            preempted, and they would drown the differences measured.
        """
        browser = self.browsers[case]
        path = f"/{case}"
        gc.collect()
        times: list[float] = []
        deadline = time.perf_counter() + max_seconds
        while len(times) < requests:
            times.append(browser.get(path).seconds)
            if len(times) >= MIN_BATCH and time.perf_counter() > deadline:
                break
        return report.trimmed_mean(times, trim)


def counter_for(name: str, backends: Backends) -> Counter | None:
    """What counts the round trips of variant ``name``, if it has any."""
    needs = VARIANTS[name].needs
    if needs == "redis_url":
        return RedisCounter(backends.redis_url)
    if needs == "postgres_url":
        return PostgresCounter(backends.postgres_url)
    if needs == "sqlite_path":
        return SQLiteCounter()
    return None


def run(
    variants: t.Sequence[str],
    backends: Backends,
    *,
    requests: int,
    rounds: int,
    count_requests: int = 50,
    batch_seconds: float = 0.3,
    trim: float = 0.1,
    statistic: str = "median",
    seed: int = 0,
    cases: t.Sequence[str] = tuple(CASES),
    progress: t.Callable[[str], None] = lambda message: None,
) -> Results:
    """Time ``variants`` (``"bare"`` is added: it is the zero) on ``cases``.

    :param requests: requests per batch.
    :param rounds: rounds kept; one more is run first, to warm up, and dropped.
    :param count_requests: requests of the separate pass counting round trips.
    :param batch_seconds: a batch stops early after this long.
    :param trim: the share of each batch's slowest requests left out.
    :param statistic: ``"median"`` of the rounds' differences to the bare
        app, or ``"min"`` (the fastest round of each, minus the bare app's).
    """
    names = ["bare", *(name for name in variants if name != "bare")]
    results = Results(names, requests, rounds, statistic, trim)
    shuffle = random.Random(seed).shuffle
    with contextlib.ExitStack() as cleanup:
        subjects = {
            name: Subject(name, build_app(name, backends, cleanup)) for name in names
        }
        for round_number in range(rounds + 1):
            progress(f"round {round_number}/{rounds}")
            for case in cases:
                order = list(names)
                shuffle(order)
                for name in order:
                    seconds = subjects[name].batch(case, requests, batch_seconds, trim)
                    if round_number:  # round 0 warms up
                        results.seconds.setdefault((name, case), []).append(seconds)
        progress("counting round trips")
        for name in names:
            counter = counter_for(name, backends)
            if counter is None:
                continue
            cleanup.callback(counter.close)
            results.units[name] = counter.unit
            # An app of its own where the counter sits between it and the
            # server (the PostgreSQL relay), so that the timed ones do not;
            # warmed up as they are, so that one-time costs are not counted
            # (psycopg prepares a statement on its fifth run: one more trip).
            routed = counter.route(backends)
            subject = subjects[name]
            if routed != backends:
                subject = Subject(name, build_app(name, routed, cleanup))
                for case in cases:
                    subject.batch(case, count_requests)
            for case in cases:
                counter.start()
                subject.batch(case, count_requests)
                top, inner = counter.stop()
                results.round_trips[(name, case)] = describe(top, inner, count_requests)
    return results


def print_results(results: Results, cases: t.Sequence[str] = tuple(CASES)) -> None:
    """The overhead table with ratios, then the round trips."""
    names = results.variants
    how = (
        "median of the rounds' differences"
        if results.statistic == "median"
        else "fastest round minus the bare app's fastest"
    )
    print(
        "In process (app.wsgi_app): microseconds per request over the bare app;"
        f" {results.rounds} interleaved rounds of up to {results.requests}"
        f" requests (mean of the fastest {1 - results.trim:.0%} of each batch),"
        f" {how}; ± is half the interquartile range of the rounds' differences."
    )
    zero = ", ".join(
        f"{case} {report.micro(report.median(results.seconds[('bare', case)]))}"
        for case in cases
    )
    print(f"The bare app itself (µs per request): {zero}.")
    headers = ["case"]
    for name in names[1:]:
        headers.append(VARIANTS[name].label)
        anchor = VARIANTS[name].anchor
        if anchor in names:
            headers.append(f"/ {VARIANTS[anchor].short}")
    rows = []
    for case in cases:
        row = [case]
        for name in names[1:]:
            overheads = results.overheads(name, case)
            row.append(
                f"{report.micro(results.overhead(name, case))}"
                f" ±{report.micro(report.spread(overheads))}"
            )
            anchor = VARIANTS[name].anchor
            if anchor in names:
                assert anchor is not None
                row.append(
                    report.ratio(
                        results.overhead(name, case), results.overhead(anchor, case)
                    )
                )
        rows.append(row)
    print(report.table(headers, rows))
    print()
    print(
        "Ratios (/ X): the overhead over that of X; below 1.00 is cheaper."
        + (
            " Regenerate for Flask's built-in session is a forced rewrite"
            " (session.modified = True): it has no regenerate."
            if "flask" in names and "regenerate" in cases
            else ""
        )
    )
    if not results.round_trips:
        return
    print()
    print("Round trips per request (a separate counting pass):")
    rows = []
    for name in names:
        for case in cases:
            if (name, case) in results.round_trips:
                total, text = results.round_trips[(name, case)]
                rows.append([VARIANTS[name].label, case, f"{total:.3g}", text])
    print(report.table(["variant", "case", "total", "per request"], rows))
    for name, unit in results.units.items():
        print(f"  {VARIANTS[name].label}: {unit}")
