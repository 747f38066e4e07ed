"""The types of the options, for editors and type checkers.

:class:`KoaSessionOptions` types the keyword arguments of ``KoaSession(...)``
and ``init_app(...)``: every option under its Python name and under its koa
name, each typed as what it accepts at set-up (before :mod:`.options` checks
and normalises it). Written out by hand, not generated: when an option is
added to :class:`~flask_koasession.options.Options`, add it here under both
names (``tests/test_option_types.py`` checks the two stay in step).

Types say what kind of value an option takes; ranges (a max age of at least a
millisecond, a cookie name's characters...) are checked at set-up.
"""

from __future__ import annotations

import datetime
import typing as t

from flask import Request
from flask.sessions import SessionMixin

from .options import ExternalKey
from .stores.base import SessionStore

__all__ = ["KoaSessionOptions"]

#: ``max_age`` counts seconds, koa's ``maxAge`` milliseconds; both take a
#: timedelta, or ``"session"`` for a browser-session cookie.
MaxAgeOption: t.TypeAlias = int | float | datetime.timedelta | t.Literal["session"]
#: Any case is accepted (``"lax"``, as koa writes it, too): the literals are
#: for completion, ``str`` for the other spellings. ``True`` is ``"Strict"``
#: and ``False`` no attribute, as in koa.
SameSiteOption: t.TypeAlias = (
    t.Literal["Lax", "Strict", "None", "lax", "strict", "none"] | str | bool | None
)
#: A store, or a URL naming one (``"memory"``, ``"redis://..."``...).
StoreOption: t.TypeAlias = SessionStore | str | None
EncodeOption: t.TypeAlias = t.Callable[[dict[str, t.Any]], str] | None
DecodeOption: t.TypeAlias = t.Callable[[str], t.Any] | None
StoreFactoryOption: t.TypeAlias = t.Callable[[Request], SessionStore] | None
GenidOption: t.TypeAlias = t.Callable[[Request], str] | None
ValidOption: t.TypeAlias = t.Callable[[Request, dict[str, t.Any]], bool] | None
#: What ``before_save`` returns is ignored.
BeforeSaveOption: t.TypeAlias = t.Callable[[Request, SessionMixin], object] | None
#: Newest first. (A ``str`` is a sequence too: set-up refuses one.)
KeysOption: t.TypeAlias = t.Sequence[str | bytes] | None


class KoaSessionOptions(t.TypedDict, total=False):
    """The keyword arguments of :class:`~flask_koasession.KoaSession` and
    :meth:`~flask_koasession.KoaSession.init_app`: each option under its
    Python name and, where koa-session has it, under koa's name (give one of
    the two). See :doc:`/options`.

    ::

        def create_app(**options: Unpack[KoaSessionOptions]) -> Flask:
            app = Flask(__name__)
            KoaSession(app, **options)
            return app
    """

    key: str
    max_age: MaxAgeOption
    maxAge: MaxAgeOption
    auto_commit: bool
    autoCommit: bool
    overwrite: bool
    http_only: bool
    httpOnly: bool
    signed: bool
    rolling: bool
    renew: bool
    secure: bool | None
    same_site: SameSiteOption
    sameSite: SameSiteOption
    domain: str | None
    #: ``None``: no ``Path`` attribute, as koa's ``path: null``.
    path: str | None
    partitioned: bool
    encode: EncodeOption
    decode: DecodeOption
    encrypt: bool
    compress: bool | t.Literal["auto"]
    store: StoreOption
    store_factory: StoreFactoryOption
    ContextStore: StoreFactoryOption
    merge: bool
    remove_empty: bool
    external_key: ExternalKey | None
    externalKey: ExternalKey | None
    genid: GenidOption
    prefix: str | None
    valid: ValidOption
    before_save: BeforeSaveOption
    beforeSave: BeforeSaveOption
    keys: KeysOption
    digest: str
    flash_key: str
    wire: t.Literal["koa", "express-session"]
    migrate_from: t.Literal["flask"] | None
    user_id_key: str | None
    registry: StoreOption
    track_ip: bool
    absolute_max_age: int | float | datetime.timedelta | None
