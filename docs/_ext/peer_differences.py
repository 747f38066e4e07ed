"""The ``peer-differences`` directive: the peers' tests that fail with this
extension, grouped by reason, read from ``tests/peers/expected_failures.toml``.

That file is the list ``scripts/test-peers`` checks the outcomes against, so
the docs and the check cannot disagree.
"""

from __future__ import annotations

import tomllib
import typing as t
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

if t.TYPE_CHECKING:
    from sphinx.application import Sphinx

LIST = Path(__file__).resolve().parents[2] / "tests/peers/expected_failures.toml"
TITLES = {"flask": "Flask", "flask-login": "Flask-Login", "flask-wtf": "Flask-WTF"}


class PeerDifferences(SphinxDirective):
    """One bullet per reason, with the tests it covers under it."""

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(LIST))
        by_reason: dict[str, list[str]] = {}
        for suite, tests in tomllib.loads(LIST.read_text()).items():
            for test, reason in tests.items():
                by_reason.setdefault(reason, []).append(f"{TITLES[suite]} ``{test}``")
        lines = ["None: every test that passes on Flask's session passes."]
        if by_reason:
            lines = []
            for reason, tests in by_reason.items():
                lines += [f"- {reason}", ""]
                lines += [f"  - {test}" for test in tests] + [""]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, str(LIST)), 0, container)
        return list(container.children)


def setup(app: Sphinx) -> dict[str, t.Any]:
    app.add_directive("peer-differences", PeerDifferences)
    return {"parallel_read_safe": True}
