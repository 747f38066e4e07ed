"""Where an app's options come from, merged and checked together.

Options come from ``app.config["KOA_SESSION"]``, ``KoaSession(...)`` and
``init_app(...)`` (later sources win), each under its Python or koa name,
with Flask's own settings as the lowest source (:mod:`.flask_settings`).
Each value is checked by its option's declaration (:mod:`.options`), under the
name it was given (units follow the name: ``max_age`` counts seconds, koa's
``maxAge`` milliseconds); then the options that depend on each other.
"""

from __future__ import annotations

import difflib
import typing as t

from . import codec
from .exceptions import warn_config
from .options import OPTIONS, Check, Options, invalid
from .sealing import require_cryptography
from .stores.base import capabilities, is_conditional
from .stores.urls import hide_password, store_from_url

if t.TYPE_CHECKING:
    from .stores.base import SessionStore

#: Every name an option is accepted under (Python and koa), mapped to the
#: Python name.
_NAMES: dict[str, str] = {
    **{info.koa: info.name for info in OPTIONS if info.koa is not None},
    **{info.name: info.name for info in OPTIONS},
}
_CHECKS: dict[str, Check] = {info.name: info.check for info in OPTIONS}


#: One option as given: the name it was given under, and its value.
Given = tuple[str, t.Any]


def _canonical_name(name: str, where: str) -> str:
    canonical = _NAMES.get(name)
    if canonical is not None:
        return canonical
    known = sorted(_NAMES)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"Unknown KoaSession option {name!r} in {where}.{hint} Known options:"
        f" {', '.join(known)}."
    )


def _canonical(source: t.Mapping[str, t.Any], where: str) -> dict[str, Given]:
    result: dict[str, Given] = {}
    for name, value in source.items():
        canonical = _canonical_name(name, where)
        if canonical in result:
            raise ValueError(
                f"KoaSession option {canonical!r} is given twice in {where}"
                f" (as {result[canonical][0]!r} and {name!r}); give it once."
            )
        result[canonical] = (name, value)
    return result


def _merge(sources: t.Iterable[tuple[t.Mapping[str, t.Any], str]]) -> dict[str, Given]:
    merged: dict[str, Given] = {}
    for mapping, where in sources:
        if not isinstance(mapping, t.Mapping):
            raise TypeError(f"{where} must be a dict of options, got {mapping!r}.")
        merged.update(_canonical(mapping, where))
    return merged


def _checked(merged: dict[str, Given]) -> dict[str, t.Any]:
    # Each value checked under the name it was given: units follow the name.
    return {
        name: _CHECKS[name](given, value) for name, (given, value) in merged.items()
    }


def check_options(*sources: tuple[t.Mapping[str, t.Any], str]) -> dict[str, t.Any]:
    """Merge option sources (later ones win) and check each option on its own.

    Options that depend on each other are left to :func:`parse_options`: they
    may come from different places (``KoaSession(...)``, ``init_app``).

    :param sources: ``(mapping, description)`` pairs, lowest priority first;
        the description names the source in error messages.
    :return: the options under their Python names, values normalised.
    :raise ValueError: for an unknown option or a value out of range.
    :raise TypeError: for a value of the wrong type.
    """
    return _checked(_merge(sources))


def given_options(*sources: tuple[t.Mapping[str, t.Any], str]) -> frozenset[str]:
    """The Python names of the options given in ``sources`` (as for
    :func:`check_options`), whatever their values, ``None`` included.

    :raise ValueError: for an unknown option.
    :raise TypeError: for a source that is not a mapping.
    """
    return frozenset(_merge(sources))


def parse_options(
    *sources: tuple[t.Mapping[str, t.Any], str],
    stores: dict[tuple[str, bool], SessionStore] | None = None,
) -> Options:
    """Merge every option source of an app and validate the whole.

    :param sources: as for :func:`check_options`.
    :param stores: the stores made from URLs so far, by URL (and wire): the
        options made again after a change of the config keep them, and the
        sessions in a ``"memory"`` store with them.
    :raise ValueError: for an unknown option, a value out of range or options
        that exclude or need each other.
    :raise TypeError: for a value of the wrong type.
    """
    given = _merge(sources)
    express = given.get("wire", ("", "koa"))[1] == "express-session"
    if express:
        _express_defaults(given)
    checked = _checked(given)
    for name in ("store", "registry"):
        url = checked.get(name)
        if isinstance(url, str):
            key = (url, express and name == "store")
            made = None if stores is None else stores.get(key)
            if made is None:
                made = _store_from_url(given[name][0], url, key[1])
                if stores is not None:
                    stores[key] = made
            checked[name] = made
    options = Options(**checked)
    if express:
        _check_express_store(options)
    _check_together(options)
    _warn_unlikely(given)
    return options


def _express_defaults(given: dict[str, Given]) -> None:
    """The defaults of ``wire="express-session"``: its cookie's name."""
    from .express import DEFAULTS

    for name, value in DEFAULTS.items():
        given.setdefault(name, (name, value))


