"""Shared fixtures: real servers started once per test session (see servers.py):
redis_server, redis_sentinel, redis_cluster, postgres_instance and
postgres_server (its SQLAlchemy URL); and ``clock``, the extension's clock
frozen (see helpers.freeze_clock)."""

from __future__ import annotations

import pytest

from tests.helpers import freeze_clock

pytest_plugins = ["tests.servers"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The extension's clock, frozen at the real time: ``clock[0] += ms``."""
    return freeze_clock(monkeypatch)
