"""The ``koa-session-options`` directive: the options table, made from
:data:`flask_koasession.options.OPTIONS`, so that the documentation lists
every option as it is declared (name, koa name, default, meaning).

Usage, in a reST file::

    .. koa-session-options::
"""

from __future__ import annotations

import typing as t

from flask_koasession.options import OPTIONS, OptionInfo

if t.TYPE_CHECKING:
    from sphinx.application import Sphinx

DIRECTIVE = "koa-session-options"


def shown_default(info: OptionInfo) -> str:
    """The default of an option as the table shows it."""
    if info.shown_default is not None:
        return info.shown_default
    value = info.default
    if isinstance(value, str):
        return f'``"{value}"``'
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
        return f"``{value:_}``"
    return f"``{value!r}``"


def table_lines() -> list[str]:
    """The options table as the lines of a reST ``list-table``."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 16 14 16 54",
        "",
        "   * - Python name",
        "     - koa name",
        "     - default",
        "     - meaning",
    ]
    for info in OPTIONS:
        koa = "(none)" if info.koa is None else f"``{info.koa}``"
        lines += [
            f"   * - ``{info.name}``",
            f"     - {koa}",
            f"     - {shown_default(info)}",
            f"     - {info.doc}",
        ]
    return lines


def setup(app: Sphinx) -> dict[str, t.Any]:
    # Imported here: the tests read table_lines() without Sphinx installed.
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class OptionsTable(SphinxDirective):
        """Insert the options table."""

        def run(self) -> list[nodes.Node]:
            holder = nodes.Element()
            lines = StringList(table_lines(), source="flask_koasession.options")
            self.state.nested_parse(lines, self.content_offset, holder)
            return list(holder.children)

    app.add_directive(DIRECTIVE, OptionsTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
