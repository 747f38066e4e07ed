"""KoaSessionOptions: in step with the options table, and checked by mypy."""

from __future__ import annotations

import re
import textwrap
import typing as t
from pathlib import Path

import pytest

import flask_koasession
from flask_koasession import KoaSessionOptions
from flask_koasession.options import OPTIONS


def test_every_option_under_each_of_its_names() -> None:
    names = {info.name for info in OPTIONS}
    koa_names = {info.koa for info in OPTIONS if info.koa is not None}
    assert set(KoaSessionOptions.__annotations__) == names | koa_names
    # Any option may be left out.
    assert KoaSessionOptions.__required_keys__ == frozenset()


def test_both_names_of_an_option_take_the_same_values() -> None:
    hints = t.get_type_hints(KoaSessionOptions)
    for info in OPTIONS:
        if info.koa is not None:
            assert hints[info.koa] == hints[info.name], info.name


def test_exported() -> None:
    assert "KoaSessionOptions" in flask_koasession.__all__


# Lines marked "# error" must be flagged, every other line must pass. A dict
# literal unpacked in the call, KoaSession(app, **{"maxAge": 1}), is not here:
# mypy (2.4) infers it as dict[str, int] with no TypedDict context, and refuses
# it; pyright accepts it. Annotated, or made with KoaSessionOptions(...), it passes.
SNIPPET = """\
import datetime
import typing as t

from flask import Flask, Request

from flask_koasession import KoaSession, KoaSessionOptions, pop_flash
from flask_koasession.stores import MemoryStore

app = Flask(__name__)
KoaSession(app, rolling="yes")  # error
KoaSession(app, maxage=1)  # error
KoaSession(app, max_age=3600, rolling=True)
KoaSession(app, **KoaSessionOptions(maxAge=86_400_000))
CONFIG: KoaSessionOptions = {"key": "koa.sess", "maxAge": 86_400_000}
KoaSession(app, **CONFIG)
KoaSession(app, store="memory")
KoaSession(app, store=MemoryStore(), ContextStore=None, externalKey=None)
KoaSession(app, store=MemoryStore)  # error
KoaSession(app, max_age=datetime.timedelta(hours=1))
KoaSession(app, maxAge="session", sameSite="lax", same_site=True)
KoaSession(app, max_age="forever")  # error
KoaSession(app, keys=["new", b"old"], secure=None, domain=None)
KoaSession(app, keys=[1])  # error


def bind(request: Request, data: dict[str, t.Any]) -> bool:
    return data.get("agent") == request.user_agent.string


koa = KoaSession(valid=bind, genid=lambda request: "id")
koa.init_app(app, httpOnly=False)
koa.init_app(app, before_save=lambda request, session: session.clear())
koa.init_app(app, valid=lambda request: True)  # error
t.assert_type(pop_flash(), t.Any | None)
t.assert_type(pop_flash(default="none"), t.Any | str)
"""


def test_mypy_checks_the_options(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(SNIPPET)
    config = tmp_path / "mypy.ini"
    # mypy_path: the package under test, not a copy installed elsewhere.
    root = Path(flask_koasession.__file__).parent.parent
    config.write_text(
        textwrap.dedent(f"""\
            [mypy]
            strict = True
            python_version = 3.11
            mypy_path = {root}
            cache_dir = {tmp_path / ".mypy_cache"}
            """)
    )
    stdout, stderr, _ = api.run(["--config-file", str(config), str(snippet)])
    assert not stderr
    error = rf"^{re.escape(str(snippet))}:(\d+): error:"
    flagged = {int(line) for line in re.findall(error, stdout, re.M)}
    expected = {
        number
        for number, line in enumerate(SNIPPET.splitlines(), 1)
        if line.endswith("# error")
    }
    assert flagged == expected, stdout
    assert 'Argument "rolling" to "KoaSession" has incompatible type' in stdout
    assert 'Unexpected keyword argument "maxage"' in stdout
