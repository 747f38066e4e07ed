"""The example app: the seed's complete example as a small site.

Driven through Flask's test client; tests/browser/ drives it in Chromium.
A client that does not ask for HTML gets the seed's plain text, as ``curl``
does; ``HTML`` headers make the client a browser.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import typing as t
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from devkit.servers import RedisServer, free_port
from example_app import StoreURLError, create_app, create_app_or_exit
from example_app.signal_log import Entry, SignalLog
from tests.helpers import cookie_value, set_cookies, signed_cookie_header

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SEED_ROUTES = ("/", "/set", "/get", "/login", "/logout", "/flash", "/show-flash")
XSS = '"><img src=x onerror=alert(1)><script>alert(2)</script>'


@pytest.fixture
def client() -> FlaskClient:
    return create_app({"TESTING": True}).test_client()


def session_info(client: FlaskClient) -> dict[str, t.Any]:
    """What ``/session`` says, as curl reads it (JSON in text/plain)."""
    info: dict[str, t.Any] = json.loads(client.get("/session").text)
    return info


def csrf(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on ``path``, as a browser would read it."""
    page = client.get(path, headers=HTML).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def post(client: FlaskClient, path: str, **form: str) -> t.Any:
    """POST ``form`` to ``path`` with the form's CSRF token (as curl would)."""
    return client.post(path, data={"csrf_token": csrf(client, path), **form})


def browser_post(client: FlaskClient, path: str, **form: str) -> t.Any:
    """POST ``form`` to ``path`` with its CSRF token, as a browser does."""
    data = {"csrf_token": csrf(client, path), **form}
    return client.post(path, data=data, headers=HTML)


# -- the seed's routes, as curl sees them ---------------------------------------


def test_view_counter_counts_in_a_koa_named_cookie(client: FlaskClient) -> None:
    first = client.get("/")
    assert first.text == "1 views"
    assert first.mimetype == "text/plain"
    assert cookie_value(first, "koa:sess") is not None
    assert client.get("/", headers={"Accept": "*/*"}).text == "2 views"


def test_set_then_get_user(client: FlaskClient) -> None:
    assert client.get("/get").text == "User ID: None"
    assert post(client, "/set").text == "UserId set in session"
    assert client.get("/get").text == "User ID: 1234"
    post(client, "/set", userId="ada")
    assert client.get("/get").text == "User ID: ada"


def test_get_of_a_form_route_changes_nothing(client: FlaskClient) -> None:
    client.get("/")
    for path in ("/set", "/login", "/logout"):
        page = client.get(path)
        assert page.status_code == 200
        assert f"POST {path}" in page.text
    assert client.get("/get").text == "User ID: None"
    assert client.get("/").text == "2 views"


def test_logout_destroys_the_session(client: FlaskClient) -> None:
    client.get("/")
    client.get("/")
    response = post(client, "/logout")
    assert response.text == "Session Destroyed"
    cookies = set_cookies(response)
    assert cookies["koa:sess"]["koa:sess"].value == ""
    for name in ("koa:sess", "koa:sess.sig"):  # both expired, as koa does
        assert "1970" in cookies[name][name]["expires"]
    assert client.get("/").text == "1 views"


def test_flash_is_shown_once_after_the_redirect(client: FlaskClient) -> None:
    response = client.get("/flash", follow_redirects=True)
    assert response.text == "1 views\nFlash Message Example"
    assert client.get("/").text == "2 views"
    assert client.get("/show-flash").text == "No Flash Message"


def test_show_flash_shows_a_message_that_was_not_redirected_to(
    client: FlaskClient,
) -> None:
    assert client.get("/flash").status_code in (302, 303)
    assert client.get("/show-flash").text == "Flash Message Example"
    assert client.get("/show-flash").text == "No Flash Message"


def test_login_regenerates_and_keeps_the_counter(client: FlaskClient) -> None:
    before = cookie_value(client.get("/"), "koa:sess")
    response = post(client, "/login", userId="42")
    assert response.text == "Logged in as 42"
    after = cookie_value(response, "koa:sess")
    assert after
    assert after != before
    assert client.get("/get").text == "User ID: 42"
    assert client.get("/").text == "2 views"


