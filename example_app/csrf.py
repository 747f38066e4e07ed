"""A small CSRF protection for the example's forms: a token in the session.

Every form carries the session's token in a hidden ``csrf_token`` field, and
every POST must send it back. Another site can make a visitor's browser POST
here, but cannot read this site's pages, so it cannot know the token. In a
real app, Flask-WTF's ``CSRFProtect`` does the same (see the docs' recipes).
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request

from flask_koasession import session

#: The session key of the token.
SESSION_KEY = "csrf"


def csrf_token() -> str:
    """This session's token, made on first use (a template global)."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = session[SESSION_KEY] = secrets.token_urlsafe(32)
    return token


def new_csrf_token() -> None:
    """Replace the token, e.g. on login, when the user behind it changes."""
    session[SESSION_KEY] = secrets.token_urlsafe(32)


def check_csrf() -> None:
    """Refuse a POST whose ``csrf_token`` is not this session's (a
    ``before_request`` hook)."""
    if request.method != "POST":
        return
    sent = request.form.get("csrf_token", "")
    expected = session.get(SESSION_KEY)
    if not (
        isinstance(expected, str)
        and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        abort(
            400,
            "The form's CSRF token is missing or out of date: reload the page"
            " and send the form again.",
        )
