"""Fixtures for the browser tests: Debian's Chromium, driven headless through
its chromedriver by Selenium, and the example app served over real HTTP.

Nothing is downloaded: the browser and its driver are Debian's ``chromium``
and ``chromium-driver`` (``/usr/bin/chromium``, ``/usr/bin/chromedriver``;
``KOA_CHROMIUM`` and ``KOA_CHROMEDRIVER`` name others). When one is missing
the tests fail with the package to install; they never skip.

One Chromium serves every test (starting one takes a second or two); each
test starts with no cookies. A test that needs two devices gets a second
Chromium, with a profile of its own (``other_browser``). The example app
runs in this process, in a Werkzeug server thread on a free loopback port,
so a test can look into its store.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from example_app import create_app

if t.TYPE_CHECKING:
    from flask import Flask
    from selenium.webdriver.remote.webdriver import WebDriver

_HERE = Path(__file__).resolve().parent

#: Chromium's flags: headless, and no traffic of its own (without the
#: background-networking flags it keeps calling Google's services).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # as root, and in containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",  # a small /dev/shm in containers crashes tabs
    "--window-size=1200,860",
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
    "--lang=en-US",
)

#: Seconds a page may take to load, or a script to run.
PAGE_TIMEOUT = 20


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the example app in headless Chromium"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _binary(variable: str, default: str, package: str) -> str:
    path = os.environ.get(variable, default)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"{path} is not installed; the browser tests need Debian's:"
            f" apt-get install {package} (or set {variable})",
            pytrace=False,
        )
    return path


#: What the second browser (:func:`other_browser`) says it is: a phone, so
#: that a page listing both tells them apart.
OTHER_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36"
    " (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
)


def _start_chromium(*flags: str) -> t.Iterator[WebDriver]:
    """A headless Chromium in a fresh profile of its own, quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # Selenium Manager (which could download drivers) is never needed: both
    # paths are given. Tell it not to report usage either way.
    os.environ.setdefault("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("KOA_CHROMIUM", "/usr/bin/chromium", "chromium")
    for flag in (*CHROMIUM_FLAGS, *flags):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="koa-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    service = Service(
        _binary("KOA_CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver")
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    driver.set_script_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _blank(driver: WebDriver) -> WebDriver:
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get("about:blank")
    return driver


@pytest.fixture(scope="session")
def chromium() -> t.Iterator[WebDriver]:
    """One headless Chromium for the test session, in a fresh profile."""
    yield from _start_chromium()


@pytest.fixture
def browser(chromium: WebDriver) -> WebDriver:
    """The session's Chromium with no cookies and no open dialog."""
    return _blank(chromium)


@pytest.fixture(scope="session")
def other_chromium() -> t.Iterator[WebDriver]:
    """A second Chromium, with a profile (so cookies) of its own and the user
    agent :data:`OTHER_USER_AGENT`: another device of the same user. Started
    only for the tests that ask for it."""
    yield from _start_chromium(f"--user-agent={OTHER_USER_AGENT}")


@pytest.fixture
def other_browser(other_chromium: WebDriver) -> WebDriver:
    """The second Chromium with no cookies and no open dialog."""
    return _blank(other_chromium)


@dataclass
class LiveServer:
    """The example app served over HTTP in a thread of this process."""

    app: Flask
    url: str

    def store(self) -> t.Any:
        return self.app.extensions["example_app"].store


def _serve(config: dict[str, t.Any]) -> t.Iterator[LiveServer]:
    app = create_app({"SECRET_KEY": "browser-test-secret", **config})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def cookie_site() -> t.Iterator[LiveServer]:
    """The example app with cookie sessions."""
    yield from _serve({"KOA_SESSION_STORE": ""})


@pytest.fixture(scope="session")
def store_site() -> t.Iterator[LiveServer]:
    """The example app with a MemoryStore."""
    yield from _serve({"KOA_SESSION_STORE": "memory"})
