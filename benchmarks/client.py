"""A minimal browser for in-process requests: WSGI calls and a cookie jar.

Requests go straight to ``app.wsgi_app`` with a prepared environ, so that the
timed part is Flask's request cycle and the session work, not the test
client's own machinery (building environs, parsing cookies).
"""

from __future__ import annotations

import time
import typing as t

from werkzeug.test import EnvironBuilder

if t.TYPE_CHECKING:
    from flask import Flask


class BenchmarkError(RuntimeError):
    """A variant answered something else than a 200: its figures would lie."""


class Reply(t.NamedTuple):
    """What one request gave."""

    seconds: float
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class Browser:
    """The cookies of one visitor of one app, and requests that follow them.

    :param app: the app to call.
    :param follow: keep the cookies that responses set (a browser does); off,
        every request carries the cookies the browser had at the start.
    """

    def __init__(self, app: Flask, *, follow: bool = True) -> None:
        self.app = app
        self.follow = follow
        self.jar: dict[str, str] = {}
        self._environs: dict[str, dict[str, t.Any]] = {}

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.jar.items())

    def get(self, path: str) -> Reply:
        """Request ``path``, carrying the jar's cookies.

        :raise BenchmarkError: for a status other than 200.
        """
        base = self._environs.get(path)
        if base is None:
            base = self._environs[path] = EnvironBuilder(path=path).get_environ()
        environ = dict(base)
        if self.jar:
            environ["HTTP_COOKIE"] = self.cookie_header
        reply = call(self.app, environ)
        if not reply.status.startswith("200"):
            raise BenchmarkError(f"{self.app.name} {path}: {reply.status}")
        if self.follow:
            self.update(reply.headers)
        return reply

    def update(self, headers: list[tuple[str, str]]) -> None:
        """Keep (or forget) the cookies that ``Set-Cookie`` headers set."""
        for name, value in headers:
            if name.lower() != "set-cookie":
                continue
            pair, _, attributes = value.partition(";")
            key, _, cookie = pair.partition("=")
            lowered = attributes.lower()
            if "max-age=0" in lowered or "expires=thu, 01 jan 1970" in lowered:
                self.jar.pop(key.strip(), None)
            else:
                self.jar[key.strip()] = cookie.strip()


def call(app: Flask, environ: dict[str, t.Any]) -> Reply:
    """Run one request through ``app.wsgi_app``, body consumed and closed."""
    responses: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
    ) -> t.Callable[[bytes], object]:
        responses.append((status, headers))
        return len

    start = time.perf_counter()
    chunks = drain(app.wsgi_app(environ, start_response))
    seconds = time.perf_counter() - start
    status, headers = responses[-1]
    return Reply(seconds, status, headers, b"".join(chunks))


def drain(iterable: t.Iterable[bytes]) -> list[bytes]:
    """Read a WSGI response to the end and close it, as a server does (the
    session is saved before the body starts; closing ends the request)."""
    try:
        return list(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
