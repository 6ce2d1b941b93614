"""The tables as files: ``results.csv`` for programs, ``results.md`` for people reading plain text.

CSV keeps every figure at full precision and marks the best in a last column, ``best``, which
lists the columns (``;``-separated) where that row holds the best value: a filter away for a
program, and no marker characters inside the numbers.
"""

from __future__ import annotations

import csv
from pathlib import Path

from audiozoo.atomic import atomic_file
from audiozoo.report.tables import Table, fmt, is_number, number


def write_csv(path: Path, table: Table) -> None:
    with atomic_file(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*(c.key for c in table.columns), "best"])
        for i, row in enumerate(table.rows):
            best = ";".join(c.key for j, c in enumerate(table.columns) if (i, j) in table.best)
            writer.writerow([*("" if v is None else v for v in row.values), best])


def write_markdown(path: Path, tables: list[Table], summary: str, notes: list[str],
                   charts: dict[str, Path] | None = None) -> None:
    """The tables, then each data set's chart of the pivot (a PNG beside the file)."""
    parts = ["# audiozoo report", summary]
    parts += [f"## {table.title}\n\n{markdown_table(table)}" for table in tables]
    parts += [f"![{data}]({chart.relative_to(path.parent).as_posix()})" for data, chart in (charts or {}).items()]
    parts += ["\n".join(f"- {note}" for note in notes)]
    with atomic_file(path) as tmp:
        tmp.write_text("\n\n".join(parts) + "\n")


def markdown_table(table: Table) -> str:
    """A pipe table: numbers right-aligned, the best in bold, reference rows in italics."""
    numeric = [any(is_number(number(r.values[j])) for r in table.rows) for j in range(len(table.columns))]
    lines = ["| " + " | ".join(_cell(c.title) for c in table.columns) + " |",
             "|" + "".join(" ---: |" if n else " --- |" for n in numeric)]
    for i, row in enumerate(table.rows):
        cells = []
        for j, value in enumerate(row.values):
            text = _cell(fmt(value))
            if text and (i, j) in table.best:
                text = f"**{text}**"
            elif text and row.kind == "reference":
                text = f"*{text}*"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """One line, with the characters that would end the cell or start inline HTML escaped."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "\\<")
