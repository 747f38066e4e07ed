"""Run the real Koa app and its Flask twin side by side over real HTTP.

- :func:`check_node_modules` makes sure ``npm ci`` was run in ``tests/interop``
  (it runs it only when ``KOA_INTEROP_NPM_CI=1`` asks it to; otherwise it fails
  with the command to run).
- :class:`NodeServer` starts one of the Node.js apps here with an environment,
  waits (bounded) for its ``LISTENING <port>`` line and stops it with SIGTERM:
  :class:`KoaServer` is ``server.js`` (Koa with koa-session),
  :class:`ExpressServer` is ``express_server.js`` (Express with
  cookie-session), :class:`ExpressSessionServer` is
  ``express_session_server.js`` (Express with express-session and
  connect-redis).
- :class:`FlaskServer` serves a Flask app with Werkzeug's threaded server in a
  background thread.
- :class:`Browser` is one ``requests`` cookie jar that moves between the
  servers, as a browser moving between services of one site: all listen on
  127.0.0.1, and cookies ignore the port, so a cookie set by one is sent to the
  others. It keeps a transcript of every exchange for failure messages.
- :func:`keygrip_sign` signs as keygrip does, independently of the package, so
  tests can forge and check signatures; :func:`express_session_sign` and
  :func:`express_session_cookie` sign a session id as express-session
  (cookie-signature) does.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import typing as t
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import requests
from werkzeug.serving import make_server

if t.TYPE_CHECKING:
    from flask import Flask

INTEROP_DIR = Path(__file__).resolve().parent
NODE_MODULES = INTEROP_DIR / "node_modules"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
REQUEST_TIMEOUT = 10.0

#: The payload fields that koa-session appends; never session data.
BOOKKEEPING = ("_expire", "_maxAge", "_session")


class HarnessError(RuntimeError):
    """The interop environment is not usable (no node, no node_modules...)."""


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise HarnessError(
            "node is not on PATH: the interop tests need Node.js 18.19 or later"
        )
    return node


def check_node_modules(*, install: bool | None = None) -> None:
    """Fail clearly unless ``tests/interop/node_modules`` is in place.

    :param install: run ``npm ci`` when node_modules is missing. ``None`` reads
        the environment variable ``KOA_INTEROP_NPM_CI`` (``1`` to install).
    """
    if (NODE_MODULES / "koa-session" / "package.json").is_file():
        stale = _stale_packages()
        if not stale:
            return
        if not (install or os.environ.get("KOA_INTEROP_NPM_CI") == "1"):
            raise HarnessError(
                f"{NODE_MODULES} does not match package.json ({', '.join(stale)}):"
                f" run `npm ci --prefix {INTEROP_DIR}`"
            )
        install = True
    if install is None:
        install = os.environ.get("KOA_INTEROP_NPM_CI") == "1"
    if not install:
        raise HarnessError(
            f"{NODE_MODULES} is missing: run `npm ci --prefix {INTEROP_DIR}` (or"
            " `cd tests/interop && npm ci`) before the interop tests, or set"
            " KOA_INTEROP_NPM_CI=1 to let the tests run it"
        )
    npm = shutil.which("npm")
    if npm is None:
        raise HarnessError("npm is not on PATH: cannot install the Koa side")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=INTEROP_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise HarnessError(f"npm ci failed ({result.returncode}):\n{result.stderr}")


def _stale_packages() -> list[str]:
    """Dependencies whose installed version differs from package.json's pin."""
    wanted = json.loads((INTEROP_DIR / "package.json").read_text())["dependencies"]
    stale = []
    for name, version in wanted.items():
        manifest = NODE_MODULES / name / "package.json"
        try:
            installed = json.loads(manifest.read_text())["version"]
        except (OSError, ValueError, KeyError):
            installed = None
        if installed != version:
            stale.append(f"{name} {installed or 'missing'} != {version}")
    return stale


