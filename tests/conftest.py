"""Shared fixtures: real servers started once per test session (see servers.py):
redis_server, redis_sentinel, redis_cluster, postgres_instance and
postgres_server (its SQLAlchemy URL)."""

from __future__ import annotations

import shutil
import subprocess

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
