"""End to end: each variant behind real gunicorn, loaded by ``wrk``.

One gunicorn per variant (1 sync worker), all started at once and idle but
for the one being loaded; ``wrk -t1 -c1`` sends one request at a time, so
requests/s is the inverse of the whole round trip (client, TCP connect,
gunicorn, Flask, session). The worker also times its app on each request
(:class:`benchmarks.wsgi.ServerTiming`): that server-side figure, minus the
bare app's, is the session's cost in a real server. Rounds interleave the
variants in a shuffled order, as in process.

``wrk`` is Debian's (``apt-get install wrk``).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.request
from pathlib import Path

from devkit import servers

from . import report
from .apps import CASES, VARIANTS, Backends, build_app
from .client import Browser
from .wsgi import STATS_PATH

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).with_name("cookies.lua")
#: Sessions made for each regenerate run (each is regenerated once).
REGENERATE_REQUESTS = 300


class Gunicorn:
    """A gunicorn serving one variant with 1 sync worker."""

    def __init__(self, variant: str, backends: Backends) -> None:
        self.variant = variant
        self.port = servers.free_port()
        self.url = f"http://{servers.LOCALHOST}:{self.port}"
        env = {**os.environ, **backends.to_env(), "KOA_BENCH_VARIANT": variant}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "1",
                "--worker-class",
                "sync",
                "--bind",
                f"{servers.LOCALHOST}:{self.port}",
                "--log-level",
                "warning",
                "--no-control-socket",
                "benchmarks.wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        servers.wait_until(self._ready, f"gunicorn serving {variant}")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise servers.ServerError(f"gunicorn for {self.variant} exited")
        try:
            self.stats()
        except OSError:
            return False
        return True

    def stats(self) -> tuple[int, float]:
        """Requests since the last call, and their (trimmed) mean seconds."""
        with urllib.request.urlopen(self.url + STATS_PATH, timeout=5) as reply:
            requests, seconds = reply.read().decode().split()
        return int(requests), float(seconds)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=servers.STARTUP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def seed_cookies(app: Browser | None, count: int) -> list[str]:
    """``Cookie`` headers of ``count`` fresh sessions made through ``/new``."""
    if app is None:
        return [""] * count
    headers = []
    for _ in range(count):
        browser = Browser(app.app)
        browser.get("/new")
        headers.append(browser.cookie_header)
    return headers


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def wrk(
    url: str, cookies: list[str], duration: float, directory: Path
) -> tuple[int, float]:
    """Run ``wrk -t1 -c1`` with these cookies; requests done, requests/s.

    With several cookies the run stops after the last, before ``duration``;
    wrk still divides by the whole duration, so requests/s is then taken as
    1 / mean latency (the same thing for one connection, less the client's
    own time between requests).
    """
    binary = shutil.which("wrk")
    if binary is None:
        raise servers.ServerError("wrk is not installed: apt-get install wrk")
    cookie_file = directory / "cookies.txt"
    cookie_file.write_text("\n".join(cookies) + "\n")
    command = [binary, "-t1", "-c1", f"-d{duration:g}s", "-s", str(LUA), url]
    result = subprocess.run(
        [*command, "--", str(cookie_file)],
        capture_output=True, text=True, timeout=duration + 120, check=False,
    )  # fmt: skip
    output = result.stdout
    if result.returncode != 0 or "Non-2xx" in output or "Socket errors" in output:
        raise servers.ServerError(f"wrk failed on {url}:\n{output}{result.stderr}")
    done = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s|m)\b", output)
    if done is None or rate is None or latency is None:
        raise servers.ServerError(f"unexpected wrk output:\n{output}")
    if len(cookies) > 1:
        return int(done[1]), 1 / (float(latency[1]) * _UNITS[latency[2]])
    return int(done[1]), float(rate[1])


def main(
    variants: t.Sequence[str],
    backends: Backends,
    *,
    cases: t.Sequence[str] = tuple(CASES),
    duration: float,
    rounds: int,
    seed: int = 0,
    progress: t.Callable[[str], None] = lambda message: None,
) -> None:
    names = ["bare", *(name for name in variants if name != "bare")]
    rate: dict[tuple[str, str], list[float]] = {}
    server: dict[tuple[str, str], list[float]] = {}
    shuffle = random.Random(seed).shuffle
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        seeders = {name: Browser(build_app(name, backends, stack)) for name in names}
        guns = {}
        for name in names:
            guns[name] = Gunicorn(name, backends)
            stack.callback(guns[name].stop)
        for round_number in range(rounds):
            progress(f"e2e round {round_number + 1}/{rounds}")
            for case in cases:
                order = list(names)
                shuffle(order)
                for name in order:
                    if case == "new":
                        cookies = [""]
                    else:
                        count = REGENERATE_REQUESTS if case == "regenerate" else 1
                        seeder = None if name == "bare" else seeders[name]
                        cookies = seed_cookies(seeder, count)
                    gun = guns[name]
                    gun.stats()  # start counting now
                    done, per_second = wrk(
                        f"{gun.url}/{case}", cookies, duration, directory
                    )
                    requests, seconds = gun.stats()
                    if requests < done:
                        raise servers.ServerError(
                            f"{name} {case}: wrk saw {done} requests,"
                            f" the worker {requests}"
                        )
                    rate.setdefault((name, case), []).append(per_second)
                    server.setdefault((name, case), []).append(seconds)
                    time.sleep(0.2)  # let the worker settle between runs
    print_results(names, cases, rate, server, duration, rounds)


def print_results(
    names: t.Sequence[str],
    cases: t.Sequence[str],
    rate: dict[tuple[str, str], list[float]],
    server: dict[tuple[str, str], list[float]],
    duration: float,
    rounds: int,
) -> None:
    print(
        f"End to end: gunicorn (1 sync worker), wrk -t1 -c1, {duration:g} s runs"
        f" ({REGENERATE_REQUESTS} requests for regenerate), median of {rounds}"
        " interleaved rounds."
    )
    print(
        "Requests per second (regenerate: 1 / mean latency, as its runs stop"
        " once the sessions made for them are used):"
    )
    rows = [
        [case, *(f"{report.median(rate[(name, case)]):.0f}" for name in names)]
        for case in cases
    ]
    print(report.table(["case", *(VARIANTS[name].short for name in names)], rows))
    print()
    print(
        "Server side: µs per request in the worker's WSGI app (mean of the"
        " fastest 90%) over the bare app's, and the ratio to the anchor (/ X):"
    )
    headers = ["case"]
    for name in names[1:]:
        headers.append(VARIANTS[name].short)
        anchor = VARIANTS[name].anchor
        if anchor in names:
            assert anchor is not None
            headers.append(f"/ {VARIANTS[anchor].short}")
    rows = []
    for case in cases:
        zero = report.median(server[("bare", case)])
        overhead = {name: report.median(server[(name, case)]) - zero for name in names}
        row = [case]
        for name in names[1:]:
            row.append(report.micro(overhead[name]))
            anchor = VARIANTS[name].anchor
            if anchor in names:
                assert anchor is not None
                row.append(report.ratio(overhead[name], overhead[anchor]))
        rows.append(row)
    print(report.table(headers, rows))
    zero_text = ", ".join(
        f"{case} {report.micro(report.median(server[('bare', case)]))}"
        for case in cases
    )
    print(f"The bare app in the worker (µs per request): {zero_text}.")
