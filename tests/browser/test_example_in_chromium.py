"""The example app in a real browser: headless Chromium, over real HTTP.

What only a browser shows: cookies it keeps and hides from scripts, forms it
posts, redirects it follows, and markup it would run.
"""

from __future__ import annotations

import os
import typing as t
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.conftest import OTHER_USER_AGENT, PAGE_TIMEOUT, LiveServer

if t.TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

#: A payload for every input: it breaks out of an attribute, and would run
#: script both as an element and through an event handler.
XSS = '"><img src=x onerror=alert(1)><script>alert(2)</script>'

#: Where test_screenshots saves its pictures when asked (scripts/screenshots).
SCREENSHOTS = os.environ.get("KOA_SCREENSHOTS_DIR", "")


def text_of(browser: WebDriver, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def session_cookies(browser: WebDriver) -> dict[str, dict[str, t.Any]]:
    """The browser's koa-session cookies, as Chromium keeps them."""
    return {
        cookie["name"]: cookie
        for cookie in browser.get_cookies()
        if cookie["name"] in ("koa:sess", "koa:sess.sig")
    }


def click(browser: WebDriver, by: str, what: str) -> None:
    """Click a link or button and wait until the next page has loaded.

    The page before the click is told apart from the next one by a mark set
    on its window (a new document has none), not by an element of it going
    stale: under load ChromeDriver may answer a question about an element of
    a page being replaced with "Node ... does not belong to the document".
    """
    mark = uuid.uuid4().hex
    browser.execute_script("window.koaTestMark = arguments[0]", mark)
    element = browser.find_element(by, what)
    try:
        element.click()
    except WebDriverException:
        # The click's own navigation may replace the page before ChromeDriver
        # has finished with it: the click happened. Anything else is an error.
        if _page_mark(browser) == mark:
            raise
    wait = WebDriverWait(browser, PAGE_TIMEOUT, ignored_exceptions=[WebDriverException])
    wait.until(
        lambda b: (
            _page_mark(b) not in (mark, "")
            and b.execute_script("return document.readyState") == "complete"
        )
    )


def _page_mark(browser: WebDriver) -> str | None:
    """The mark of the page shown (``None`` for a new page), or ``""`` while
    none can be asked (the page is being replaced)."""
    try:
        mark: str | None = browser.execute_script("return window.koaTestMark || null")
    except WebDriverException:
        return ""
    return mark


def submit(browser: WebDriver, site: LiveServer, path: str, **fields: str) -> None:
    """Open ``path``'s form, fill in ``fields`` and send it, as a user does."""
    browser.get(site.url + path)
    for name, value in fields.items():
        box = browser.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)
    click(browser, By.CSS_SELECTOR, "form button[type=submit]")


def assert_inert(browser: WebDriver) -> None:
    """No dialog opened, and the payload is text, not elements."""
    try:
        alert = browser.switch_to.alert
    except NoAlertPresentException:
        pass
    else:
        message = alert.text
        alert.dismiss()
        pytest.fail(f"the payload ran: alert({message})")
    injected = browser.execute_script(
        "return document.querySelectorAll('img[src=\"x\"], body script').length"
    )
    assert injected == 0


def test_the_counter_counts_across_reloads(
    browser: WebDriver, cookie_site: LiveServer
) -> None:
    browser.get(cookie_site.url + "/")
    assert text_of(browser, "views") == "1"
    browser.refresh()
    assert text_of(browser, "views") == "2"
    click(browser, By.LINK_TEXT, "Views")
    assert text_of(browser, "views") == "3"


def test_session_cookies_are_hidden_from_page_scripts(
    browser: WebDriver, cookie_site: LiveServer
) -> None:
    browser.get(cookie_site.url + "/")
    cookies = session_cookies(browser)
    assert set(cookies) == {"koa:sess", "koa:sess.sig"}
    assert all(cookie["httpOnly"] for cookie in cookies.values())
    assert all(cookie["sameSite"] == "Lax" for cookie in cookies.values())
    assert browser.execute_script("return document.cookie") == ""


def test_login_changes_the_store_id_and_the_old_id_is_dead(
    browser: WebDriver, store_site: LiveServer
) -> None:
    browser.get(store_site.url + "/")
    before = session_cookies(browser)
    old_id = before["koa:sess"]["value"]
    assert store_site.store().get(old_id, 86_400_000, rolling=False) is not None

    submit(browser, store_site, "/login", userId="ada")
    assert urlsplit(browser.current_url).path == "/session"
    assert text_of(browser, "flash") == "Logged in as ada"
    new_id = text_of(browser, "store-id")
    assert new_id != old_id
    assert text_of(browser, "previous-id") == old_id
    assert session_cookies(browser)["koa:sess"]["value"] == new_id
    assert store_site.store().get(old_id, 86_400_000, rolling=False) is None

    # Someone who kept the old cookies (a fixation attempt) gets nothing.
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    for cookie in before.values():
        browser.add_cookie({"name": cookie["name"], "value": cookie["value"]})
    browser.get(store_site.url + "/session")
    assert text_of(browser, "is-new").startswith("True")
    assert '"userId"' not in text_of(browser, "data")