class NodeServer:
    """A Node.js app of ``tests/interop`` (:attr:`script`) in a child process.

    :param env: its configuration (``KEYS``, ``MAX_AGE``...; see the top of the
        script). ``PORT`` is always 0.
    """

    #: The side's name in transcripts.
    name = "node"
    #: The file in ``tests/interop`` that Node runs.
    script = ""

    def __init__(self, env: t.Mapping[str, str]) -> None:
        self.env = dict(env)
        self.port = 0
        self._stderr = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> t.Self:
        check_node_modules()
        env = {**os.environ, **self.env, "PORT": "0"}
        self._process = subprocess.Popen(
            [node_binary(), str(INTEROP_DIR / self.script)],
            cwd=INTEROP_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        try:
            self.port = self._wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self) -> int:
        assert self._process is not None
        assert self._process.stdout is not None
        stdout = self._process.stdout
        deadline = time.monotonic() + START_TIMEOUT
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HarnessError(
                        f"{self.script} did not print LISTENING in {START_TIMEOUT} s;"
                        f" stderr:\n{self.stderr()}"
                    )
                if not selector.select(remaining):
                    continue
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    self._process.wait(STOP_TIMEOUT)
                    raise HarnessError(
                        f"{self.script} exited ({self._process.returncode}) before"
                        f" listening; env {self.env}; stderr:\n{self.stderr()}"
                    )
                buffer += chunk
                for line in buffer.decode("utf-8", "replace").splitlines():
                    if line.startswith("LISTENING "):
                        return int(line.split()[1])

    def stderr(self) -> str:
        """Everything the server wrote to stderr so far."""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(STOP_TIMEOUT)
            if process.stdout is not None:
                process.stdout.close()
        if not self._stderr.closed:
            self._stderr.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} {self.env}>"


class KoaServer(NodeServer):
    """``server.js``: Koa 3 with koa-session 7 (and koa-redis in store mode)."""

    name = "koa"
    script = "server.js"


class ExpressServer(NodeServer):
    """``express_server.js``: Express with cookie-session."""

    name = "express"
    script = "express_server.js"


class ExpressSessionServer(NodeServer):
    """``express_session_server.js``: Express with express-session and
    connect-redis (``REDIS_URL`` is required)."""

    name = "express-session"
    script = "express_session_server.js"


class FlaskServer:
    """A Flask app served over real HTTP by Werkzeug in a background thread."""

    name = "flask"

    def __init__(self, app: Flask, env: t.Mapping[str, str] | None = None) -> None:
        self.app = app
        self.env = dict(env or {})
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"flask-interop-{self.port}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FlaskServer:
        self._thread.start()
        return self

    def stderr(self) -> str:
        return ""

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(STOP_TIMEOUT)
        self._server.server_close()

    def __repr__(self) -> str:
        return f"<FlaskServer {self.url} {self.env}>"


Server = NodeServer | FlaskServer


@dataclass
class Exchange:
    """One request and its response, for transcripts."""

    server: str
    method: str
    url: str
    cookie: str | None
    status: int
    set_cookie: list[str]
    body: str

    def __str__(self) -> str:
        lines = [f"{self.server}: {self.method} {self.url} -> {self.status}"]
        lines.append(f"    Cookie: {self.cookie}")
        lines.extend(f"    Set-Cookie: {line}" for line in self.set_cookie)
        lines.append(f"    body: {self.body[:300]}")
        return "\n".join(lines)


def set_cookie_lines(response: requests.Response) -> list[str]:
    """The raw ``Set-Cookie`` lines of one response, in order."""
    return list(response.raw.headers.getlist("Set-Cookie"))


@dataclass
class Browser:
    """One cookie jar visiting both servers (see the module docstring)."""

    session: requests.Session = field(default_factory=requests.Session)
    transcript: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A fresh connection per request: no keep-alive races with servers that
        # close idle connections.
        self.session.headers["Connection"] = "close"

    def get(
        self,
        server: Server,
        path: str,
        *,
        params: t.Mapping[str, str] | None = None,
        cookie: str | None = None,
        allow_redirects: bool = True,
        expect: int | None = 200,
        headers: t.Mapping[str, str] | None = None,
    ) -> requests.Response:
        """GET ``path`` on ``server`` with the jar's cookies.

        :param cookie: send exactly this ``Cookie`` header, bypassing the jar
            (which then neither sends nor receives cookies for this request).
        :param expect: the status to assert (``None``: any).
        :param headers: more request headers (``X-Forwarded-Proto``...).
        """
        if cookie is None:
            response = self.session.get(
                server.url + path,
                params=params,
                headers=headers,
                allow_redirects=allow_redirects,
                timeout=REQUEST_TIMEOUT,
            )
        else:
            with requests.Session() as bare:
                response = bare.get(
                    server.url + path,
                    params=params,
                    headers={
                        **(headers or {}),
                        "Cookie": cookie,
                        "Connection": "close",
                    },
                    allow_redirects=False,
                    timeout=REQUEST_TIMEOUT,
                )
        for hop in (*response.history, response):
            self.transcript.append(
                Exchange(
                    server=server.name,
                    method="GET",
                    url=hop.request.path_url,
                    cookie=hop.request.headers.get("Cookie"),
                    status=hop.status_code,
                    set_cookie=set_cookie_lines(hop),
                    body=hop.text,
                )
            )
        if expect is not None and response.status_code != expect:
            raise AssertionError(
                f"expected {expect} from {server.name} {path}, got"
                f" {response.status_code}\n{self.report(server)}"
            )
        return response

    def json(self, server: Server, path: str, **kwargs: t.Any) -> t.Any:
        return self.get(server, path, **kwargs).json()

    def cookies(self) -> dict[str, str]:
        """The cookies the jar would send now, by name."""
        return {cookie.name: cookie.value or "" for cookie in self.session.cookies}

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies().items())

    def report(self, *servers: Server, last: int = 12) -> str:
        """The last exchanges, and the servers' stderr, for a failure message."""
        parts = [str(exchange) for exchange in self.transcript[-last:]]
        for server in servers:
            err = server.stderr()
            if err.strip():
                parts.append(f"{server.name} stderr:\n{err[-2000:]}")
        return "\n".join(parts)

    def close(self) -> None:
        self.session.close()


