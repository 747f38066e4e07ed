"""ChangeSet: what one request changed in its session, one top-level key at
a time, and those changes made to an entry another request left."""

from __future__ import annotations

import datetime
import typing as t

import pytest

from flask_koasession.codec import dumps_json
from flask_koasession.merging import ChangeSet


def between(loaded: dict[str, t.Any] | None, data: dict[str, t.Any]) -> ChangeSet:
    return ChangeSet.between(None if loaded is None else dumps_json(loaded), data)


def test_nothing_changed() -> None:
    data = {"user": "alice", "cart": [1, 2], "prefs": {"theme": "dark"}}
    assert between(data, {**data}) == ChangeSet({}, ())


def test_added_changed_and_deleted_keys() -> None:
    loaded = {"user": "alice", "views": 1, "gone": True, "kept": [1]}
    data = {"user": "alice", "views": 2, "kept": [1], "new": "x"}
    assert between(loaded, data) == ChangeSet({"views": 2, "new": "x"}, ("gone",))


def test_a_nested_mutation_changes_its_top_level_key() -> None:
    loaded = {"cart": {"items": [1], "meta": {"count": 1}}, "user": "alice"}
    data = {"cart": {"items": [1, 2], "meta": {"count": 2}}, "user": "alice"}
    assert between(loaded, data) == ChangeSet({"cart": data["cart"]}, ())


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(1, 1.5, id="number"),
        pytest.param(1, True, id="int-to-bool"),  # equal in Python, not in JSON
        pytest.param([1, 2], (1, 2), id="list-to-tuple"),  # a tagged value now
        pytest.param({"a": 1, "b": 2}, {"b": 2, "a": 1}, id="key-order"),
        pytest.param("é", "e\u0301", id="unicode-form"),
    ],
)
def test_a_value_with_another_text_is_a_change(before: t.Any, after: t.Any) -> None:
    assert between({"v": before}, {"v": after}).changed == {"v": after}


def test_tagged_values_compare_by_their_text() -> None:
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    loaded = {"point": (1, 2), "blob": b"\x00", "when": when}
    assert between(loaded, {**loaded}) == ChangeSet({}, ())
    assert between(loaded, {**loaded, "point": (1, 3)}).changed == {"point": (1, 3)}


def test_a_new_session_changed_every_key() -> None:
    assert between(None, {"a": 1, "b": 2}) == ChangeSet({"a": 1, "b": 2}, ())


def test_apply_onto_another_request_s_entry() -> None:
    changes = ChangeSet({"views": 2, "new": "x"}, ("gone",))
    stored = {
        "gone": True,
        "cart": [1],
        "views": 1,
        "_expire": 1795679564692,
        "_maxAge": 3600000,
        "_tagged": True,
    }
    merged = changes.apply(stored)
    # The entry's order; added keys last; no bookkeeping (the save adds its own).
    assert list(merged.items()) == [("cart", [1]), ("views", 2), ("new", "x")]
    assert "gone" in stored  # the stored payload itself is left alone


def test_apply_deletes_only_what_this_request_deleted() -> None:
    changes = between({"a": 1, "b": 2}, {"b": 2})
    assert changes.apply({"b": 3, "c": 4}) == {"b": 3, "c": 4}
