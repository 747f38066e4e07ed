"""The ``flask koa-session`` commands.

Registered through the ``flask.commands`` entry point, so every app with the
package installed has them::

    $ flask --app myapp koa-session cleanup
    Removed 42 expired sessions.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from .exceptions import SessionStoreError

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
