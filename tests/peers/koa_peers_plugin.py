"""pytest plugin for running another project's test suite with KoaSession.

Loaded into a peer's suite (Flask, Flask-Login, Flask-WTF) by
``tests/peers/run.py`` as ``-p koa_peers_plugin``. With ``--koa-session=on``
every Flask app the suite creates gets ``KoaSession(app, **OPTIONS)`` as soon
as ``Flask.__init__`` returns, so the suite's tests run on this extension
instead of Flask's cookie session. With ``--koa-session=off`` nothing is
installed: the baseline run, with the same plugin loaded, so that the two runs
differ only in the session.

An app whose class sets its own ``session_interface`` is left alone: it chose
its session machinery, and nobody would add this extension to it.

``--koa-report=PATH`` writes, as JSON, each test's outcome (``passed``,
``failed``, ``error``, ``skipped``, ``xfailed``, ``xpassed``), the first line
of each failure, and the number of apps the extension was installed on.
"""

from __future__ import annotations

import functools
import json
import typing as t
from pathlib import Path

import flask
import pytest

from flask_koasession import KoaSession

#: The options closest to Flask's built-in session: its cookie name, and a
#: browser-session cookie unless ``session.permanent`` is set. Nothing else is
#: given, so Flask's ``SESSION_COOKIE_*`` settings are read (``secure=False``
#: would override ``SESSION_COOKIE_SECURE``).
OPTIONS: dict[str, t.Any] = {"key": "session", "max_age": "session"}

_installed = 0
_outcomes: dict[str, str] = {}
_messages: dict[str, str] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("koa-peers")
    group.addoption("--koa-session", choices=("on", "off"), default="off")
    group.addoption("--koa-report", default=None)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("koa_session") == "on":
        _install_on_every_app()


def _install_on_every_app() -> None:
    original = flask.Flask.__init__
    default_interface = flask.Flask.session_interface

    @functools.wraps(original)
    def __init__(self: flask.Flask, *args: t.Any, **kwargs: t.Any) -> None:
        global _installed
        original(self, *args, **kwargs)
        if type(self).session_interface is default_interface:
            KoaSession(self, **OPTIONS)
            _installed += 1

    flask.Flask.__init__ = __init__  # type: ignore[method-assign]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # One outcome per test over its setup, call and teardown phases: the
    # first failure wins; a failure outside the call is an error.
    if _outcomes.get(report.nodeid) in ("failed", "error"):
        return
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    elif report.failed:
        outcome = "failed" if report.when == "call" else "error"
        crash = getattr(report.longrepr, "reprcrash", None)
        _messages[report.nodeid] = crash.message.split("\n")[0] if crash else outcome
    elif report.skipped:
        outcome = "skipped"
    elif report.when == "call":
        outcome = "passed"
    else:
        return
    _outcomes[report.nodeid] = outcome


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("koa_report")
    if path:
        report = {
            "apps_with_koa_session": _installed,
            "outcomes": _outcomes,
            "messages": _messages,
        }
        Path(path).write_text(json.dumps(report, indent=1, sort_keys=True))
