"""What one request changed in its session, to apply onto the entry as it is
in the store at save time.

A save in store mode writes the whole entry when the entry is still the one
the request loaded (the usual case, and the cheapest). When another request
of the same session saved in between, it writes this request's changes onto
that other save instead: the :class:`ChangeSet`, found by comparing the data
as loaded with the data at the end of the request, one top-level key at a
time. Only then: an uncontended save never computes it.
"""

from __future__ import annotations

import typing as t

from .codec import dumps_json, loads_json
from .payload import RESERVED_KEYS


class ChangeSet(t.NamedTuple):
    """The top-level keys that a request added, changed or deleted."""

    #: Keys added or changed (a nested mutation changes its key), with their
    #: values at the end of the request.
    changed: dict[str, t.Any]
    #: Keys that were loaded and are gone at the end of the request.
    deleted: tuple[str, ...]

    @classmethod
    def between(cls, loaded_json: str | None, data: dict[str, t.Any]) -> ChangeSet:
        """The changes from the data as loaded to ``data``.

        :param loaded_json: the data as loaded, serialized
            (:meth:`Loaded.text <flask_koasession.loading.Loaded.text>`);
            ``None`` for a new session.
        :param data: the data at the end of the request.
        """
        loaded: dict[str, t.Any] = loads_json(loaded_json) if loaded_json else {}
        changed = {
            key: value
            for key, value in data.items()
            if key not in loaded or _text(value) != _text(loaded[key])
        }
        deleted = tuple(key for key in loaded if key not in data)
        return cls(changed, deleted)

    def apply(self, stored: dict[str, t.Any]) -> dict[str, t.Any]:
        """The data of a stored payload with these changes made to it.

        Keys keep their order in ``stored``; added ones come last. The
        payload's bookkeeping is left out: the save writes its own.
        """
        deleted = self.deleted
        merged = {
            key: value
            for key, value in stored.items()
            if key not in RESERVED_KEYS and key not in deleted
        }
        merged.update(self.changed)
        return merged


def _text(value: t.Any) -> str:
    # The text a value is saved as: equal texts are equal values to a store
    # (and to a Koa app reading it), whatever Python's == says of 1 and 1.0.
    return dumps_json({"": value})