def parse_set_cookie(line: str) -> tuple[str, str, dict[str, str | bool]]:
    """Split a ``Set-Cookie`` line into name, value and lower-cased attributes."""
    pair, *attrs = [part.strip() for part in line.split(";")]
    name, _, value = pair.partition("=")
    parsed: dict[str, str | bool] = {}
    for attr in attrs:
        if not attr:
            continue
        key, eq, val = attr.partition("=")
        parsed[key.lower()] = val if eq else True
    return name, value, parsed


def set_cookies(response: requests.Response) -> dict[str, tuple[str, dict]]:
    """The response's cookies by name: ``{name: (value, attributes)}``.

    :raise AssertionError: when a name is set twice (koa's ``overwrite`` means
        a response never carries two values for one name).
    """
    out: dict[str, tuple[str, dict]] = {}
    for line in set_cookie_lines(response):
        name, value, attrs = parse_set_cookie(line)
        assert name not in out, f"{name} set twice: {set_cookie_lines(response)}"
        out[name] = (value, attrs)
    return out


def keygrip_sign(key: str | bytes, data: str, digest: str = "sha1") -> str:
    """keygrip's ``sign``: HMAC, base64 with ``+/`` -> ``-_`` and no padding."""
    raw_key = key.encode() if isinstance(key, str) else key
    mac = hmac.new(raw_key, data.encode(), getattr(hashlib, digest)).digest()
    return (
        base64.b64encode(mac).decode().replace("/", "_").replace("+", "-").rstrip("=")
    )


def express_session_sign(secret: str, session_id: str) -> str:
    """express-session's signed value (before URL-encoding): ``s:`` + id + ``.``
    + base64 of HMAC-SHA256(secret, id), ``=`` padding removed (cookie-signature's
    ``sign``, with standard base64: ``+`` and ``/`` stay)."""
    mac = hmac.new(secret.encode(), session_id.encode(), hashlib.sha256).digest()
    return f"s:{session_id}.{base64.b64encode(mac).decode().rstrip('=')}"


def express_session_cookie(secret: str, session_id: str) -> str:
    """The cookie value as express-session writes it in ``Set-Cookie``:
    :func:`express_session_sign` through ``encodeURIComponent`` (the cookie
    module's default ``encode``)."""
    return urllib.parse.quote(express_session_sign(secret, session_id), safe="!'()*")


def koa_encode(payload: dict[str, t.Any]) -> str:
    """koa-session's ``encode``: base64 of ``JSON.stringify(payload)``."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(text.encode()).decode()


def koa_decode(value: str) -> t.Any:
    """Strict decoding of a cookie value written by either side."""
    return json.loads(base64.b64decode(value, validate=True).decode())


def koa_decode_text(value: str) -> str:
    """The JSON text inside a cookie value, exactly."""
    return base64.b64decode(value, validate=True).decode()


def strip_bookkeeping(payload: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {k: v for k, v in payload.items() if k not in BOOKKEEPING}


def now_ms() -> int:
    return int(time.time() * 1000)


@contextlib.contextmanager
def running(server: Server) -> t.Iterator[Server]:
    """Start ``server`` for the ``with`` block, stop it after."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
