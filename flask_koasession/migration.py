"""Sessions carried over from Flask's built-in session (``migrate_from="flask"``).

An app that switches from Flask's own session to this extension keeps its
users logged in: a request that brings no session of ours but a valid Flask
session cookie (signed with the app's secret key or one of its fallbacks,
within ``PERMANENT_SESSION_LIFETIME``, read with Flask's own serializer) gets
that cookie's data as a new session, saved in our format at the end of the
request, and the old cookie is expired. A forged, tampered or expired Flask
cookie carries nothing.
"""

from __future__ import annotations

import typing as t

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

if t.TYPE_CHECKING:
    from flask import Flask, Request, Response

#: Flask's own session interface, for its serializer and cookie settings.
_FLASK = SecureCookieSessionInterface()


def flask_session_data(app: Flask, request: Request) -> dict[str, t.Any] | None:
    """The data of the valid Flask session cookie that came with ``request``,
    or ``None`` (no such cookie, or one that is forged, tampered or expired).

    Flask's ``_permanent`` flag is dropped: the session gets this extension's
    max age.
    """
    value = request.cookies.get(_FLASK.get_cookie_name(app))
    if not value:
        return None
    serializer = _FLASK.get_signing_serializer(app)
    if serializer is None:  # no secret key: Flask could not have signed it
        return None
    max_age = int(app.permanent_session_lifetime.total_seconds())
    try:
        data = serializer.loads(value, max_age=max_age)
    except BadSignature:  # forged, tampered or expired
        return None
    if not isinstance(data, dict) or not data:
        return None
    data.pop("_permanent", None)
    return data


def expire_flask_cookie(app: Flask, response: Response) -> None:
    """Expire Flask's session cookie, with the attributes Flask sets it with."""
    response.delete_cookie(
        _FLASK.get_cookie_name(app),
        domain=_FLASK.get_cookie_domain(app),
        path=_FLASK.get_cookie_path(app),
        secure=_FLASK.get_cookie_secure(app),
        httponly=_FLASK.get_cookie_httponly(app),
        samesite=_FLASK.get_cookie_samesite(app),
    )


def flask_cookie_name(app: Flask) -> str:
    """The name of Flask's session cookie in ``app``."""
    return _FLASK.get_cookie_name(app)
