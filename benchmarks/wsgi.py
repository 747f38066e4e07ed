"""The app that gunicorn serves in the end-to-end benchmark.

``gunicorn benchmarks.wsgi:app`` with ``KOA_BENCH_VARIANT`` naming a variant
of :data:`benchmarks.apps.VARIANTS` and the servers in the environment (see
:meth:`benchmarks.apps.Backends.to_env`). The app is wrapped in
:class:`ServerTiming`, which answers ``/_bench/stats`` itself.
"""

from __future__ import annotations

import contextlib
import os
import time
import typing as t

from .apps import Backends, build_app
from .client import drain
from .report import trimmed_mean

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

STATS_PATH = "/_bench/stats"


class ServerTiming:
    """Times each request of the app, in the worker itself.

    ``GET /_bench/stats`` answers ``"<requests> <seconds>"`` for the requests
    since the last such call, and starts counting again. The seconds are the
    mean time per request of the fastest ``1 - trim`` of them: on a shared
    machine the slowest are those that another process preempted.
    """

    def __init__(self, app: WSGIApplication, trim: float = 0.1) -> None:
        self.app = app
        self.trim = trim
        self.times: list[float] = []

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> t.Iterable[bytes]:
        if environ.get("PATH_INFO") == STATS_PATH:
            times, self.times = self.times, []
            mean = trimmed_mean(times, self.trim) if times else 0.0
            body = f"{len(times)} {mean!r}".encode()
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [body]
        start = time.perf_counter()
        chunks = drain(self.app(environ, start_response))
        self.times.append(time.perf_counter() - start)
        return chunks


_cleanup = contextlib.ExitStack()  # the worker's clients live as long as it does
app = ServerTiming(
    build_app(
        os.environ.get("KOA_BENCH_VARIANT", "bare"), Backends.from_env(), _cleanup
    )
)
