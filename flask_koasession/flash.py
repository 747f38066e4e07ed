"""Flash messages that are read once: koa's ``ctx.session.flash`` idiom.

A Koa app that sets ``ctx.session.flash = "..."`` and a Flask app that calls
:func:`pop_flash` share the same key (``flash`` by default, the ``flash_key``
option), so a message set by one is shown once by the other.
"""

from __future__ import annotations

import typing as t

from flask import current_app, session

_MISSING = object()


def _flash_key() -> str:
    key: str = current_app.extensions["koasession"].options.flash_key
    return key


def set_flash(value: t.Any) -> None:
    """Store ``value`` (anything JSON can hold) until the next :func:`pop_flash`."""
    session[_flash_key()] = value


def pop_flash(default: t.Any = None) -> t.Any:
    """Return the flash value and remove it; ``default`` when there is none.

    The removal is saved with the response, so the message shows once. Also
    available in templates as ``pop_flash()``. A Koa app that "clears" the
    flash by setting it to ``null`` leaves ``None`` behind: that counts as no
    message too.
    """
    value = session.pop(_flash_key(), _MISSING)
    if value is _MISSING or value is None:
        return default
    return value


def flash_template_context() -> dict[str, t.Any]:
    """Puts :func:`pop_flash` in every template Flask renders."""
    return {"pop_flash": pop_flash}
