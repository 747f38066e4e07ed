"""Robust figures from noisy rounds, and tables that are also reStructuredText.

The tables are reST "simple tables", readable in a terminal and pasted as
they are into ``docs/performance.rst``.
"""

from __future__ import annotations

import statistics
import typing as t


def median(values: t.Sequence[float]) -> float:
    return statistics.median(values)


def trimmed_mean(values: t.Sequence[float], trim: float) -> float:
    """The mean of the fastest ``1 - trim`` of ``values`` (at least one)."""
    kept = sorted(values)[: max(1, round(len(values) * (1 - trim)))]
    return sum(kept) / len(kept)


def spread(values: t.Sequence[float]) -> float:
    """Half the interquartile range: how much the rounds disagree."""
    if len(values) < 4:
        return (max(values) - min(values)) / 2
    first, _, third = statistics.quantiles(values, n=4, method="inclusive")
    return (third - first) / 2


def micro(seconds: float) -> str:
    """Microseconds, with one decimal below 100."""
    value = seconds * 1e6
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def ratio(value: float, anchor: float) -> str:
    if anchor <= 0:
        return "n/a"
    return f"{value / anchor:.2f}"


def table(headers: t.Sequence[str], rows: t.Iterable[t.Sequence[str]]) -> str:
    """A reST simple table; the first column left-aligned, the others right."""
    body = [list(row) for row in rows]
    widths = [
        max(len(headers[index]), *(len(row[index]) for row in body))
        for index in range(len(headers))
    ]
    rule = "  ".join("=" * width for width in widths)

    def line(cells: t.Sequence[str]) -> str:
        first, *others = cells
        parts = [first.ljust(widths[0])]
        parts += [
            cell.rjust(width) for cell, width in zip(others, widths[1:], strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([rule, line(headers), rule, *map(line, body), rule])