def _check_express_store(options: Options) -> None:
    """express-session keeps its sessions in a store of its own layout."""
    from .express import ExpressPayloads

    if isinstance(options.store, ExpressPayloads):
        return
    raise ValueError(
        'KoaSession option wire="express-session" shares the sessions of'
        " express-session with connect-redis, which keeps them in Redis in its"
        f" own layout, and the store is {options.store!r}: give"
        ' store="redis://..." (the Redis the Express app uses), or'
        " store=ExpressRedisStore(client) from flask_koasession.express."
    )


def _store_from_url(name: str, url: str, express: bool = False) -> SessionStore:
    """The store a ``store`` URL names, its errors naming the option.

    :param express: the store of ``wire="express-session"``: connect-redis's
        layout, Redis only.
    """
    try:
        if express:
            return _express_store_from_url(url)
        return store_from_url(url)
    except (ValueError, ImportError) as error:
        raise type(error)(
            f"KoaSession option {name}={hide_password(url)!r}: {error}"
        ) from error


def _express_store_from_url(url: str) -> SessionStore:
    from .express import ExpressRedisStore
    from .stores.redis import bounded_redis_client

    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(
            'with wire="express-session" the store is connect-redis\'s: expected'
            " a redis://, rediss:// or unix:// URL."
        )
    return ExpressRedisStore(bounded_redis_client(url))


def _check_sealing(options: Options) -> None:
    """``encrypt`` and ``compress`` seal koa's own cookie value: they need
    cookie mode and the default codec, and ``encrypt`` the ``[encrypt]`` extra."""
    given = " and ".join(
        f"{name}=True"
        for name in ("encrypt", "compress")
        if getattr(options, name) is True
    )
    if not given:
        return
    if options.store is not None or options.store_factory is not None:
        raise ValueError(
            f"KoaSession option {given} applies to cookie sessions only: with a"
            " store (store or store_factory) the cookie holds nothing but a random"
            " session id, and the data stays on the server. Remove"
            f" {given}, or remove the store to keep the data in a sealed cookie."
        )
    custom = " and ".join(
        name
        for name, default in (("encode", codec.encode), ("decode", codec.decode))
        if getattr(options, name) is not default
    )
    if custom:
        raise ValueError(
            f"KoaSession options {given} and a custom {custom} exclude each other:"
            f" {given} seals koa's own cookie value, which a custom {custom}"
            f" replaces. Remove {custom}, or remove {given} and seal the value"
            f" in your own encode and decode."
        )
    if options.encrypt:
        require_cryptography()


def _check_together(options: Options) -> None:
    """Check the options that depend on each other."""
    if options.store is not None and options.store_factory is not None:
        raise ValueError(
            "KoaSession options store and store_factory (ContextStore) exclude each"
            " other: give one."
        )
    if options.merge and options.store is not None:
        try:
            is_conditional(options.store)
        except TypeError as error:
            invalid("store", options.store, str(error), TypeError)
    _check_sealing(options)
    if options.external_key is not None and (
        options.store is None and options.store_factory is None
    ):
        raise ValueError(
            "KoaSession option external_key needs a store: the external key is a"
            " store id. Add store=... (or store_factory=...)."
        )
    _check_user_index(options)


def _check_user_index(options: Options) -> None:
    """``user_id_key`` needs a store that indexes sessions by user."""
    if options.registry is not None and not capabilities(options.registry).indexes:
        invalid(
            "registry",
            options.registry,
            "expected a store that indexes sessions by user (SessionIndex: the"
            " built-in stores do), or its URL",
            TypeError,
        )
    if options.user_id_key is None or options.registry is not None:
        return
    if options.store is not None and capabilities(options.store).indexes:
        return
    where = (
        "the store has no SessionIndex"
        if options.store is not None
        else "with store_factory the store changes per request"
        if options.store_factory is not None
        else "cookie sessions keep nothing on the server"
    )
    raise ValueError(
        f"KoaSession option user_id_key={options.user_id_key!r} needs a place to"
        f" keep each user's sessions, and {where}: give"
        ' registry="redis://..." (or "sqlite:///sessions.db", a RedisStore,'
        " an SQLAlchemyStore), or a built-in store as the store."
    )


#: A ``maxAge`` under this (a minute, in ms) was most likely meant in seconds.
_SHORTEST_LIKELY_MAX_AGE_MS = 60_000


def _warn_unlikely(given: t.Mapping[str, Given]) -> None:
    """Warn about options that are valid but most likely not what was meant."""
    name, max_age = given.get("max_age", ("max_age", None))
    if (
        name == "maxAge"
        and isinstance(max_age, (int, float))
        and not isinstance(max_age, bool)
        and max_age < _SHORTEST_LIKELY_MAX_AGE_MS
    ):
        warn_config(
            f"KoaSession option maxAge={max_age!r} is {max_age / 1000:g} seconds:"
            " maxAge is in milliseconds, as in koa. For an hour give"
            " maxAge=3_600_000, or the Python name in seconds, max_age=3600. A"
            " max age under a minute is most likely meant in seconds; if it is"
            " not, give a datetime.timedelta or filter KoaSessionConfigWarning."
        )
