"""Real gunicorn serving ``race_app``, and many clients released at once.

- :class:`GunicornServer` starts ``gunicorn`` (gthread workers) on a free port
  and stops it; a failed start shows the tail of its log.
- :func:`request` sends one request on its own connection and returns a
  :class:`Reply` (status, JSON body, the session cookies it set, the race_app
  timestamps).
- :func:`race` sends many requests at the same moment: each thread connects
  first, then all wait at one barrier, then each sends after its own delay.

Every wait here is bounded: socket timeouts, barrier timeouts, start and stop
timeouts.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

from devkit.servers import LOCALHOST, ServerError, free_port, wait_until

#: The session cookie of race_app (koa-session's default name) and its signature.
COOKIE = "koa.sess"
SIGNATURE = COOKIE + ".sig"
#: Seconds any one request may take before the test fails.
REQUEST_TIMEOUT = 20.0
#: Seconds to wait for gunicorn to answer, or to exit.
START_TIMEOUT = 30.0
REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Reply:
    """One response, as the race tests need it."""

    status: int
    body: bytes
    #: Each ``Set-Cookie`` as ``name -> value`` (the last one of a name).
    set_cookies: dict[str, str]
    headers: dict[str, str]

    def json(self) -> t.Any:
        return json.loads(self.body)

    def stamp(self, name: str) -> float:
        """A race_app timestamp header (``X-Loaded-At``...), in seconds."""
        return float(self.headers[name.lower()])

    @property
    def session_id(self) -> str | None:
        """The store id this response points the browser at: ``None`` when it
        sets no session cookie, ``""`` when it removes the cookie."""
        return self.set_cookies.get(COOKIE)

    def cookie_header(self) -> str:
        """A ``Cookie`` header sending back the session cookies this response set."""
        return "; ".join(
            f"{name}={self.set_cookies[name]}"
            for name in (COOKIE, SIGNATURE)
            if name in self.set_cookies
        )


@dataclasses.dataclass(frozen=True)
class Call:
    """A request to send in a race."""

    method: str
    path: str
    cookie: str = ""
    #: Seconds after the barrier at which to send it.
    delay: float = 0.0


def _connect(port: int) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(LOCALHOST, port, timeout=REQUEST_TIMEOUT)
    connection.connect()
    return connection


def _send(connection: http.client.HTTPConnection, call: Call) -> Reply:
    headers = {"Cookie": call.cookie} if call.cookie else {}
    try:
        connection.request(call.method, call.path, headers=headers)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    set_cookies: dict[str, str] = {}
    for line in response.headers.get_all("Set-Cookie") or ():
        name, _, value = line.split(";", 1)[0].strip().partition("=")
        set_cookies[name] = value
    lowered = {name.lower(): value for name, value in response.headers.items()}
    return Reply(response.status, body, set_cookies, lowered)


def request(port: int, method: str, path: str, cookie: str = "") -> Reply:
    """Send one request on a new connection."""
    return _send(_connect(port), Call(method, path, cookie))


def race(port: int, calls: t.Sequence[Call], *, timeout: float = 60.0) -> list[Reply]:
    """Send ``calls`` together and return their replies, in order.

    Each call gets a thread that opens its connection, waits at a barrier
    shared by all, sleeps its ``delay`` and sends. gunicorn's gthread workers
    accept connections before they hand them to a thread, so connecting
    early takes no worker thread; it only removes connection set-up from the
    moment of the race.

    :raise AssertionError: when a call failed or the race took longer than
        ``timeout`` seconds.
    """
    barrier = threading.Barrier(len(calls), timeout=REQUEST_TIMEOUT)
    replies: list[Reply | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Call) -> None:
        try:
            connection = _connect(port)
            barrier.wait()
            if call.delay:
                time.sleep(call.delay)
            replies[index] = _send(connection, call)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        raise AssertionError(f"a race of {len(calls)} requests took over {timeout} s")
    if errors:
        raise AssertionError(f"{len(errors)} request(s) of a race failed") from errors[
            0
        ]
    return [reply for reply in replies if reply is not None]


class GunicornServer:
    """``gunicorn 'tests.concurrency.race_app:create_app()'`` on a free port.

    :param directory: where its log goes.
    :param env: the ``KOA_RACE_*`` variables that choose the store.
    :param workers: worker processes.
    :param threads: threads per worker (gthread worker class).
    """

    def __init__(
        self, directory: Path, env: dict[str, str], *, workers: int, threads: int
    ) -> None:
        self.port = free_port()
        self.log = directory / f"gunicorn-{self.port}.log"
        self.env = {**os.environ, **env}
        self.workers = workers
        self.threads = threads
        self.process: subprocess.Popen[bytes] | None = None

    def command_line(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn",
            "--worker-class", "gthread",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            # A worker takes no more connections than it has threads, so a
            # request never waits in one worker's queue, behind sleeping ones,
            # while another worker has a free thread: the logout or login of a
            # race runs when it is sent. The rest wait in the listen backlog.
            "--worker-connections", str(self.threads),
            "--bind", f"{LOCALHOST}:{self.port}",
            "--chdir", str(REPO),
            "--timeout", "60",
            "--graceful-timeout", "5",
            "--no-control-socket",
            "--error-logfile", str(self.log),
            "--log-level", "warning",
            "tests.concurrency.race_app:create_app()",
        ]  # fmt: skip

    def start(self) -> None:
        """Start it and wait until it answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command_line(),
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                raise ServerError(
                    f"gunicorn exited with {process.returncode}:\n{self.log_tail()}"
                )
            try:
                return request(self.port, "GET", "/healthz").status == 200
            except OSError:
                return False

        try:
            wait_until(ready, f"gunicorn on port {self.port}", START_TIMEOUT)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after ``START_TIMEOUT`` seconds."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=START_TIMEOUT)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
