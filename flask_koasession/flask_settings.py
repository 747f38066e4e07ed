"""Flask's own session settings, read as the defaults of the options.

An app that sets ``SESSION_COOKIE_SECURE = True`` or
``SESSION_COOKIE_SAMESITE = "Lax"`` keeps them when it adds the extension.
Each of Flask's session settings that the app changed from Flask's own
default becomes the default of the option that replaces it, unless that
option is given (in ``KOA_SESSION``, to ``KoaSession(...)`` or to
``init_app``). A setting left at Flask's default leaves koa's default, which
may differ (the cookie name ``"koa.sess"``, ``secure=None``, a max age of
one day).

They are read and checked when ``init_app`` runs, as the options are. One
changed after that is not used; :func:`warn_if_changed` says so when the app
first loads a session.
"""

from __future__ import annotations

import datetime
import typing as t

import flask

from .exceptions import warn_config
from .option_sources import check_options

if t.TYPE_CHECKING:
    from flask.config import Config

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

    @property
    def effective(self) -> t.Any:
        """What this setting makes the option's default (:data:`KOA_DEFAULT`:
        koa's own)."""
        return self.value if self.chosen else KOA_DEFAULT


#: :attr:`Found.effective` of a setting left at Flask's default.
KOA_DEFAULT: t.Any = object()

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


class FlaskSettings(t.NamedTuple):
    """What :func:`read` found for one app."""

    #: Option defaults read from Flask's settings, checked and normalised.
    options: dict[str, t.Any]
    #: The Python names of the options given (whose settings are not read).
    given: frozenset[str]
    #: The setting found for each option not given, chosen or not: what
    #: :func:`warn_if_changed` compares with later.
    found: dict[str, Found]


def read(config: Config, given: t.Collection[str]) -> FlaskSettings:
    """Flask's session settings as the defaults of the options not ``given``.

    :param config: the app's config.
    :param given: the Python names of the options given.
    :raise ValueError: for a setting out of range for its option, naming both.
    :raise TypeError: for a setting of the wrong type, naming both.
    """
    given = frozenset(given)
    found = _find(config, given)
    # Checked here, to name the setting in an error; passed on as found (a
    # lifetime as a timedelta), since the options are checked again with
    # every other source.
    options = {
        option: setting.value
        for option, setting in found.items()
        if setting.chosen and _check(option, setting)
    }
    return FlaskSettings(options, given, found)


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


def _effective(found: Found | None) -> t.Any:
    # Not read at all (rolling without a chosen lifetime): koa's default.
    return KOA_DEFAULT if found is None else found.effective


def warn_if_changed(app: flask.Flask, settings: FlaskSettings) -> None:
    """Warn when a setting read at set-up would now give another default:
    the change is not used.

    :param settings: what :func:`read` found at set-up.
    """
    now = _find(app.config, settings.given)
    changed = []
    for option in {**settings.found, **now}:
        before, after = settings.found.get(option), now.get(option)
        if _effective(before) != _effective(after):
            shown = after or before
            assert shown is not None
            changed.append(f"{shown.setting} is {shown.value!r} (option {option})")
    if changed:
        warn_config(
            f"Flask's session settings changed after KoaSession was set up on the"
            f" app {app.name!r}: {'; '.join(sorted(changed))}. They are read once,"
            " when init_app runs, so the change is not used. Set them before"
            " KoaSession(app) or init_app(app), or give the options."
        )
