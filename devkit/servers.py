"""Real Redis and PostgreSQL servers, started from Debian's binaries.

One implementation for the tests (their fixtures are in
``tests/conftest.py``) and the benchmarks (``benchmarks/servers.py``), so it
imports no pytest: the ``[bench]`` extra does not install it. Each server
runs on a free loopback port with its files in a directory of its own, and is
used as a context manager: started on entry, stopped on exit. A missing
binary raises :class:`ServerError` naming the Debian package to install.

- :class:`RedisServer`: one ``redis-server`` (package ``redis-server``).
- :class:`RedisSentinel`: a ``redis-server --sentinel`` monitoring one master.
- :class:`RedisCluster`: three ``redis-server --cluster-enabled yes`` nodes
  joined by ``redis-cli --cluster create`` (package ``redis-tools``).
- :class:`PostgresServer`: a PostgreSQL cluster from ``initdb`` (package
  ``postgresql``), trust auth, with one database; run as the ``postgres`` user
  when run as root, since PostgreSQL refuses root.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

#: Seconds to wait for a server to start or stop before failing.
STARTUP_TIMEOUT = 30.0
LOCALHOST = "127.0.0.1"


class ServerError(RuntimeError):
    """A server could not be started or stopped."""


# -- helpers ------------------------------------------------------------------


def free_port(*, with_bus: bool = False) -> int:
    """Return a loopback TCP port that nothing listens on right now.

    :param with_bus: also require ``port + 10000`` to be free, for Redis
        Cluster's bus port.
    """
    for _ in range(200):
        # Below the usual ephemeral range (32768+), which outgoing connections use.
        port = random.randint(20000, 22767) if with_bus else 0
        with contextlib.ExitStack() as stack:
            try:
                for candidate in (port, port + 10000) if with_bus else (port,):
                    sock = stack.enter_context(socket.socket())
                    sock.bind((LOCALHOST, candidate))
                    if not port:
                        port = sock.getsockname()[1]
            except OSError:
                continue
        return port
    raise ServerError("no free loopback port found")


def find_binary(name: str, package: str) -> str:
    """Return the path of an executable, or fail naming its Debian package."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        raise ServerError(f"{name!r} is not installed: apt-get install {package}")
    return path


