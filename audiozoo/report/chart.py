"""The pivot as a picture, one chart per data set: every cell among real music, the ladder rungs and
the noise sentinels, each with its interval — where people would rather look than read."""

from __future__ import annotations

import math
import re
from pathlib import Path

from audiozoo.plots import save_ranking
from audiozoo.report.cells import Cell
from audiozoo.report.tables import metric_info, references

SHOWN_KINDS = ("real", "ladder", "noise", "ceiling")
"""Reference rows a chart places the cells among (degraded and copies rows stay in the tables)."""


def ranking_charts(cells: list[Cell], metric: str, out: Path) -> dict[str, Path]:
    """``out/pivot-DATA.png`` per data set with a figure of ``metric``; the paths, by data set."""
    info = metric_info(cells).get(metric)
    if info is None or info.task != "generation":
        return {}
    charts = {}
    for data, rows in references(cells).items():
        entries = [(c.name, "cell", *_ends(c.evaluation.figure(metric)))
                   for c in cells if c.evaluation.data == data and not c.failed]
        if not any(math.isfinite(e[2]) for e in entries):
            continue
        entries += [(r.label, r.kind, *_ends(r.figure(metric))) for r in rows if r.kind in SHOWN_KINDS]
        path = out / f"pivot-{re.sub(r'[^A-Za-z0-9_.-]+', '_', data)}.png"
        arrow = "higher is better" if info.higher_is_better else "lower is better"
        save_ranking(path, f"{metric} on {data} ({arrow}; bars: 90 % bootstrap intervals)", entries,
                     info.higher_is_better)
        charts[data] = path
    return charts


def _ends(figure) -> tuple[float, float, float]:
    return figure.value, figure.low, figure.high
