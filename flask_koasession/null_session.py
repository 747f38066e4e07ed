"""The session of an app that has no key to sign (or encrypt) it with.

As with Flask's own session, such an app still serves every request that only
reads the session (Flask-Login reads it after each one): it reads as empty,
and only a write raises, saying what to set.
"""

from __future__ import annotations

import typing as t

from flask import current_app
from flask.sessions import NullSession

from .cookies import missing_key

if t.TYPE_CHECKING:
    from .codec import MaxAge


class NullKoaSession(NullSession):
    """:data:`flask.session` when signing or encryption is on and no key is
    set: an empty, new session whose writes, ``save()``, ``regenerate()``,
    ``destroy()`` and ``manually_commit()`` raise :class:`RuntimeError`. Flask
    never saves it.
    """

    is_new = new = True
    external_key = None
    populated = False

    def _fail(self, *args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise RuntimeError(missing_key(current_app.extensions["koasession"].options))

    # Flask's NullSession binds its own _fail (and message) to these names.
    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail
    save = regenerate = destroy = manually_commit = _fail

    @property
    def max_age(self) -> MaxAge:
        """The configured max age; assigning it raises."""
        max_age: MaxAge = current_app.extensions["koasession"].options.max_age
        return max_age

    @max_age.setter
    def max_age(self, value: object) -> None:
        self._fail()