def wait_until(
    check: t.Callable[[], bool], what: str, timeout: float = STARTUP_TIMEOUT
) -> None:
    """Call ``check`` until it returns true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ServerError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def redis_command(port: int, *args: str, timeout: float = 1.0) -> bytes:
    """Send one command over RESP and return the raw reply; never raises.

    Kept free of redis-py so that starting servers does not depend on the
    client under test. Returns ``b""`` when the server does not answer.
    """
    request = f"*{len(args)}\r\n".encode()
    for arg in args:
        data = arg.encode()
        request += b"$%d\r\n%s\r\n" % (len(data), data)
    try:
        with socket.create_connection((LOCALHOST, port), timeout=timeout) as sock:
            sock.sendall(request)
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
            return reply
    except OSError:
        return b""


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Server:
    """A server run in a ``with`` block: :meth:`up` on entry, :meth:`down` on exit.

    A start that fails half-way (a cluster with some nodes up) is undone too.
    """

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def up(self) -> None:
        """Make the server ready; :meth:`start` unless it needs more."""
        self.start()

    def down(self) -> None:
        """Undo :meth:`up`; :meth:`stop` unless there is more to remove."""
        self.stop()

    def __enter__(self) -> t.Self:
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.down()


# -- Redis ----------------------------------------------------------------------


class RedisServer(Server):
    """A ``redis-server`` process that can be stopped and started again.

    :param directory: where its log (and cluster config) go.
    :param args: extra command-line arguments.
    :param bus: reserve the cluster bus port too.
    :param binary: the server to run; Debian's ``redis-server`` by default.
    """

    def __init__(
        self,
        directory: Path,
        args: t.Sequence[str] = (),
        *,
        bus: bool = False,
        binary: str | None = None,
    ) -> None:
        self.binary = binary or find_binary("redis-server", "redis-server")
        self.host = LOCALHOST
        self.port = free_port(with_bus=bus)
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log = directory / f"redis-{self.port}.log"
        self.args = list(args)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def command_line(self) -> list[str]:
        return [
            self.binary,
            *self.args,
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.directory),
            "--logfile", str(self.log),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
        ]  # fmt: skip

    def start(self) -> None:
        """Start (or restart, on the same port) and wait for ``PING``."""
        if self.process is not None:
            raise ServerError(f"redis-server on port {self.port} is already running")
        self.process = subprocess.Popen(
            self.command_line(),
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                raise ServerError(
                    f"redis-server exited with {process.returncode}:\n"
                    + _log_tail(self.log)
                )
            return redis_command(self.port, "PING").startswith(b"+PONG")

        try:
            wait_until(ready, f"redis-server on port {self.port} to answer PING")
        except ServerError:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill the server (data is lost: nothing is persisted)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.kill()
        try:
            process.wait(timeout=STARTUP_TIMEOUT)
        except subprocess.TimeoutExpired as error:
            raise ServerError(f"redis-server {process.pid} did not exit") from error


class RedisSentinel(Server):
    """A ``redis-server --sentinel`` monitoring one master.

    :param directory: for its config file (Sentinel rewrites it) and log.
    :param master: the master to monitor.
    :param name: the master's name in Sentinel.
    """

    def __init__(
        self, directory: Path, master: RedisServer, name: str = "mymaster"
    ) -> None:
        self.name = name
        self.master = master
        self.server = RedisServer(directory)
        config = directory / "sentinel.conf"
        config.write_text(
            f"sentinel monitor {name} {master.host} {master.port} 1\n"
            f"sentinel down-after-milliseconds {name} 60000\n"
        )
        self.server.args = [str(config), "--sentinel"]
        self.host = self.server.host
        self.port = self.server.port

    def start(self) -> None:
        self.server.start()
        wait_until(
            lambda: (
                str(self.master.port).encode()
                in redis_command(
                    self.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name
                )
            ),
            f"Sentinel on port {self.port} to know {self.name!r}",
        )

    def stop(self) -> None:
        self.server.stop()


class RedisCluster(Server):
    """Three master nodes with all 16384 slots, no replicas.

    :param directory: one subdirectory per node.
    """

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.cli = find_binary("redis-cli", "redis-tools")
        self.nodes = [
            RedisServer(
                directory / f"node{index}",
                ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"],
                bus=True,
            )
            for index in range(size)
        ]
        for node in self.nodes:
            node.args += ["--cluster-config-file", f"nodes-{node.port}.conf"]
        self.host = LOCALHOST
        self.port = self.nodes[0].port

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"{node.host}:{node.port}" for node in self.nodes]
        create = [self.cli, "--cluster", "create", *addresses]
        create += ["--cluster-replicas", "0", "--cluster-yes"]
        result = subprocess.run(
            create,
            capture_output=True,
            timeout=STARTUP_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(
                "redis-cli --cluster create failed:\n"
                + result.stdout.decode(errors="replace")
                + result.stderr.decode(errors="replace")
            )
        for node in self.nodes:
            wait_until(
                functools.partial(self._cluster_ok, node.port),
                f"cluster node {node.port} to report cluster_state:ok",
            )

    @staticmethod
    def _cluster_ok(port: int) -> bool:
        return b"cluster_state:ok" in redis_command(port, "CLUSTER", "INFO")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


# -- PostgreSQL -------------------------------------------------------------------


def _postgres_bin() -> Path:
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        raise ServerError(
            "PostgreSQL's initdb is not installed (looked in"
            " /usr/lib/postgresql/*/bin); apt-get install postgresql"
        )
    newest = max(found, key=lambda path: int(Path(path).parts[-3].split(".")[0]))
    return Path(newest).parent


class PostgresServer(Server):
    """A throw-away PostgreSQL cluster with trust authentication.

    The directory is made with :func:`tempfile.mkdtemp` rather than pytest's
    ``tmp_path`` because pytest's base directory is private to the user
    running the tests, and the server runs as ``postgres`` when that is root.

    :param database: the database to create.
    :param settings: more server settings, ``"name=value"`` each.
    """

    user = "postgres"

    def __init__(
        self, database: str = "koasession_test", settings: t.Sequence[str] = ()
    ) -> None:
        self.bin = _postgres_bin()
        self.database = database
        self.settings = list(settings)
        self.host = LOCALHOST
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="koasession-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.directory, user="postgres", group="postgres")
        self.running = False

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the test database."""
        return (
            f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.database}"
        )

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            runuser = find_binary("runuser", "util-linux")
            command = [runuser, "-u", "postgres", "--", *command]
        result = subprocess.run(
            command,
            cwd=self.directory,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=STARTUP_TIMEOUT + 10,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(
                f"{' '.join(args[:2])} failed ({result.returncode}):\n"
                + result.stdout.decode(errors="replace")
                + result.stderr.decode(errors="replace")
                + _log_tail(self.log)
            )

    def up(self) -> None:
        """Create the cluster, start it and create the database."""
        self._run(
            "initdb",
            "-D", str(self.data),
            "-U", self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )  # fmt: skip
        self.start()
        self.execute(f'CREATE DATABASE "{self.database}"', dbname="postgres")

    def execute(self, statement: str, *, dbname: str | None = None) -> None:
        """Run one statement as the superuser, in the database by default."""
        import psycopg  # only where PostgreSQL is used

        with psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname=dbname or self.database,
            autocommit=True,
            connect_timeout=5,
        ) as connection:
            connection.execute(statement)

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it accepts."""
        options = (
            f"-c port={self.port} -c listen_addresses={self.host}"
            f" -c unix_socket_directories={self.directory}"
            " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        ) + "".join(f" -c {setting}" for setting in self.settings)
        self._run(
            "pg_ctl", "start",
            "-D", str(self.data),
            "-l", str(self.log),
            "-o", options,
            "-w", "-t", str(int(STARTUP_TIMEOUT)),
        )  # fmt: skip
        self.running = True

    def stop(self) -> None:
        """Stop fast (disconnecting clients) and wait until it is down."""
        if not self.running and not (self.data / "postmaster.pid").exists():
            return
        self._run(
            "pg_ctl", "stop", "-D", str(self.data),
            "-m", "fast", "-w", "-t", str(int(STARTUP_TIMEOUT)),
        )  # fmt: skip
        self.running = False

    def kill(self) -> None:
        """Last resort at teardown when ``stop`` failed."""
        pid_file = self.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def down(self) -> None:
        """Stop (killing it when that fails) and remove its files."""
        try:
            self.stop()
        except ServerError:
            self.kill()
            raise
        finally:
            self.remove()
