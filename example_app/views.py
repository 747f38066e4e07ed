"""The pages: koa-session's complete example, each route at its seed path.

Every page answers a browser with HTML and ``curl`` (or any client that does
not ask for HTML) with the seed's plain text: ``curl localhost:5000/`` still
says ``1 views``. Routes that change who is logged in (``/login``,
``/logout``, the forms of ``/sessions``) and ``/set`` change state only on
POST, with Flask-WTF's CSRF token; their GET shows the form.
"""

from __future__ import annotations

import json
import typing as t
from datetime import UTC, datetime

from flask import (
    Blueprint,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import BadRequest

from flask_koasession import pop_flash, session, set_flash

from .session_info import session_info

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from flask_koasession import KoaSession
    from flask_koasession.users import ActiveSession

bp = Blueprint("pages", __name__)

#: Where the seed keeps the user (``ctx.session.userId``), which ``/login``
#: and ``/set`` write: the extension's ``user_id_key``, so that each user's
#: sessions are listed on ``/sessions``.
USER_ID_KEY = "userId"

#: The longest user id accepted: a session cookie holds about 4 KB.
MAX_USER_ID = 64


def wants_html() -> bool:
    """Whether the client asked for HTML (a browser) rather than anything
    (``curl``'s ``*/*``, or no ``Accept`` header): plain text for those."""
    best = request.accept_mimetypes.best_match(["text/plain", "text/html"])
    return best == "text/html"


def text(body: str, status: int = 200) -> tuple[str, int, dict[str, str]]:
    return body, status, {"Content-Type": "text/plain; charset=utf-8"}


def user_id_from_form() -> str:
    """The form's ``userId``: the seed's ``"1234"`` when blank."""
    user_id = request.form.get("userId", "").strip() or "1234"
    if len(user_id) > MAX_USER_ID:
        raise BadRequest(f"userId is longer than {MAX_USER_ID} characters.")
    return user_id


@bp.get("/")
def views() -> t.Any:
    views = session.get("views", 0)
    # A number, unless another app sharing the key wrote something else.
    n = views + 1 if isinstance(views, int | float) else 1
    session["views"] = n
    if wants_html():
        return render_template("views.html", views=n)
    message = pop_flash()
    return text(f"{n} views" + (f"\n{message}" if message else ""))


@bp.route("/set", methods=["GET", "POST"])
def set_user() -> t.Any:
    if request.method == "GET":
        return form_page("set.html", "POST /set with userId")
    session[USER_ID_KEY] = user_id_from_form()
    if wants_html():
        set_flash("UserId set in session")
        return redirect(url_for(".get_user"), 303)
    return text("UserId set in session")


@bp.get("/get")
def get_user() -> t.Any:
    user_id = session.get(USER_ID_KEY)
    if wants_html():
        return render_template("get.html", user_id=user_id)
    return text(f"User ID: {user_id}")


@bp.route("/login", methods=["GET", "POST"])
def login() -> t.Any:
    if request.method == "GET":
        return form_page("login.html", "POST /login with userId")
    user_id = user_id_from_form()
    # A new session id on login: an id planted before it (session fixation)
    # is worth nothing after it. The old store entry is deleted.
    previous_id = session.external_key
    session.regenerate()
    new_csrf_secret()  # a new user behind the session: a new token
    session[USER_ID_KEY] = user_id
    session["role"] = "admin"
    session["login"] = {
        "previous_id": previous_id,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if wants_html():
        set_flash(f"Logged in as {user_id}")
        return redirect(url_for(".session_page"), 303)
    return text(f"Logged in as {user_id}")


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> t.Any:
    if request.method == "GET":
        return form_page("logout.html", "POST /logout")
    # koa: ctx.session = null. Data, store entry and both cookies go; nothing
    # may write to the session after this, or a new one would start.
    session.destroy()
    if wants_html():
        return render_template("destroyed.html")
    return text("Session Destroyed")


@bp.get("/flash")
def flash_message() -> Response:
    set_flash("Flash Message Example")
    return redirect(url_for(".views"))


@bp.get("/show-flash")
def show_flash() -> t.Any:
    message = pop_flash("No Flash Message")
    if wants_html():
        return render_template("show_flash.html", message=message)
    return text(str(message))


@bp.get("/session")
def session_page() -> t.Any:
    state = current_app.extensions["example_app"]
    info = session_info(state.cookie_name, state.store)
    if wants_html():
        return render_template(
            "session.html",
            info=info,
            data_json=json.dumps(info.data, indent=2, sort_keys=True, default=str),
        )
    return text(json.dumps(info.as_json(), indent=2, sort_keys=True, default=str))


# -- the user's sessions: koa.sessions_of, koa.revoke, koa.revoke_user ---------


def koa() -> KoaSession:
    """The app's extension object (its methods list and end sessions)."""
    koa: KoaSession = current_app.extensions["example_app"].koa
    return koa


@bp.get("/sessions")
def sessions_page() -> t.Any:
    user_id = session.get(USER_ID_KEY)
    if user_id is None:
        return to_login()
    listed = koa().sessions_of(user_id)
    if wants_html():
        return render_template("sessions.html", user_id=user_id, sessions=listed)
    return text(sessions_text(user_id, listed))


@bp.post("/sessions/revoke")
def revoke_session() -> t.Any:
    """Log out one of the user's other sessions, named by its handle."""
    user_id = session.get(USER_ID_KEY)
    if user_id is None:
        return to_login()
    handle = request.form.get("handle", "")
    # The handle is whatever the form sent: end it only if it is one of this
    # user's sessions (a handle of someone else's is refused), and not this
    # browser's own (that is /logout).
    mine = {found.handle: found for found in koa().sessions_of(user_id)}
    if handle in mine and mine[handle].current:
        return done("That is this browser: log it out with Log out.")
    if handle in mine and koa().revoke(handle):
        return done("Logged out that device.")
    return done("No other session of yours has that handle: nothing was logged out.")


@bp.post("/sessions/revoke-others")
def revoke_other_sessions() -> t.Any:
    """Log out every session of the user but this browser's."""
    user_id = session.get(USER_ID_KEY)
    if user_id is None:
        return to_login()
    ended = koa().revoke_user(user_id, keep_current=True)
    if ended == 0:
        return done("No other session to log out.")
    return done(f"Logged out {ended} other session{'s' if ended > 1 else ''}.")


def to_login() -> Response:
    """Where a visitor who is not logged in is sent from ``/sessions``."""
    if wants_html():
        set_flash("Log in to see your sessions.")
    return redirect(url_for(".login"), 303)


def done(message: str) -> t.Any:
    """The answer to a form of ``/sessions``: back to it, with ``message``."""
    if wants_html():
        set_flash(message)
        return redirect(url_for(".sessions_page"), 303)
    return text(message)


def sessions_text(user_id: object, listed: list[ActiveSession]) -> str:
    """``/sessions`` for ``curl``: one session a line, with its handle (POST
    it to ``/sessions/revoke`` as ``handle``)."""
    lines = [f"Sessions of user {str(user_id)!r}: {len(listed)}"]
    for found in listed:
        mark = "this one" if found.current else found.handle
        lines.append(
            f"{mark}  created {utc(found.created_at)}"
            f"  last seen {utc(found.last_seen)}"
            f"  expires {utc(found.expires_at)}  {found.user_agent or '-'}"
        )
    return "\n".join(lines)


def utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def form_page(template: str, what: str) -> t.Any:
    """A form's page; for ``curl``, how to send the form (with the token)."""
    if wants_html():
        return render_template(template)
    return text(f"{what} and csrf_token={generate_csrf()} (form-encoded)")


def new_csrf_secret() -> None:
    """Forget Flask-WTF's CSRF secret (``session["csrf_token"]``, and this
    request's token made from it): the next form gets a new one, and tokens
    made before, e.g. before a login, are refused."""
    field = current_app.config["WTF_CSRF_FIELD_NAME"]
    session.pop(field, None)
    g.pop(field, None)