# -- forms: POST only, with Flask-WTF's CSRF token --------------------------------


def test_csrf_protection_is_flask_wtfs(client: FlaskClient) -> None:
    assert "csrf" in client.application.extensions  # CSRFProtect(app)
    token = csrf(client, "/set")
    with client.session_transaction() as session:
        secret = session["csrf_token"]  # Flask-WTF's secret, in the koa session
    assert secret
    assert secret not in token  # the form carries a signed token, not the secret
    response = client.post("/set", data={"csrf_token": token, "userId": "ada"})
    assert response.status_code == 200
    assert client.get("/get").text == "User ID: ada"


@pytest.mark.parametrize("path", ["/set", "/login", "/logout"])
@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "The CSRF token is missing."),
        ("", "The CSRF token is missing."),
        ("forged", "The CSRF token is invalid."),
    ],
)
def test_a_post_without_the_session_token_is_refused(
    client: FlaskClient, path: str, token: str | None, reason: str
) -> None:
    post(client, "/set", userId="before")
    form = (
        {"userId": "after"}
        if token is None
        else {"userId": "after", "csrf_token": token}
    )
    response = client.post(path, data=form)
    assert response.status_code == 400
    assert reason in response.text
    assert client.get("/get").text == "User ID: before"


def test_a_refused_post_is_an_error_page_for_a_browser(client: FlaskClient) -> None:
    client.get("/set", headers=HTML)
    response = client.post("/set", data={"userId": "x"}, headers=HTML)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "<h1>400 Bad Request</h1>" in response.text
    assert "The CSRF token is missing. Reload the form and send it again." in (
        response.text
    )


def test_a_post_without_a_session_is_refused(client: FlaskClient) -> None:
    token = csrf(client, "/set")
    client.delete_cookie("koa:sess")
    client.delete_cookie("koa:sess.sig")
    response = client.post("/set", data={"csrf_token": token, "userId": "x"})
    assert response.status_code == 400
    assert "The CSRF session token is missing." in response.text


def test_another_visitors_token_is_refused(client: FlaskClient) -> None:
    other = client.application.test_client()
    theirs = csrf(other, "/set")
    csrf(client, "/set")  # this visitor has a secret of its own
    response = client.post("/set", data={"csrf_token": theirs, "userId": "x"})
    assert response.status_code == 400
    assert "The CSRF tokens do not match." in response.text
    assert client.get("/get").text == "User ID: None"


def test_login_and_logout_give_a_new_csrf_secret(client: FlaskClient) -> None:
    before = csrf(client, "/set")
    assert post(client, "/login").status_code == 200
    refused = client.post("/set", data={"csrf_token": before, "userId": "x"})
    assert refused.status_code == 400  # a token from before the login is dead
    after = csrf(client, "/set")
    assert after != before
    assert post(client, "/logout").text == "Session Destroyed"
    refused = client.post("/set", data={"csrf_token": after, "userId": "x"})
    assert refused.status_code == 400


def test_a_too_long_user_id_is_a_400_not_a_500(client: FlaskClient) -> None:
    response = post(client, "/login", userId="x" * 5000)
    assert response.status_code == 400
    assert "longer than 64" in response.text
    assert client.get("/get").text == "User ID: None"


# -- pages for browsers ---------------------------------------------------------


def test_every_page_links_to_every_seed_route(client: FlaskClient) -> None:
    for path in (*SEED_ROUTES, "/session"):
        page = client.get(path, headers=HTML, follow_redirects=True)
        assert page.status_code == 200, path
        assert page.mimetype == "text/html"
        for route in (*SEED_ROUTES, "/session"):
            assert f'href="{route}"' in page.text, (path, route)
        assert 'href="/static/style.css"' in page.text


def test_html_pages_allow_no_script(client: FlaskClient) -> None:
    page = client.get("/", headers=HTML)
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # falls back to default-src: none
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    with client.get("/static/style.css") as stylesheet:
        assert stylesheet.status_code == 200


def test_the_flash_banner_shows_once_after_the_redirect(client: FlaskClient) -> None:
    page = client.get("/flash", headers=HTML, follow_redirects=True)
    assert page.request.path == "/"
    assert (
        '<p class="flash" role="status" id="flash">Flash Message Example' in page.text
    )
    again = client.get("/", headers=HTML)
    assert "Flash Message Example" not in again.text
    page = client.get("/show-flash", headers=HTML).text
    assert '<span id="message">No Flash Message</span>' in page


