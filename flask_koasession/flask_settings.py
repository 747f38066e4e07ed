"""Flask's own session settings, read as the defaults of the options.

An app that sets ``SESSION_COOKIE_SECURE = True`` or
``SESSION_COOKIE_SAMESITE = "Lax"`` keeps them when it adds the extension.
Each of Flask's session settings that the app changed from Flask's own
default becomes the default of the option that replaces it, unless that
option is given (in ``KOA_SESSION``, to ``KoaSession(...)`` or to
``init_app``). A setting left at Flask's default leaves koa's default, which
may differ (the cookie name ``"koa.sess"``, ``secure=None``, a max age of
one day).

They are read when ``init_app`` runs and again, as Flask reads them, when
they change (:func:`watch`): an app factory or a test fixture that
adjusts ``SESSION_COOKIE_*`` after the extension is set up gets its change.
"""

from __future__ import annotations

import datetime
import operator
import typing as t

import flask

from .exceptions import warn_config
from .option_sources import check_options

if t.TYPE_CHECKING:
    from flask.config import Config

    from .codec import MaxAge

#: Flask's own defaults: a setting still equal to its default was not chosen.
_FLASK_DEFAULTS: t.Mapping[str, t.Any] = flask.Flask.default_config


class Found(t.NamedTuple):
    """One setting an option's default may be read from."""

    #: The Flask setting, e.g. ``"SESSION_COOKIE_SECURE"``.
    setting: str
    #: Its value, as Flask would use it.
    value: t.Any
    #: Whether the app chose it: it differs from Flask's default. Only then
    #: is it the option's default.
    chosen: bool


Reader = t.Callable[["Config"], Found]


def _changed(setting: str) -> Reader:
    """The setting, chosen when it differs from Flask's default."""

    def read(config: Config) -> Found:
        default = _FLASK_DEFAULTS.get(setting)
        value = config.get(setting, default)
        return Found(setting, value, value != default)

    return read


def _domain(config: Config) -> Found:
    # Flask sends no Domain attribute for any false value, and Werkzeug
    # writes the domain without a leading dot (which browsers ignore, and
    # Werkzeug's test client would not match).
    value = config.get("SESSION_COOKIE_DOMAIN")
    if isinstance(value, str):
        value = value.lstrip(".")
    return Found("SESSION_COOKIE_DOMAIN", value, bool(value))


def _path(config: Config) -> Found:
    # Flask's get_cookie_path(): SESSION_COOKIE_PATH, else APPLICATION_ROOT;
    # "/" is koa's default too.
    if config.get("SESSION_COOKIE_PATH"):
        setting = "SESSION_COOKIE_PATH"
    else:
        setting = "APPLICATION_ROOT"
    value = config.get(setting) or "/"
    return Found(setting, value, value != "/")


def _lifetime(config: Config) -> Found:
    # As Flask's permanent_session_lifetime: a number is seconds. Passed on
    # as a timedelta, so it is never taken for koa's milliseconds.
    setting = "PERMANENT_SESSION_LIFETIME"
    value = config.get(setting, _FLASK_DEFAULTS[setting])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = datetime.timedelta(seconds=value)
    return Found(setting, value, value != _FLASK_DEFAULTS[setting])


def _refresh(config: Config) -> Found:
    # Read only with a chosen lifetime: then it is chosen whatever its value.
    setting = "SESSION_REFRESH_EACH_REQUEST"
    return Found(setting, config.get(setting, True), True)


#: Each option with a Flask setting, and how its default is read from it.
READERS: dict[str, Reader] = {
    "key": _changed("SESSION_COOKIE_NAME"),
    "domain": _domain,
    "path": _path,
    "http_only": _changed("SESSION_COOKIE_HTTPONLY"),
    "secure": _changed("SESSION_COOKIE_SECURE"),
    "same_site": _changed("SESSION_COOKIE_SAMESITE"),
    "partitioned": _changed("SESSION_COOKIE_PARTITIONED"),
    "max_age": _lifetime,
}


def read(config: Config, given: t.Collection[str]) -> dict[str, t.Any]:
    """Flask's session settings as the defaults of the options not ``given``.

    :param config: the app's config.
    :param given: the Python names of the options given.
    :return: the option defaults read from Flask's settings, as found (a
        lifetime as a :class:`~datetime.timedelta`): they are checked again
        with every other source.
    :raise ValueError: for a setting out of range for its option, naming both.
    :raise TypeError: for a setting of the wrong type, naming both.
    """
    found = _find(config, frozenset(given))
    return {
        option: setting.value
        for option, setting in found.items()
        if setting.chosen and _check(option, setting)
    }


def _find(config: Config, given: frozenset[str]) -> dict[str, Found]:
    found = {
        option: reader(config)
        for option, reader in READERS.items()
        if option not in given
    }
    # Flask refreshes a permanent session on every request unless
    # SESSION_REFRESH_EACH_REQUEST is off: with Flask's lifetime comes its
    # refresh, koa's rolling (unless a renewal policy is given).
    lifetime = found.get("max_age")
    if lifetime is not None and lifetime.chosen and not {"rolling", "renew"} & given:
        found["rolling"] = _refresh(config)
    return found


def _check(option: str, found: Found) -> t.Literal[True]:
    """Check the setting's value as the option's would be."""
    try:
        check_options(({option: found.value}, found.setting))
        return True
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"{error} It is Flask's setting {found.setting}={found.value!r}, read"
            f" because the option {option} is not given: fix the setting, or give"
            f" {option}=... to KoaSession."
        ) from None


#: The config keys whose values make an app's options: Flask's session
#: settings, and the options dict ``KOA_SESSION``.
WATCHED = (
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "APPLICATION_ROOT",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_PARTITIONED",
    "PERMANENT_SESSION_LIFETIME",
    "SESSION_REFRESH_EACH_REQUEST",
)


class Watch(t.NamedTuple):
    """How to tell, on each session load and by C code alone (about 0.2 µs),
    that the settings changed since the options were made of them."""

    #: Reads the watched settings the config has (all on Flask 3.1+).
    read: t.Callable[[Config], t.Any]
    #: What it read when the options were made.
    seen: t.Any
    #: The watched settings the config lacked then (``SESSION_COOKIE_PARTITIONED``
    #: before Flask 3.1): set since, they are a change.
    lacking: tuple[str, ...]


def watch(config: Config) -> Watch:
    """What :class:`Watch` needs, from the config as it is now."""
    # Flask's default config has them all but, before 3.1, the partitioned.
    present = [setting for setting in WATCHED if setting in config] or [*WATCHED]
    read = operator.itemgetter(*present)
    lacking = tuple(setting for setting in WATCHED if setting not in config)
    return Watch(read, read(config), lacking)


def warn_if_strong_protection_is_void(app: flask.Flask, max_age: MaxAge) -> None:
    """Warn, when Flask-Login's ``session_protection = "strong"`` cannot log
    anyone out: Flask-Login clears only a session that is not permanent, and
    with a number as ``max_age`` every session is (see :doc:`/flask-login`).
    """
    manager = getattr(app, "login_manager", None)
    if manager is None or max_age == "session":
        return
    mode = app.config.get("SESSION_PROTECTION", manager.session_protection)
    if mode == "strong":
        warn_config(
            f"Flask-Login's session_protection='strong' on the app {app.name!r}"
            " acts as 'basic' with KoaSession's max_age: every session has a max"
            " age, so every session is permanent, and Flask-Login only marks a"
            " permanent session not fresh. Give KoaSession(app,"
            ' max_age="session") to keep strong protection effective (see'
            " flask-koasession's Flask-Login page)."
        )