def test_the_flash_shows_exactly_once_after_the_redirect(
    browser: WebDriver, cookie_site: LiveServer
) -> None:
    browser.get(cookie_site.url + "/")
    click(browser, By.LINK_TEXT, "Flash")
    assert urlsplit(browser.current_url).path == "/"
    assert text_of(browser, "flash") == "Flash Message Example"
    browser.refresh()
    assert browser.find_elements(By.ID, "flash") == []
    click(browser, By.LINK_TEXT, "Show flash")
    assert text_of(browser, "message") == "No Flash Message"


def test_logout_removes_both_cookies(
    browser: WebDriver, store_site: LiveServer
) -> None:
    submit(browser, store_site, "/login", userId="ada")
    store_id = session_cookies(browser)["koa:sess"]["value"]
    click(browser, By.LINK_TEXT, "Log out")
    click(browser, By.CSS_SELECTOR, "form button[type=submit]")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Session Destroyed"
    assert session_cookies(browser) == {}
    assert store_site.store().get(store_id, 86_400_000, rolling=False) is None
    browser.get(store_site.url + "/get")
    assert text_of(browser, "user-id") == "None"


def test_a_form_posts_with_its_csrf_token(
    browser: WebDriver, cookie_site: LiveServer
) -> None:
    browser.get(cookie_site.url + "/set")
    token = browser.find_element(By.NAME, "csrf_token").get_attribute("value")
    assert token  # Flask-WTF's signed token, put in by {{ csrf_token() }}
    submit(browser, cookie_site, "/set", userId="ada")
    assert urlsplit(browser.current_url).path == "/get"
    assert text_of(browser, "user-id") == "ada"


@pytest.mark.parametrize(
    ("token", "reason"),
    [(None, "The CSRF token is missing."), ("forged", "The CSRF token is invalid.")],
)
def test_a_form_without_its_csrf_token_is_refused(
    browser: WebDriver, cookie_site: LiveServer, token: str | None, reason: str
) -> None:
    submit(browser, cookie_site, "/set", userId="before")
    browser.get(cookie_site.url + "/set")
    # What another site's form would send: no token, or one it made up.
    field = browser.find_element(By.NAME, "csrf_token")
    if token is None:
        browser.execute_script("arguments[0].remove()", field)
    else:
        browser.execute_script("arguments[0].value = arguments[1]", field, token)
    box = browser.find_element(By.NAME, "userId")
    box.clear()
    box.send_keys("after")
    click(browser, By.CSS_SELECTOR, "form button[type=submit]")
    assert browser.find_element(By.TAG_NAME, "h1").text == "400 Bad Request"
    assert reason in browser.find_element(By.CLASS_NAME, "error").text
    browser.get(cookie_site.url + "/get")
    assert text_of(browser, "user-id") == "before"


def signal_names(browser: WebDriver) -> list[str]:
    """The signal names the panel shows, newest first."""
    return [
        element.text
        for element in browser.find_elements(By.CSS_SELECTOR, "#signals code")
    ]


def test_the_signal_panel_shows_this_browsers_signals_only(
    browser: WebDriver, store_site: LiveServer
) -> None:
    # Ada logs in; her browser's cookies are then put aside.
    browser.get(store_site.url + "/")
    submit(browser, store_site, "/login", userId="ada")
    ada_id = text_of(browser, "store-id")
    browser.get(store_site.url + "/")
    assert signal_names(browser) == ["session-regenerated", "session-created"]
    ada = browser.get_cookies()

    # Another browser, at the same time: its own signals, none of Ada's.
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    browser.get(store_site.url + "/")
    assert signal_names(browser) == []
    browser.refresh()
    panel = browser.find_element(By.ID, "signals").text
    assert signal_names(browser) == ["session-created"]
    assert ada_id[:8] not in panel

    # Ada's browser again: still her signals, not the other one's.
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    for cookie in ada:
        browser.add_cookie({"name": cookie["name"], "value": cookie["value"]})
    browser.get(store_site.url + "/")
    assert signal_names(browser) == ["session-regenerated", "session-created"]
    assert f"{ada_id[:8]}…" in browser.find_element(By.ID, "signals").text


