"""The save decision, a pure function, as a table.

The rows mirror koa-session's ``commit()`` and ``_shouldSaveSession()``
(``src/context.ts``): a forced save first (``save()``, ``regenerate()``, a
new max age: koa's ``_requireSave``), then nothing for a new session that
holds nothing, then ``"changed"``, then ``"rolling"``, then ``"renew"`` once
less than half of the max age is left. Two rows are this extension's own:
Flask's ``session.modified`` forces a save, and so does a cookie signed with
an older key (to sign it again with the current one).
"""

from __future__ import annotations

import json
import typing as t

import pytest

from flask_koasession.decide import Loaded, Reason, Requested, decide, detect_change
from flask_koasession.options import Options

NOW = 1_700_000_000_000
HOUR = 3_600_000
DATA = '{"views":1}'

#: A session that came with the request, saved a minute ago for an hour.
SAVED = Loaded(is_new=False, max_age=HOUR, data_json=DATA, expire=NOW + HOUR - 60_000)
#: No session came with the request.
NEW = Loaded(is_new=True, max_age=HOUR)


def requested(**asked: t.Any) -> Requested:
    result = Requested()
    for name, value in asked.items():
        setattr(result, name, value)
    return result


# (case, loaded, what the view asked, data at the end, options, expected)
CASES: list[tuple[str, Loaded, Requested, str, dict[str, t.Any], Reason]] = [
    # koa: "do nothing if new and not populated"
    ("new-empty", NEW, requested(), "{}", {}, None),
    ("new-populated", NEW, requested(), DATA, {}, "changed"),
    # koa: "save if session changed"
    ("saved-unchanged", SAVED, requested(), DATA, {}, None),
    ("saved-changed", SAVED, requested(), '{"views":2}', {}, "changed"),
    ("saved-emptied", SAVED, requested(), "{}", {}, "changed"),
    ("saved-key-added", SAVED, requested(), '{"views":1,"a":1}', {}, "changed"),
    # koa: "save if opts.rolling set"
    ("rolling-unchanged", SAVED, requested(), DATA, {"rolling": True}, "rolling"),
    ("rolling-changed", SAVED, requested(), "{}", {"rolling": True}, "changed"),
    ("rolling-new-empty", NEW, requested(), "{}", {"rolling": True}, None),
    # koa: "save if opts.renew and session will expire" (in maxAge / 2)
    (
        "renew-second-half",
        SAVED._replace(expire=NOW + HOUR // 2 - 1),
        requested(),
        DATA,
        {"renew": True},
        "renew",
    ),
    (
        "renew-exactly-half",
        SAVED._replace(expire=NOW + HOUR // 2),
        requested(),
        DATA,
        {"renew": True},
        None,
    ),
    ("renew-first-half", SAVED, requested(), DATA, {"renew": True}, None),
    (
        "renew-browser-session",
        SAVED._replace(max_age="session", expire=None),
        requested(),
        DATA,
        {"renew": True},
        None,
    ),
    ("renew-new-empty", NEW, requested(), "{}", {"renew": True}, None),
    (
        "rolling-before-renew",
        SAVED._replace(expire=NOW + 1),
        requested(),
        DATA,
        {"rolling": True, "renew": True},
        "rolling",
    ),
    # koa's commit(): save || regenerate || _requireSave -> "force", first
    ("save-new-empty", NEW, requested(save=True), "{}", {}, "force"),
    ("save-unchanged", SAVED, requested(save=True), DATA, {}, "force"),
    ("save-changed", SAVED, requested(save=True), "{}", {}, "force"),
    ("regenerate", SAVED, requested(regenerate=True), DATA, {}, "force"),
    ("regenerate-new-empty", NEW, requested(regenerate=True), "{}", {}, "force"),
    # session.max_age = ... sets koa's _requireSave: the session sets save.
    (
        "new-max-age",
        SAVED,
        requested(save=True, max_age="session"),
        DATA,
        {},
        "force",
    ),
    # This extension's own: Flask's modified flag, and re-signing.
    ("modified", SAVED, requested(modified=True), DATA, {}, "force"),
    ("modified-new-empty", NEW, requested(modified=True), "{}", {}, "force"),
    (
        "rotated-key",
        SAVED._replace(signature="rotated"),
        requested(),
        DATA,
        {},
        "force",
    ),
    (
        "rotated-key-new",
        NEW._replace(signature="rotated"),
        requested(),
        "{}",
        {},
        None,
    ),
    ("bad-signature-new", NEW._replace(signature="bad"), requested(), "{}", {}, None),
    # What the view asked, but not a save: no reason by itself.
    ("manual-commit", SAVED, requested(manual_commit=True), DATA, {}, None),
    # destroy() restarts the record: a new session, saved only with data.
    ("destroyed-empty", SAVED.restarted(None), requested(destroy=True), "{}", {}, None),
    (
        "destroyed-rewritten",
        SAVED.restarted(None),
        requested(destroy=True),
        DATA,
        {"rolling": True},
        "changed",
    ),
]


@pytest.mark.parametrize(
    ("loaded", "asked", "data_json", "options", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_save_decision(
    loaded: Loaded,
    asked: Requested,
    data_json: str,
    options: dict[str, t.Any],
    expected: Reason,
) -> None:
    change = detect_change(loaded, json.loads(data_json), trusted=True)
    assert decide(loaded, asked, change, Options(**options), NOW) == expected


def test_the_decision_depends_on_nothing_else() -> None:
    # Pure: the same arguments give the same reason, and nothing is changed.
    asked = requested(save=False)
    before = (SAVED, vars(asked).copy())
    change = detect_change(SAVED, json.loads(DATA), trusted=True)
    reasons = {decide(SAVED, asked, change, Options(rolling=True), NOW) for _ in "ab"}
    assert reasons == {"rolling"}
    assert (SAVED, vars(asked)) == before
