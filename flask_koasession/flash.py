"""Flash messages that are read once: koa's ``ctx.session.flash`` idiom.

A Koa app that sets ``ctx.session.flash = "..."`` and a Flask app that calls
:func:`pop_flash` share the same key (``flash`` by default, the ``flash_key``
option), so a message set by one is shown once by the other.
"""

from __future__ import annotations

import typing as t

from flask import current_app, session

_MISSING = object()
_T = t.TypeVar("_T")


def _flash_key(helper: str) -> str:
    state = current_app.extensions.get("koasession")
    if state is None:
        raise RuntimeError(
            f"{helper}() needs the KoaSession extension on the app"
            f" {current_app.name!r}: set it up with KoaSession(app) or"
            " koa_session.init_app(app) before handling requests."
        )
    key: str = state.options.flash_key
    return key


def set_flash(value: t.Any) -> None:
    """Store ``value`` (anything JSON can hold) until the next :func:`pop_flash`.

    :raise RuntimeError: when the app has no :class:`~flask_koasession.KoaSession`.
    """
    session[_flash_key("set_flash")] = value


@t.overload
def pop_flash() -> t.Any | None: ...


@t.overload
def pop_flash(default: _T) -> t.Any | _T: ...


def pop_flash(default: object = None) -> t.Any:
    """Return the flash value and remove it; ``default`` when there is none.

    The removal is saved with the response, so the message shows once. Also
    available in templates as ``pop_flash()``. A Koa app that "clears" the
    flash by setting it to ``null`` leaves ``None`` behind: that counts as no
    message too.

    :raise RuntimeError: when the app has no :class:`~flask_koasession.KoaSession`.
    """
    value = session.pop(_flash_key("pop_flash"), _MISSING)
    if value is _MISSING or value is None:
        return default
    return value


def flash_template_context() -> dict[str, t.Any]:
    """Puts :func:`pop_flash` in every template Flask renders."""
    return {"pop_flash": pop_flash}
