"""The report: every section as a markdown table (printed and written) and as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.harness import Section


def cell(value: Any) -> str:
    """A table cell: 3 significant figures for numbers (no exponent for ordinary sizes), yes/NO for bars."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    if isinstance(value, float):
        if value != 0 and not 1e-3 <= abs(value) < 1e6:
            return f"{value:.2g}"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def markdown(section: Section) -> str:
    lines = [f"### {section.title}", "", "| " + " | ".join(section.columns) + " |",
             "|" + " --- |" * len(section.columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in section.columns) + " |" for row in section.rows]
    lines += ["", *section.notes] if section.notes else []
    return "\n".join(lines)


def document(command: str, machine: dict[str, Any], sections: list[Section]) -> str:
    bars = [met for s in sections for met in s.bars]
    head = [f"Command: `{command}`", "", "Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()), "",
            f"Bars met: {sum(bars)} of {len(bars)}"]
    return "\n\n".join(["\n".join(head), *map(markdown, sections)]) + "\n"


def write(folder: Path, command: str, machine: dict[str, Any], sections: list[Section]) -> tuple[Path, Path]:
    """``results.md`` and ``results.json`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    text, data = folder / "results.md", folder / "results.json"
    text.write_text(document(command, machine, sections))
    data.write_text(json.dumps({"command": command, "machine": machine, "sections": [
        {"title": s.title, "columns": s.columns, "rows": s.rows, "notes": s.notes} for s in sections]}, indent=1))
    return text, data
