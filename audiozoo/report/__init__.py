"""`audiozoo report`: comparison tables and a page to listen to, from any set of run directories."""

from __future__ import annotations

from pathlib import Path

from audiozoo.plugins import host
from audiozoo.report.cells import Cell, find_run_dirs, read_cell
from audiozoo.report.chart import ranking_charts
from audiozoo.report.page import write_page
from audiozoo.report.tables import (
    metric_info,
    pivot_table,
    results_table,
    summary_table,
    table_notes,
)
from audiozoo.report.text import write_csv, write_markdown

__all__ = ["build_report"]


def build_report(run_dirs: list[Path], out: Path, pivot: str | None = None) -> dict[str, Path]:
    """Write ``results.csv`` (every figure), ``results.md`` and ``report.html`` (the deciding
    columns, the pivot grid and, per data set, a chart of the pivot: ``pivot-DATA.png``) into
    ``out`` from run directories (or folders of them, such as a bench's); ``pivot`` picks the
    metric of the grid and the charts (default: :func:`default_pivot`). Returns the paths written."""
    cells = [read_cell(path) for path in find_run_dirs(run_dirs)]
    grid = pivot_table(cells, pivot or default_pivot(cells))
    tables = [summary_table(cells, grid and grid.metric), *([grid] if grid else [])]
    out = Path(out)
    written = {"csv": out / "results.csv", "md": out / "results.md", "html": out / "report.html"}
    charts = ranking_charts(cells, grid.metric, out) if grid else {}
    summary = _summary(cells)
    write_csv(written["csv"], results_table(cells))
    notes = table_notes(cells)
    write_markdown(written["md"], tables, summary, notes, charts)
    write_page(written["html"], cells, tables, summary, notes, charts)
    return {**written, **{f"chart:{data}": path for data, path in charts.items()}}


def _summary(cells: list[Cell]) -> str:
    failed = sum(c.failed for c in cells)
    def names(attr: str) -> str:
        return ", ".join(dict.fromkeys(getattr(c.evaluation, attr) for c in cells))

    return (f"{len(cells)} cells ({failed} failed) · data: {names('data')} · models: {names('model')}"
            f" · representations: {names('repr')}")


def default_pivot(cells: list[Cell]) -> str | None:
    """registry.toml's ``[defaults] pivot`` where the cells have it; else their first distance (runs
    evaluated before that metric existed keep the pivot they were made with); else None (the first
    generation metric)."""
    wanted = host().defaults.get("pivot")
    if any(wanted in c.evaluation.metrics for c in cells):
        return wanted
    distances = [name for name, info in metric_info(cells).items() if "distance" in info.roles]
    return distances[0] if distances else None