def test_browser_forms_redirect_after_post(client: FlaskClient) -> None:
    token = csrf(client, "/set")
    response = client.post(
        "/set", data={"csrf_token": token, "userId": "ada"}, headers=HTML
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/get"
    page = client.get("/get", headers=HTML)
    assert '<span id="user-id">ada</span>' in page.text
    assert "UserId set in session" in page.text


@pytest.mark.parametrize("form", ["/set", "/login"])
def test_user_input_is_escaped_in_html_and_plain_in_text(
    client: FlaskClient, form: str
) -> None:
    sent = browser_post(client, form, userId=XSS[:64])
    assert sent.status_code == 303  # accepted: the payload is in the session
    landing = client.get(sent.headers["Location"], headers=HTML).text
    assert "&lt;script&gt;alert(2)" in landing  # the flash banner or the page
    for path in ("/", "/get", "/session", "/show-flash", "/set", "/login"):
        page = client.get(path, headers=HTML).text
        assert "<img src=x" not in page
        assert "<script>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in client.get("/get", headers=HTML).text
    plain = client.get("/get")
    assert plain.mimetype == "text/plain"
    assert plain.headers["X-Content-Type-Options"] == "nosniff"


def test_errors_are_pages_for_browsers_and_text_for_curl(client: FlaskClient) -> None:
    page = client.get("/nowhere", headers=HTML)
    assert page.status_code == 404
    assert "<h1>404 Not Found</h1>" in page.text
    plain = client.get("/nowhere")
    assert plain.status_code == 404
    assert plain.text.startswith("404 Not Found:")


# -- the session page and the signal panel ---------------------------------------


def test_session_page_shows_a_new_session_and_saves_nothing(
    client: FlaskClient,
) -> None:
    response = client.get("/session")
    info = json.loads(response.text)
    assert info["is_new"] is True
    assert info["mode"] == "cookie"
    assert info["data"] == {}
    assert info["max_age"] == 86_400  # seconds
    assert info["expires"] is None
    assert "Set-Cookie" not in response.headers


def test_session_page_shows_the_expiry_that_came_in(client: FlaskClient) -> None:
    client.get("/")
    info = session_info(client)
    assert info["is_new"] is False
    assert info["data"] == {"views": 1}
    assert info["expires"] is not None
    assert set(info["cookies"]) == {"koa:sess", "koa:sess.sig"}


@pytest.mark.parametrize(
    ("payload", "path", "expected"),
    [
        ({"views": "many"}, "/", "1 views"),
        ({"views": [1]}, "/", "1 views"),
        ({"_expire": 10**20, "_maxAge": 1000}, "/session", '"expires": null'),
    ],
    ids=["views-str", "views-list", "expire-beyond-year-9999"],
)
def test_session_data_of_an_unexpected_shape_is_no_500(
    payload: dict[str, t.Any], path: str, expected: str
) -> None:
    # Data another app signed with the same key: a Koa app sharing the
    # session, or anyone, since the example's default key is the seed's.
    app = create_app()
    value = base64.b64encode(json.dumps(payload).encode()).decode()
    header = signed_cookie_header(value, name="koa:sess", keys=[app.secret_key])
    response = app.test_client(use_cookies=False).get(path, headers={"Cookie": header})
    assert response.status_code == 200
    assert expected in response.text


def test_session_page_shows_the_id_change_of_a_login(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_app({"TESTING": True, "KOA_SESSION_STORE": "memory"})
    client = app.test_client()
    client.get("/")
    first_id = session_info(client)["store_id"]
    post(client, "/login", userId="ada")
    info = session_info(client)
    assert info["previous_id"] == first_id
    assert info["store_id"] not in (None, first_id)
    store = app.extensions["example_app"].store
    assert store.get(first_id, 86_400_000, rolling=False) is None
    assert store.get(info["store_id"], 86_400_000, rolling=False)["userId"] == "ada"
    page = client.get("/session", headers=HTML).text
    assert f'<code id="previous-id">{first_id}</code>' in page


def signal_names(page: str) -> list[str]:
    """The names in a page's signal panel, newest first."""
    return re.findall(r"<code>(session-[a-z]+)</code>", page)


def test_signal_panel_lists_the_visitors_signals_with_short_ids() -> None:
    app = create_app({"TESTING": True, "KOA_SESSION_STORE": "memory"})
    client = app.test_client()
    client.get("/", headers=HTML)
    browser_post(client, "/login")
    store_id = session_info(client)["store_id"]
    browser_post(client, "/logout")
    page = client.get("/", headers=HTML).text
    names = signal_names(page)
    assert names[:3] == ["session-destroyed", "session-regenerated", "session-created"]
    assert f"{store_id[:8]}…" in page
    assert store_id not in page


def test_each_visitor_sees_only_their_own_signals() -> None:
    app = create_app({"TESTING": True, "KOA_SESSION_STORE": "memory"})
    ada, bob = app.test_client(), app.test_client()
    ada.get("/", headers=HTML)
    browser_post(ada, "/login", userId="ada")
    ada_id = session_info(ada)["store_id"]
    bob.get("/", headers=HTML)
    bob.get("/", headers=HTML)
    bob_id = session_info(bob)["store_id"]

    bob_page = bob.get("/", headers=HTML).text
    assert signal_names(bob_page) == ["session-created"]
    assert bob_id[:8] in bob_page
    assert ada_id[:8] not in bob_page

    ada_page = ada.get("/", headers=HTML).text
    assert signal_names(ada_page) == ["session-regenerated", "session-created"]
    assert ada_id[:8] in ada_page
    assert bob_id[:8] not in ada_page

    # A third browser starts with an empty panel.
    carol = app.test_client().get("/", headers=HTML).text
    assert signal_names(carol) == []
    assert "None yet." in carol


def test_the_visitor_cookie_is_a_random_id_of_its_own() -> None:
    client = create_app({"TESTING": True}).test_client()
    first = client.get("/", headers=HTML)
    visitor = set_cookies(first)["example.visitor"]["example.visitor"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", visitor.value)
    assert visitor["httponly"]
    assert visitor["samesite"] == "Lax"
    # Sent once; a logout, which replaces the session, keeps the visitor.
    assert "example.visitor" not in set_cookies(client.get("/", headers=HTML))
    browser_post(client, "/logout")
    assert signal_names(client.get("/", headers=HTML).text)[0] == "session-destroyed"
    # A forged or foreign value is not a visitor id: a new one replaces it.
    client.set_cookie("example.visitor", "../../etc/passwd")
    again = set_cookies(client.get("/", headers=HTML))["example.visitor"]
    assert again["example.visitor"].value != "../../etc/passwd"


def test_curl_without_a_visitor_id_gets_no_cookie_and_leaves_no_signals() -> None:
    app = create_app({"TESTING": True, "KOA_SESSION_STORE": "memory"})
    client = app.test_client()
    assert "example.visitor" not in set_cookies(client.get("/"))
    form = client.get("/login").text  # curl's "POST /login with ... csrf_token=X"
    match = re.search(r"csrf_token=(\S+)", form)
    assert match, form
    response = client.post("/login", data={"csrf_token": match.group(1)})
    assert response.text == "Logged in as 1234"
    assert "example.visitor" not in set_cookies(response)
    assert len(app.extensions["example_signals"]) == 0


def test_the_signal_log_keeps_the_most_recent_visitors_only() -> None:
    log = SignalLog(Flask(__name__), size=2, visitors=3)
    for name in ("a", "b", "c", "d"):
        log.add(name, Entry(datetime.now(UTC), f"session-{name}", ""))
    assert len(log) == 3
    assert log.entries("a") == []  # the oldest visitor is forgotten
    log.entries("b")  # reading counts as a visit: now "c" is the oldest
    log.add("e", Entry(datetime.now(UTC), "session-e", ""))
    assert log.entries("c") == []
    assert [entry.name for entry in log.entries("b")] == ["session-b"]
    for _ in range(5):
        log.add("b", Entry(datetime.now(UTC), "session-more", ""))
    assert len(log.entries("b")) == 2
    assert log.entries(None) == []


# -- /sessions: the user's sessions, each of which can be logged out --------------


@pytest.fixture(params=["cookie", "memory", "sqlite"])
def sessions_app(request: pytest.FixtureRequest, tmp_path: Path) -> t.Iterator[Flask]:
    """The example app in cookie mode (the index in a registry of its own),
    with a MemoryStore (the index in the store) and with an SQLite store
    (which keeps no index: a registry beside it)."""
    url = {"cookie": "", "memory": "memory"}.get(
        request.param, f"sqlite:///{tmp_path / 'sessions.db'}"
    )
    app = create_app({"TESTING": True, "KOA_SESSION_STORE": url})
    yield app
    store = app.extensions["example_app"].store
    if hasattr(store, "close"):
        store.close()


def browser_as(app: Flask, user_agent: str, user_id: str | None = None) -> FlaskClient:
    """A client of ``app`` that sends ``user_agent``, logged in as
    ``user_id`` through the login form (when given)."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    if user_id is not None:
        assert browser_post(client, "/login", userId=user_id).status_code == 303
    return client


def listed(client: FlaskClient) -> dict[str, str]:
    """The sessions on the client's ``/sessions`` page: user agent (as the
    page shows it) -> the handle its form posts, or ``"this browser"``."""
    page = client.get("/sessions", headers=HTML)
    assert page.status_code == 200, page.text
    body = page.text[page.text.index("<tbody>") : page.text.index("</tbody>")]
    rows = re.findall(r"<tr( class=\"current\")?>(.*?)</tr>", body, re.DOTALL)
    found = {}
    for current, row in rows:
        agent = re.search(r'<td class="agent">(.*?)</td>', row, re.DOTALL)
        assert agent, row
        handle = re.search(r'name="handle" value="([^"]+)"', row)
        assert bool(current) == (handle is None), row
        found[agent.group(1)] = handle.group(1) if handle else "this browser"
    return found


def flash_of(page: str) -> str | None:
    match = re.search(r'<p class="flash" role="status" id="flash">(.*?)</p>', page)
    return match.group(1) if match else None


def revoke(client: FlaskClient, handle: str) -> t.Any:
    """Send the form of the session ``handle``, as the browser would (the
    token of any form will do: that of ``/set``, for a handle the page of
    ``/sessions`` has no form for)."""
    token = csrf(client, "/set")
    return client.post(
        "/sessions/revoke", data={"csrf_token": token, "handle": handle}, headers=HTML
    )


def logged_in_as(client: FlaskClient) -> str:
    """What ``/get`` says of the client's user (``None`` when anonymous)."""
    return client.get("/get").text.removeprefix("User ID: ")


def test_sessions_lists_the_users_browsers_and_marks_this_one(
    sessions_app: Flask,
) -> None:
    laptop = browser_as(sessions_app, "Laptop/1.0", "ada")
    phone = browser_as(sessions_app, "Phone/2.0", "ada")
    browser_as(sessions_app, "Elsewhere/3.0", "bob")
    browser_as(sessions_app, "Anonymous/4.0").get("/")

    on_laptop = listed(laptop)
    assert set(on_laptop) == {"Laptop/1.0", "Phone/2.0"}  # not bob's, nor anonymous
    assert on_laptop["Laptop/1.0"] == "this browser"
    on_phone = listed(phone)
    assert on_phone["Phone/2.0"] == "this browser"
    assert on_phone["Laptop/1.0"] != "this browser"

    page = laptop.get("/sessions", headers=HTML).text
    assert '<strong id="sessions-user">ada</strong>' in page
    assert page.count("Log out this device") == 1
    assert 'action="/sessions/revoke-others"' in page
    assert page.count('name="csrf_token"') == 2  # each form carries its token
    stamp = r'<time datetime="[0-9T:+-]+"><span>[0-9-]{10}</span> <span>[0-9:]{8} UTC<'
    assert len(re.findall(stamp, page)) == 6  # created, last seen, expires: 2 rows


def test_log_out_one_device(sessions_app: Flask) -> None:
    laptop = browser_as(sessions_app, "Laptop/1.0", "ada")
    phone = browser_as(sessions_app, "Phone/2.0", "ada")
    tablet = browser_as(sessions_app, "Tablet/3.0", "ada")
    handle = listed(laptop)["Phone/2.0"]

    response = revoke(laptop, handle)
    assert response.status_code == 303
    assert response.headers["Location"] == "/sessions"
    page = laptop.get("/sessions", headers=HTML).text
    assert flash_of(page) == "Logged out that device."
    assert "Phone/2.0" not in page
    assert logged_in_as(phone) == "None"  # its next request: a new, anonymous one
    assert logged_in_as(laptop) == "ada"
    assert logged_in_as(tablet) == "ada"
    assert set(listed(laptop)) == {"Laptop/1.0", "Tablet/3.0"}

    # The same form again (a second tab): nothing left to log out.
    revoke(laptop, handle)
    again = laptop.get("/sessions", headers=HTML).text
    assert flash_of(again) == (
        "No other session of yours has that handle: nothing was logged out."
    )


def test_log_out_everywhere_else(sessions_app: Flask) -> None:
    laptop = browser_as(sessions_app, "Laptop/1.0", "ada")
    others = [browser_as(sessions_app, f"Other/{n}", "ada") for n in range(2)]
    bob = browser_as(sessions_app, "Bob/1.0", "bob")

    token = csrf(laptop, "/sessions")
    response = laptop.post(
        "/sessions/revoke-others", data={"csrf_token": token}, headers=HTML
    )
    assert response.status_code == 303
    page = laptop.get("/sessions", headers=HTML).text
    assert flash_of(page) == "Logged out 2 other sessions."
    assert [logged_in_as(other) for other in others] == ["None", "None"]
    assert logged_in_as(laptop) == "ada"
    assert logged_in_as(bob) == "bob"
    assert listed(laptop) == {"Laptop/1.0": "this browser"}
    assert "Log out everywhere else" not in page  # no other session left

    token = csrf(laptop, "/set")  # the page has no such form any more
    laptop.post("/sessions/revoke-others", data={"csrf_token": token}, headers=HTML)
    assert flash_of(laptop.get("/", headers=HTML).text) == (
        "No other session to log out."
    )


def test_a_handle_of_another_users_session_is_refused(sessions_app: Flask) -> None:
    ada = browser_as(sessions_app, "Ada/1.0", "ada")
    browser_as(sessions_app, "Ada-phone/1.0", "ada")
    bob = browser_as(sessions_app, "Bob/1.0", "bob")
    bob_phone = browser_as(sessions_app, "Bob-phone/1.0", "bob")
    bobs = listed(bob)["Bob-phone/1.0"]  # a handle Ada got hold of, somehow
    own = listed(ada)["Ada/1.0"]
    assert own == "this browser"

    refused = "No other session of yours has that handle: nothing was logged out."
    for forged in (bobs, "not-a-handle", ""):
        response = revoke(ada, forged)
        assert response.status_code == 303
        assert flash_of(ada.get("/", headers=HTML).text) == refused
    assert logged_in_as(bob_phone) == "bob"
    assert set(listed(bob)) == {"Bob/1.0", "Bob-phone/1.0"}
    assert set(listed(ada)) == {"Ada/1.0", "Ada-phone/1.0"}  # nothing of hers either


def test_this_browsers_own_handle_is_not_logged_out_from_there(
    sessions_app: Flask,
) -> None:
    ada = browser_as(sessions_app, "Ada/1.0", "ada")
    koa = sessions_app.extensions["example_app"].koa
    with sessions_app.app_context():
        (own,) = koa.sessions_of("ada")
    revoke(ada, own.handle)
    assert flash_of(ada.get("/", headers=HTML).text) == (
        "That is this browser: log it out with Log out."
    )
    assert logged_in_as(ada) == "ada"


def test_the_forms_need_their_csrf_token(sessions_app: Flask) -> None:
    ada = browser_as(sessions_app, "Ada/1.0", "ada")
    phone = browser_as(sessions_app, "Phone/1.0", "ada")
    handle = listed(ada)["Phone/1.0"]
    for path, form in (
        ("/sessions/revoke", {"handle": handle}),
        ("/sessions/revoke-others", {}),
    ):
        response = ada.post(path, data=form, headers=HTML)
        assert response.status_code == 400
        assert "The CSRF token is missing." in response.text
    assert logged_in_as(phone) == "ada"


def test_a_user_agent_is_text_on_the_page(sessions_app: Flask) -> None:
    attacker = browser_as(sessions_app, XSS, "ada")
    ada = browser_as(sessions_app, "Ada/1.0", "ada")
    for client in (ada, attacker):
        page = client.get("/sessions", headers=HTML).text
        assert "<script>" not in page
        assert "<img src=x" not in page
        assert (
            '<td class="agent">&#34;&gt;&lt;img src=x onerror=alert(1)&gt;'
            "&lt;script&gt;alert(2)&lt;/script&gt;</td>"
        ) in page
    assert "Content-Security-Policy" in ada.get("/sessions", headers=HTML).headers


def test_a_visitor_who_is_not_logged_in_is_sent_to_login(
    sessions_app: Flask,
) -> None:
    ada = browser_as(sessions_app, "Ada/1.0", "ada")
    handle = listed(browser_as(sessions_app, "Phone/1.0", "ada"))["Ada/1.0"]
    visitor = browser_as(sessions_app, "Visitor/1.0")
    response = visitor.get("/sessions", headers=HTML)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    page = visitor.get("/login", headers=HTML).text
    assert flash_of(page) == "Log in to see your sessions."
    assert 'href="/sessions"' not in page  # the link is for logged-in users
    token = csrf(visitor, "/set")
    for path, form in (
        ("/sessions/revoke", {"handle": handle}),
        ("/sessions/revoke-others", {}),
    ):
        sent = visitor.post(path, data={"csrf_token": token, **form}, headers=HTML)
        assert sent.status_code == 303
        assert sent.headers["Location"] == "/login"
    assert logged_in_as(ada) == "ada"
    assert 'href="/sessions"' in ada.get("/", headers=HTML).text
    assert visitor.get("/sessions").status_code == 303  # curl too


def test_sessions_for_curl_are_lines_with_the_handles(sessions_app: Flask) -> None:
    laptop = browser_as(sessions_app, "Laptop/1.0", "ada")
    browser_as(sessions_app, "Phone/2.0", "ada")
    handle = listed(laptop)["Phone/2.0"]
    lines = laptop.get("/sessions").text.splitlines()
    assert lines[0] == "Sessions of user 'ada': 2"
    assert any(line.startswith(f"{handle}  created ") for line in lines)
    assert any(line.startswith("this one  created ") for line in lines)
    token = csrf(laptop, "/sessions")
    sent = laptop.post("/sessions/revoke", data={"csrf_token": token, "handle": handle})
    assert sent.text == "Logged out that device."
    assert laptop.get("/sessions").text.splitlines()[0] == "Sessions of user 'ada': 1"


def test_a_revoke_is_a_signal_in_the_panel(sessions_app: Flask) -> None:
    laptop = browser_as(sessions_app, "Laptop/1.0", "ada")
    browser_as(sessions_app, "Phone/2.0", "ada")
    revoke(laptop, listed(laptop)["Phone/2.0"])
    page = laptop.get("/sessions", headers=HTML).text
    assert "<code>session-revoked</code> <span>1 session</span>" in page


# -- stores chosen by KOA_SESSION_STORE -----------------------------------------


def count_twice_in_a_store(monkeypatch: pytest.MonkeyPatch, url: str) -> str:
    """Count two views with KOA_SESSION_STORE=url; return the session id."""
    monkeypatch.setenv("KOA_SESSION_STORE", url)
    app = create_app({"TESTING": True})
    client = app.test_client()
    response = client.get("/")
    session_id = cookie_value(response, "koa:sess")
    assert session_id is not None
    assert len(session_id) == 36  # a UUID, not data
    assert client.get("/").text == "2 views"
    store = app.extensions["example_app"].store
    assert store.get(session_id, 86_400_000, rolling=False)["views"] == 2
    if hasattr(store, "close"):
        store.close()
    return session_id


def test_memory_store_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    count_twice_in_a_store(monkeypatch, "memory")


def test_sqlite_store_by_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Four slashes: sqlite:/// + the absolute path /tmp/...
    count_twice_in_a_store(monkeypatch, f"sqlite:///{tmp_path / 'sessions.db'}")


def test_sqlite_relative_path_is_from_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    count_twice_in_a_store(monkeypatch, "sqlite:///sessions.db")
    assert (tmp_path / "sessions.db").is_file()


def test_redis_store_by_environment(
    monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer
) -> None:
    url = f"redis://{redis_server.host}:{redis_server.port}/5"
    session_id = count_twice_in_a_store(monkeypatch, url)
    client = redis.Redis.from_url(url)
    try:
        assert client.ttl(session_id) == 86_410
    finally:
        client.delete(session_id)
        client.close()


def test_postgresql_store_by_environment(
    monkeypatch: pytest.MonkeyPatch, postgres_server: str
) -> None:
    # "postgresql://" without a driver: psycopg, as the extra installs.
    url = postgres_server.replace("postgresql+psycopg://", "postgresql://", 1)
    assert url.startswith("postgresql://")
    try:
        count_twice_in_a_store(monkeypatch, url)
    finally:
        engine = sa.create_engine(postgres_server)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE IF EXISTS koa_sessions"))
        engine.dispose()


def test_a_three_slash_sqlite_path_that_meant_absolute_fails_at_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreURLError) as caught:
        create_app({"KOA_SESSION_STORE": "sqlite:///srv/app/sessions.db"})
    message = str(caught.value)
    assert message.startswith("KOA_SESSION_STORE='sqlite:///srv/app/sessions.db': ")
    assert f"SQLite file '{tmp_path}/srv/app/sessions.db' does not exist" in message
    assert "relative to the working directory" in message
    assert "four slashes: 'sqlite:////srv/app/sessions.db'" in message
    assert not (tmp_path / "srv").exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sessions.db", "is not a store URL"),
        ("mem", "is not a store URL"),
        ("nosuchdb://host/x", "knows no database"),
        ("postgresql+nosuchdriver://u@h/db", "knows no database"),
        ("redis://localhost/sessions", "must be a number"),
        ("sqlite:////nonexistent-dir-koa/s.db", "Create the directory"),
        # The directory check itself failed: OSError "File name too long".
        ("sqlite:///" + "d" * 300 + "/s.db", "File name too long"),
    ],
)
def test_a_bad_store_url_fails_at_start_up_naming_it(url: str, expected: str) -> None:
    with pytest.raises(StoreURLError, match=re.escape(expected)) as caught:
        create_app({"KOA_SESSION_STORE": url})
    assert repr(url) in str(caught.value)


