"""Cookie bytes per session, ours beside Flask's built-in, for the same data.

Two figures per session: the ``Cookie`` header a browser sends back with
every request (``name=value`` pairs), and the ``Set-Cookie`` headers of the
response that wrote it (values with attributes). Flask's built-in session
compresses with zlib when that is shorter; ours writes koa-session's base64
JSON, with a ``.sig`` cookie beside it. Browsers keep at most ~4093 bytes per
cookie: past that, Werkzeug warns and the browser drops Flask's cookie, and
ours refuses to save (:class:`~flask_koasession.SessionTooLargeError`). The
limit is lifted here so that both sizes can be shown.
"""

from __future__ import annotations

import typing as t

import flask

from flask_koasession import KoaSession
from flask_koasession.stores import MemoryStore

from . import report
from .apps import SECRET
from .client import Browser

#: Browsers keep cookies up to this size (name, value and attributes).
BROWSER_LIMIT = 4093

SMALL = {
    "user_id": 42,
    "name": "Zoë",
    "roles": ["admin", "editor"],
    "csrf_token": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
}
CART = {
    "cart": [
        {"sku": f"SKU-{index:05d}", "qty": 1 + index % 3, "price": "19.99"}
        for index in range(500)
    ]
}
DATA: dict[str, dict[str, t.Any]] = {
    "small dict (4 keys)": SMALL,
    "cart of 500 items": CART,
}


def _app(kind: str, data: dict[str, t.Any]) -> flask.Flask:
    app = flask.Flask(f"size_{kind.replace('-', '_')}")
    app.secret_key = SECRET
    app.config["MAX_COOKIE_SIZE"] = 1 << 20  # show the size rather than refuse
    if kind == "koa-cookie":
        KoaSession(app)
    elif kind == "koa-store":
        KoaSession(app, store=MemoryStore())
    elif kind == "flask-session":
        from cachelib import SimpleCache
        from flask_session import Session

        app.config.update(SESSION_TYPE="cachelib", SESSION_CACHELIB=SimpleCache())
        Session(app)

    @app.get("/fill")
    def fill() -> str:
        flask.session.update(data)
        return "ok"

    return app


def measure(kind: str, data: dict[str, t.Any]) -> tuple[int, int, int]:
    """Bytes of the ``Cookie`` header sent back, of the ``Set-Cookie`` values,
    and of the largest one.
    """
    browser = Browser(_app(kind, data))
    headers = browser.get("/fill").headers
    written = [len(value) for name, value in headers if name == "Set-Cookie"]
    return len(browser.cookie_header), sum(written), max(written)


KINDS = {
    "flask": "Flask built-in",
    "koa-cookie": "ours, cookie",
    "koa-store": "ours, store (id)",
    "flask-session": "Flask-Session (id)",
}


def main() -> None:
    print(
        "Cookie size in bytes: the Cookie header sent back with each request"
        " (Set-Cookie headers of the response that wrote it in parentheses)."
    )
    rows = []
    for label, data in DATA.items():
        sizes = {kind: measure(kind, data) for kind in KINDS}
        row = [label]
        for kind in KINDS:
            sent, written, largest = sizes[kind]
            over = " !" if largest > BROWSER_LIMIT else ""
            row.append(f"{sent} ({written}){over}")
        row.append(report.ratio(sizes["koa-cookie"][0], sizes["flask"][0]))
        rows.append(row)
    print(report.table(["session data", *KINDS.values(), "ours / Flask"], rows))
    print(
        f"! over the {BROWSER_LIMIT} bytes that browsers keep: Flask's cookie is"
        " dropped by the browser (Werkzeug warns); ours is refused at save"
        " (SessionTooLargeError) with the default MAX_COOKIE_SIZE."
    )
