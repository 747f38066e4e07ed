"""The last session signals this app received: how to subscribe to them.

Each of flask-koasession's signals is a blinker signal whose sender is the
Flask app. Connecting a function with ``sender=app`` receives that app's
signals only::

    from flask_koasession import session_regenerated

    @session_regenerated.connect_via(app)
    def on_login(sender, session, old_key, new_key, **extra):
        app.logger.info("session id %s -> %s", old_key, new_key)

The panel on every page of the example shows what :class:`SignalLog` keeps.
It is one list for the whole process (every visitor's signals), so store ids
are shortened to a few characters: never enough to take over a session.
"""

from __future__ import annotations

import collections
import threading
import typing as t
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_koasession import signals

if t.TYPE_CHECKING:
    from blinker import NamedSignal
    from flask import Flask

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
    return ", ".join(parts)


class _Receiver:
    """Records one signal into a log; blinker holds it weakly, the log strongly."""

    def __init__(self, log: SignalLog, name: str) -> None:
        self.log = log
        self.name = name

    def __call__(self, sender: Flask, **kwargs: t.Any) -> None:
        self.log.add(Entry(datetime.now(UTC), self.name, describe(kwargs)))


class SignalLog:
    """The last ``size`` signals that ``app`` sent, newest first.

    :param app: the app whose signals to record; the log is kept in
        ``app.extensions["example_signals"]`` and lives as long as the app.
    :param size: how many to keep.
    """

    def __init__(self, app: Flask, size: int = 8) -> None:
        self._entries: collections.deque[Entry] = collections.deque(maxlen=size)
        self._lock = threading.Lock()
        self._receivers = [_Receiver(self, signal.name) for signal in SIGNALS]
        for signal, receiver in zip(SIGNALS, self._receivers, strict=True):
            signal.connect(receiver, sender=app)
        app.extensions["example_signals"] = self

    def add(self, entry: Entry) -> None:
        with self._lock:
            self._entries.appendleft(entry)

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)