@pytest.mark.parametrize("path", ["/set", "/login"])
def test_an_xss_payload_in_a_form_stays_text_on_every_page(
    browser: WebDriver, store_site: LiveServer, path: str
) -> None:
    submit(browser, store_site, path, userId=XSS)
    assert_inert(browser)
    for page in ("/", "/get", "/session", "/show-flash", "/login", "/set"):
        browser.get(store_site.url + page)
        assert_inert(browser)
    browser.get(store_site.url + "/get")
    assert text_of(browser, "user-id") == XSS
    browser.get(store_site.url + "/session")
    assert XSS.replace('"', '\\"') in text_of(browser, "data")


def test_an_xss_payload_in_the_url_stays_text(
    browser: WebDriver, cookie_site: LiveServer
) -> None:
    for url in (
        f"/{quote(XSS)}",
        f"/get?userId={quote(XSS)}",
        f"/show-flash?{quote(XSS)}",
        f"/session#{quote(XSS)}",
    ):
        browser.get(cookie_site.url + url)
        assert_inert(browser)


def path_of(browser: WebDriver) -> str:
    return urlsplit(browser.current_url).path


def user_of(browser: WebDriver, site: LiveServer) -> str:
    """Who ``/get`` says the browser is logged in as (``"None"``: nobody)."""
    browser.get(site.url + "/get")
    return text_of(browser, "user-id")


@pytest.mark.parametrize("site_name", ["cookie_site", "store_site"])
def test_one_device_logs_out_another_from_the_sessions_page(
    browser: WebDriver,
    other_browser: WebDriver,
    site_name: str,
    request: pytest.FixtureRequest,
) -> None:
    site: LiveServer = request.getfixturevalue(site_name)
    user = f"devices-{uuid.uuid4().hex[:8]}"  # the sites serve every test
    # Two browsers, each with a profile (cookies) of its own, one user.
    submit(browser, site, "/login", userId=user)
    submit(other_browser, site, "/login", userId=user)

    click(browser, By.LINK_TEXT, "Your sessions")
    assert path_of(browser) == "/sessions"
    rows = browser.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")
    assert len(rows) == 2
    this = browser.find_element(By.CSS_SELECTOR, "#sessions tbody tr.current")
    own_agent = browser.execute_script("return navigator.userAgent")
    assert this.find_element(By.CLASS_NAME, "agent").text == own_agent
    assert this.find_element(By.CLASS_NAME, "this-browser").text == "this browser"
    other = browser.find_element(By.CSS_SELECTOR, "#sessions tbody tr:not(.current)")
    assert other.find_element(By.CLASS_NAME, "agent").text == OTHER_USER_AGENT

    click(browser, By.CSS_SELECTOR, "#sessions tbody tr:not(.current) button")
    assert path_of(browser) == "/sessions"
    assert text_of(browser, "flash") == "Logged out that device."
    assert len(browser.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 1
    assert browser.find_elements(By.ID, "revoke-others") == []

    # The other browser's next page: its session is gone, whatever it kept.
    other_browser.get(site.url + "/sessions")
    assert path_of(other_browser) == "/login"
    assert text_of(other_browser, "flash") == "Log in to see your sessions."
    assert user_of(other_browser, site) == "None"
    assert user_of(browser, site) == user

    # It logs in again; "Log out everywhere else" ends it once more.
    submit(other_browser, site, "/login", userId=user)
    browser.get(site.url + "/sessions")
    click(browser, By.ID, "revoke-others")
    assert text_of(browser, "flash") == "Logged out 1 other session."
    assert user_of(other_browser, site) == "None"
    assert user_of(browser, site) == user


def test_screenshots(
    browser: WebDriver, other_browser: WebDriver, store_site: LiveServer, tmp_path: Path
) -> None:
    """Pictures of the main pages, for the docs (``scripts/screenshots``
    writes them into docs/_static/screenshots)."""
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    site = store_site.url
    browser.get(site + "/")
    browser.get(site + "/flash")  # redirected to the counter, with its banner
    shots = {"views.png": None}
    browser.save_screenshot(str(folder / "views.png"))
    browser.get(site + "/login")
    shots["login.png"] = None
    browser.save_screenshot(str(folder / "login.png"))
    submit(browser, store_site, "/login", userId="ada")
    shots["session.png"] = None
    browser.save_screenshot(str(folder / "session.png"))
    submit(other_browser, store_site, "/login", userId="ada")  # her phone
    browser.get(site + "/sessions")
    shots["sessions.png"] = None
    browser.save_screenshot(str(folder / "sessions.png"))
    for name in shots:
        picture = (folder / name).read_bytes()
        assert picture.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(picture) > 10_000, name  # a rendered page, not a blank one