def test_an_unreachable_redis_fails_at_start_up_without_its_password() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    with pytest.raises(StoreURLError, match="cannot reach the store") as caught:
        create_app({"KOA_SESSION_STORE": url})
    assert "hunter2" not in str(caught.value)
    assert ":***@127.0.0.1" in str(caught.value)


def test_a_missing_extra_fails_at_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Blocked as Python blocks an import; the store module imports anew.
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.delitem(sys.modules, "flask_koasession.stores.redis", raising=False)
    with pytest.raises(StoreURLError) as caught:
        create_app({"KOA_SESSION_STORE": "redis://localhost:6379/0"})
    assert str(caught.value) == (
        "KOA_SESSION_STORE='redis://localhost:6379/0': The store URL"
        " 'redis://localhost:6379/0' needs the redis package, which is not"
        " installed: pip install 'flask-koasession[redis]'."
    )


def test_an_unreachable_database_fails_at_start_up() -> None:
    url = f"postgresql+psycopg://app:hunter2@127.0.0.1:{free_port()}/app"
    with pytest.raises(StoreURLError, match="cannot reach the store") as caught:
        create_app({"KOA_SESSION_STORE": url})
    assert "hunter2" not in str(caught.value)


def test_run_example_gets_a_message_and_status_2_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KOA_SESSION_STORE", "ftp://example")
    with pytest.raises(SystemExit) as caught:
        create_app_or_exit()
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: KOA_SESSION_STORE='ftp://example'")
    assert "four slashes" in err


def test_run_example_warns_about_the_public_default_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KOA_SESSION_STORE", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    create_app_or_exit()
    assert "anyone can forge them. Set SECRET_KEY" in capsys.readouterr().err

    monkeypatch.setenv("SECRET_KEY", "a key of our own")
    create_app_or_exit()
    assert capsys.readouterr().err == ""
