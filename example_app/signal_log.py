"""The last session signals this app received: how to subscribe to them.

Each of flask-koasession's signals is a blinker signal whose sender is the
Flask app. Connecting a function with ``sender=app`` receives that app's
signals only::

    from flask_koasession import session_regenerated

    @session_regenerated.connect_via(app)
    def on_login(sender, session, old_key, new_key, **extra):
        app.logger.info("session id %s -> %s", old_key, new_key)

The panel on every page of the example shows what :class:`SignalLog` keeps
for the visitor who asks: each browser gets a random id in a cookie of its own
(``example.visitor``, not the session's, which a login or logout replaces),
and the log keeps the last signals of each id, for the most recent visitors
only. A signal is recorded for the visitor whose request sent it; a request
that names no visitor (``curl`` without a cookie jar) has no panel, and its
signals are not kept. Store ids are shortened to a few characters all the
same: a page is no place for a whole session id.
"""

from __future__ import annotations

import collections
import re
import secrets
import threading
import typing as t
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import g, has_request_context, request

from flask_koasession import signals

from .views import wants_html

if t.TYPE_CHECKING:
    from blinker import NamedSignal
    from flask import Flask
    from werkzeug.wrappers import Response

#: The cookie that tells visitors apart: a random id, nothing else.
VISITOR_COOKIE = "example.visitor"
#: What :func:`secrets.token_urlsafe` makes of 16 bytes; any other value of
#: the cookie is ignored and replaced.
_VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{22}")

#: Every signal of flask_koasession, by name.
SIGNALS: tuple[NamedSignal, ...] = (
    signals.session_created,
    signals.session_renewed,
    signals.session_regenerated,
    signals.session_destroyed,
    signals.session_expired,
    signals.session_invalid,
    signals.session_missed,
    signals.session_dropped,
    signals.session_revoked,
)


@dataclass(frozen=True)
class Entry:
    """One signal received: when, which, and what it said (ids shortened)."""

    time: datetime
    name: str
    details: str


def short_id(key: object) -> str:
    """A store id cut to its first 8 characters; ``-`` for none (cookie mode)."""
    if not isinstance(key, str) or not key:
        return "-"
    return key[:8] + "…" if len(key) > 8 else key


def describe(kwargs: dict[str, t.Any]) -> str:
    """What a signal's keyword arguments say, without data or whole ids."""
    parts = []
    if "reason" in kwargs:
        parts.append(f"reason={kwargs['reason']}")
    if "old_key" in kwargs:
        old, new = short_id(kwargs["old_key"]), short_id(kwargs["new_key"])
        parts.append(f"id {old} → {new}")
    elif "key" in kwargs:
        parts.append(f"id {short_id(kwargs['key'])}")
    elif "session" in kwargs:
        key = getattr(kwargs["session"], "external_key", None)
        parts.append(f"id {short_id(key)}")
    elif "handles" in kwargs:  # session_revoked: how many, not which
        count = len(kwargs["handles"])
        parts.append(f"{count} session{'s' if count != 1 else ''}")
    return ", ".join(parts)


class _Receiver:
    """Records one signal into a log; blinker holds it weakly, the log strongly."""

    def __init__(self, log: SignalLog, name: str) -> None:
        self.log = log
        self.name = name

    def __call__(self, sender: Flask, **kwargs: t.Any) -> None:
        if not has_request_context():  # e.g. a CLI command: nobody to show it to
            return
        visitor = current_visitor()
        if visitor is not None:
            self.log.add(visitor, Entry(datetime.now(UTC), self.name, describe(kwargs)))


def current_visitor() -> str | None:
    """This request's visitor id: the one its cookie names, or for a browser
    without one a new id, which :func:`remember_visitor` sends; ``None`` for
    a client that did not ask for HTML and sent no id (it has no panel)."""
    if "example_visitor" not in g:
        sent = request.cookies.get(VISITOR_COOKIE, "")
        if _VISITOR_ID.fullmatch(sent):
            g.example_visitor = sent
        elif wants_html():
            g.example_visitor = secrets.token_urlsafe(16)
            g.example_visitor_is_new = True
        else:
            g.example_visitor = None
    visitor: str | None = g.example_visitor
    return visitor


def remember_visitor(response: Response) -> Response:
    """Send a new visitor's id (an ``after_request`` hook: it runs before the
    session is saved, so the signals of the save go to this id too)."""
    current_visitor()
    if g.get("example_visitor_is_new"):
        response.set_cookie(
            VISITOR_COOKIE,
            g.example_visitor,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response


class SignalLog:
    """The last ``size`` signals that ``app`` sent for each visitor, newest
    first, for the ``visitors`` visitors seen last.

    :param app: the app whose signals to record; the log is kept in
        ``app.extensions["example_signals"]`` and lives as long as the app.
    :param size: how many signals to keep for each visitor.
    :param visitors: how many visitors to keep signals for; the one whose
        signals were added or read the longest ago is forgotten first.
    """

    def __init__(self, app: Flask, size: int = 8, visitors: int = 1000) -> None:
        self._size = size
        self._visitors = visitors
        self._entries: collections.OrderedDict[str, collections.deque[Entry]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()
        self._receivers = [_Receiver(self, signal.name) for signal in SIGNALS]
        for signal, receiver in zip(SIGNALS, self._receivers, strict=True):
            signal.connect(receiver, sender=app)
        app.after_request(remember_visitor)
        app.extensions["example_signals"] = self

    def add(self, visitor: str, entry: Entry) -> None:
        with self._lock:
            entries = self._entries.get(visitor)
            if entries is None:
                entries = self._entries[visitor] = collections.deque(maxlen=self._size)
                while len(self._entries) > self._visitors:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(visitor)
            entries.appendleft(entry)

    def entries(self, visitor: str | None) -> list[Entry]:
        """``visitor``'s signals, newest first (none for ``None``)."""
        if visitor is None:
            return []
        with self._lock:
            entries = self._entries.get(visitor)
            if entries is None:
                return []
            self._entries.move_to_end(visitor)
            return list(entries)

    def __len__(self) -> int:
        """How many visitors the log keeps signals for."""
        with self._lock:
            return len(self._entries)
