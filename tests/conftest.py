"""Shared fixtures: real servers started once per test session (see servers.py):
redis_server, redis_sentinel, redis_cluster, postgres_instance and
postgres_server (its SQLAlchemy URL); and ``clock``, the extension's clock
frozen (see helpers.freeze_clock).

Tests that use one of them, Node.js (tests/interop's ``node_modules``) or
headless Chromium (tests/browser),
are marked ``needs_server``; ``-m "not needs_server"`` selects the rest,
which need nothing but Python packages (scripts/test-flask-versions runs
those against several Flask and Werkzeug versions).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.helpers import freeze_clock

pytest_plugins = ["tests.servers"]


def pytest_report_header() -> str:
    """Name the Node.js that runs the interop suite's Koa side (18.19 or later)."""
    node = shutil.which("node")
    if node is None:
        return "node: not on PATH"
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    return f"node: {version} ({node})"


#: Fixtures that start a server process (Redis, PostgreSQL) or need Node.js.
SERVER_FIXTURES = frozenset(
    {
        "redis_server",
        "redis_sentinel",
        "redis_cluster",
        "postgres_instance",
        "postgres_server",
        "node_modules",
        "chromium",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs_server: starts redis-server, PostgreSQL or gunicorn, or runs Node.js"
        " (set from the fixtures a test uses; by hand on a test that starts"
        " a server itself)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.needs_server)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The extension's clock, frozen at the real time: ``clock[0] += ms``."""
    return freeze_clock(monkeypatch)
