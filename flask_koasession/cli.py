"""The ``flask koa-session`` commands.

Registered through the ``flask.commands`` entry point, so every app with the
package installed has them::

    $ flask --app myapp koa-session cleanup
    Removed 42 expired sessions.
    $ flask --app myapp koa-session sessions 42
    $ flask --app myapp koa-session revoke 42 --all
"""

from __future__ import annotations

import datetime
import typing as t

import click
from flask import current_app
from flask.cli import AppGroup

from .exceptions import SessionStoreError
from .extension import KoaSession

koa_session_cli = AppGroup(
    "koa-session", help="Manage the sessions of flask-koasession."
)


@koa_session_cli.command("cleanup")
def cleanup_command() -> None:
    """Delete expired sessions from the app's session store.

    Stores whose backend expires entries by itself (Redis) have nothing to
    clean up; SQLAlchemyStore needs this run periodically, from cron say.
    """
    state = current_app.extensions.get("koasession")
    if state is None:
        raise click.ClickException(
            "flask-koasession is not set up on this app: call KoaSession(app)"
            " or koa.init_app(app) in the app factory."
        )
    store = state.options.store
    if store is None:
        if state.options.store_factory is not None:
            raise click.ClickException(
                "The app makes a store per request (store_factory); there is no"
                " single store to clean up. Call cleanup() on your stores yourself."
            )
        raise click.ClickException(
            "No session store is configured (sessions live in cookies, which"
            " expire in the browser): there is nothing to clean up."
        )
    cleanup = getattr(store, "cleanup", None)
    if not callable(cleanup):
        raise click.ClickException(
            f"The session store ({type(store).__name__}) has no cleanup() method;"
            " a store whose backend expires entries itself, such as Redis, needs"
            " none."
        )
    try:
        removed = int(cleanup())
    except SessionStoreError as error:
        raise click.ClickException(str(error)) from error
    noun = "session" if removed == 1 else "sessions"
    click.echo(f"Removed {removed} expired {noun}.")


def _when(moment: datetime.datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@koa_session_cli.command("sessions")
@click.argument("user_id")
def sessions_command(user_id: str) -> None:
    """List the active sessions of USER_ID: handle, created, last seen,
    expires, user agent."""
    try:
        found = KoaSession().sessions_of(user_id)
    except (RuntimeError, SessionStoreError) as error:
        raise click.ClickException(str(error)) from error
    if not found:
        click.echo(f"No active session for user {user_id!r}.")
        return
    rows = [("HANDLE", "CREATED", "LAST SEEN", "EXPIRES", "USER AGENT")]
    rows += [
        (
            session.handle,
            _when(session.created_at),
            _when(session.last_seen),
            _when(session.expires_at),
            # A user agent is whatever the client sent: no terminal codes.
            "".join(c if c.isprintable() else "?" for c in session.user_agent or "-")[
                :60
            ],
        )
        for session in found
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[4]]))


@koa_session_cli.command("revoke")
@click.argument("user_id")
@click.option("--all", "everything", is_flag=True, help="End every session.")
@click.option("--handle", "handle", help="End the session with this handle.")
def revoke_command(user_id: str, everything: bool, handle: str | None) -> None:
    """End sessions of USER_ID: --all of them, or the one --handle H."""
    if everything == (handle is not None):
        raise click.UsageError("Give either --all or --handle HANDLE.")
    extension = KoaSession()
    try:
        if everything:
            ended = extension.revoke_user(user_id)
        elif extension.revoke(t.cast(str, handle), user_id=user_id):
            ended = 1
        else:
            raise click.ClickException(
                f"No active session {handle!r} of user {user_id!r}."
            )
    except (RuntimeError, SessionStoreError) as error:
        raise click.ClickException(str(error)) from error
    noun = "session" if ended == 1 else "sessions"
    click.echo(f"Ended {ended} {noun} of user {user_id!r}.")
