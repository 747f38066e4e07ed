"""Throw-away Redis and PostgreSQL servers for the benchmarks.

A small cousin of ``tests/servers.py``, kept apart because that module is a
pytest plugin (it imports pytest and defines fixtures) and the benchmarks must
run without the test suite. PostgreSQL starts with ``pg_stat_statements``
loaded, so that round trips are counted by the server itself.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

LOCALHOST = "127.0.0.1"
#: Seconds to wait for a server to start.
STARTUP_TIMEOUT = 30.0


class ServerError(RuntimeError):
    """A benchmark server could not be started."""


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: t.Callable[[], bool], what: str) -> None:
    """Call ``check`` until it is true; fail after :data:`STARTUP_TIMEOUT`."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            raise ServerError(f"timed out waiting for {what}")
        time.sleep(0.05)


def answers_ping(port: int) -> bool:
    """Whether a Redis server on ``port`` answers ``PING`` (no redis-py)."""
    try:
        with socket.create_connection((LOCALHOST, port), timeout=1) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def find_binary(name: str, package: str) -> str:
    """The path of an executable, or an error naming its Debian package."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        raise ServerError(f"{name} is not installed: apt-get install {package}")
    return path


@contextlib.contextmanager
def redis_server(binary: str | None = None) -> t.Iterator[str]:
    """Run a ``redis-server`` without persistence; yield its URL.

    :param binary: the server to run; Debian's ``redis-server`` by default.
    """
    binary = binary or find_binary("redis-server", "redis-server")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="koa-bench-redis-") as directory:
        command = [binary, "--port", str(port), "--bind", LOCALHOST]
        command += ["--dir", directory, "--save", "", "--appendonly", "no"]
        command += ["--logfile", str(Path(directory) / "redis.log")]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        try:
            wait_until(lambda: answers_ping(port), f"redis-server on port {port}")
            yield f"redis://{LOCALHOST}:{port}/0"
        finally:
            process.kill()
            process.wait(timeout=STARTUP_TIMEOUT)


def _postgres_bin() -> Path:
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        raise ServerError("PostgreSQL is not installed: apt-get install postgresql")
    newest = max(found, key=lambda path: int(Path(path).parts[-3].split(".")[0]))
    return Path(newest).parent


@contextlib.contextmanager
def postgres_server(database: str = "koa_bench") -> t.Iterator[str]:
    """Run a throw-away PostgreSQL cluster; yield a SQLAlchemy URL of ``database``.

    Durability is off (``fsync``, ``synchronous_commit``) as in the tests: the
    benchmark measures our work and the round trips, not the disk.
    ``pg_stat_statements`` is loaded and created in ``database``.
    """
    bin_dir = _postgres_bin()
    port = free_port()
    directory = Path(tempfile.mkdtemp(prefix="koa-bench-pg-"))
    as_root = os.geteuid() == 0
    if as_root:  # PostgreSQL refuses to run as root
        shutil.chown(directory, user="postgres", group="postgres")
    data = directory / "data"

    def run(*args: str) -> None:
        command = [str(bin_dir / args[0]), *args[1:]]
        if as_root:
            command = [find_binary("runuser", "util-linux"), "-u", "postgres", "--"]
            command += [str(bin_dir / args[0]), *args[1:]]
        result = subprocess.run(
            command,
            cwd=directory,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=STARTUP_TIMEOUT + 10,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(f"{args[0]} failed: {result.stderr.decode()[-2000:]}")

    options = (
        f"-c port={port} -c listen_addresses={LOCALHOST}"
        f" -c unix_socket_directories={directory}"
        " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        " -c shared_preload_libraries=pg_stat_statements"
        " -c pg_stat_statements.track_utility=on"
    )
    try:
        run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust")
        run("pg_ctl", "start", "-D", str(data), "-l", str(directory / "log"),
            "-o", options, "-w", "-t", str(int(STARTUP_TIMEOUT)))  # fmt: skip
        try:
            import psycopg  # the [postgresql] extra

            with psycopg.connect(
                host=LOCALHOST, port=port, user="postgres", dbname="postgres",
                autocommit=True, connect_timeout=5,
            ) as connection:  # fmt: skip
                connection.execute(f'CREATE DATABASE "{database}"')
            with psycopg.connect(
                host=LOCALHOST, port=port, user="postgres", dbname=database,
                autocommit=True, connect_timeout=5,
            ) as connection:  # fmt: skip
                connection.execute("CREATE EXTENSION pg_stat_statements")
            yield f"postgresql+psycopg://postgres@{LOCALHOST}:{port}/{database}"
        finally:
            run("pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
