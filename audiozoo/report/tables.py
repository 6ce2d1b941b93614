"""The comparison tables, independent of format: every cell's figures, the best per column, the
real-vs-real references, and one metric pivoted into a model × representation grid.

The CSV, Markdown and HTML writers all render these same :class:`Table` objects, so the three
never disagree on what is best.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from audiozoo.errors import unknown
from audiozoo.report.cells import Cell

Better = Literal["higher", "lower"] | None
REFERENCE = "reference (real vs real)"
"""Label of the row holding each generation metric between two disjoint real splits."""


@dataclass(frozen=True)
class Column:
    """A column: ``key`` names it in CSV; ``better`` says which way is best (None: not ranked)."""

    key: str
    better: Better = None
    unit: str = ""
    metric: str | None = None
    """The metric whose real-vs-real reference belongs in this column, if any."""
    label: str | None = None
    """The header people read, when ``key`` reads poorly."""

    @property
    def title(self) -> str:
        """The header people read: label, unit, and an arrow for the direction of better."""
        arrow = {"higher": " ↑", "lower": " ↓", None: ""}[self.better]
        return f"{self.label or self.key}{f' ({self.unit})' if self.unit else ''}{arrow}"


@dataclass
class Row:
    """One line of a table: ``kind`` is "cell", "failed" or "reference"; the best of a column is
    judged within one ``group`` (the data set: figures on different music do not compare)."""

    values: list[Any]
    kind: str
    group: str


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[Row]
    best: set[tuple[int, int]] = field(init=False)
    """(row, column) positions holding the best value of their column among working cells of their data set."""

    def __post_init__(self) -> None:
        self.best = _best(self.columns, self.rows)


def metric_info(cells: list[Cell]) -> dict[str, dict[str, Any]]:
    """Every metric seen, generation metrics first, each with its task/direction/unit (first seen wins)."""
    info: dict[str, dict[str, Any]] = {}
    for cell in cells:
        for name in (*cell.metric_info, *cell.metrics, *cell.reference, *cell.ceiling):
            info[name] = {**cell.metric_info.get(name, {}), **info.get(name, {})}
    order = {"generation": 0, "reconstruction": 1}
    return dict(sorted(info.items(), key=lambda item: order.get(item[1].get("task", ""), 2)))


def references(cells: list[Cell]) -> dict[str, dict[str, float]]:
    """Per data set, each generation metric between two real splits (first seen wins: they match within a bench)."""
    out: dict[str, dict[str, float]] = {}
    for cell in cells:
        for name, value in cell.reference.items():
            out.setdefault(cell.data, {}).setdefault(name, value)
    return out


def results_table(cells: list[Cell]) -> Table:
    """One row per cell, then one reference row per data set. Metrics come first, as what a
    reader compares first; then costs; final losses last and not ranked, since each model family
    minimises its own objective."""
    plain: list[tuple[Column, Callable[[Cell], Any]]] = [
        (Column("run"), lambda c: c.name), (Column("model"), lambda c: c.model), (Column("repr"), lambda c: c.repr),
        (Column("data"), lambda c: c.data), (Column("status"), lambda c: c.status),
    ]
    for name, info in metric_info(cells).items():
        unit = info.get("unit", "")
        plain.append((Column(name, _direction(info), unit, metric=name), lambda c, n=name: c.metrics.get(n)))
        if any(name in c.ceiling for c in cells):
            ceiling = Column(f"{name}.ceiling", unit=unit, label=f"{name} ceiling")
            plain.append((ceiling, lambda c, n=name: c.ceiling.get(n)))
    plain += [
        (Column("generation_x_realtime", "higher", label="generation × real time"), lambda c: c.generation_x_realtime),
        (Column("parameters", "lower"), lambda c: c.parameters),
        (Column("train_seconds", "lower", "s", label="train time"), lambda c: c.train_seconds),
        (Column("examples_per_second", "higher", label="examples/s"), lambda c: c.examples_per_second),
        (Column("peak_memory_mb", "lower", "MB", label="peak memory"), lambda c: c.peak_memory_mb),
    ]
    for loss in dict.fromkeys(k for c in cells for k in c.losses):
        plain.append((Column(f"final_{loss}", label=f"final {loss}"), lambda c, k=loss: c.losses.get(k)))
    plain.append((Column("error"), lambda c: c.error))
    columns = [col for col, _ in plain]
    rows = [Row([get(c) for _, get in plain], "failed" if c.failed else "cell", c.data) for c in cells]
    for data, ref in references(cells).items():
        labels = {"run": REFERENCE, "data": data}
        rows.append(Row([labels.get(col.key, ref.get(col.metric)) for col in columns], "reference", data))
    return Table("results", columns, rows)


def pivot_table(cells: list[Cell], metric: str | None = None) -> Table | None:
    """``metric`` (default: the first generation metric) as a model × representation grid, one row
    per model and data set (a failed cell reads "failed"; a later cell of the same model,
    representation and data replaces an earlier one). Below: the reference (generation metrics) or
    each representation's ceiling (reconstruction metrics). None when no cell has any metric."""
    info = metric_info(cells)
    if metric is None:
        if not info:
            return None
        metric = next(iter(info))
    elif metric not in info:
        raise unknown("metric", metric, info)
    better, unit = _direction(info[metric]), info[metric].get("unit", "")
    reprs = list(dict.fromkeys(c.repr for c in cells))
    grid: dict[tuple[str, str], dict[str, Any]] = {}
    ceilings: dict[str, dict[str, Any]] = {}
    for cell in cells:
        value = cell.status if cell.failed else cell.metrics.get(metric)
        grid.setdefault((cell.model, cell.data), {})[cell.repr] = value
        if metric in cell.ceiling:
            ceilings.setdefault(cell.data, {}).setdefault(cell.repr, cell.ceiling[metric])
    columns = [Column("model"), Column("data"), *[Column(r, better, unit) for r in reprs]]
    rows = [Row([model, data, *(values.get(r) for r in reprs)], "cell", data) for (model, data), values in grid.items()]
    for data, ref in references(cells).items():
        if metric in ref:
            rows.append(Row([REFERENCE, data, *[ref[metric]] * len(reprs)], "reference", data))
    for data, by_repr in ceilings.items():
        rows.append(Row(["ceiling (representation round trip)", data, *(by_repr.get(r) for r in reprs)],
                        "reference", data))
    return Table(f"{metric}: model × representation", columns, rows)


def _direction(info: dict[str, Any]) -> Better:
    return None if "higher_is_better" not in info else "higher" if info["higher_is_better"] else "lower"


def _best(columns: list[Column], rows: list[Row]) -> set[tuple[int, int]]:
    """Best value per ranked column within each data set, over working cells holding a number;
    ties are all best, and a column with fewer than two numbers has no best."""
    best = set()
    for j, col in enumerate(columns):
        if col.better is None:
            continue
        for group in {r.group for r in rows}:
            found = [(i, r.values[j]) for i, r in enumerate(rows)
                     if r.kind == "cell" and r.group == group and is_number(r.values[j])]
            if len(found) < 2:
                continue
            top = (max if col.better == "higher" else min)(v for _, v in found)
            best.update((i, j) for i, v in found if v == top)
    return best


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any) -> str:
    """A figure for people: 3 significant digits, counts as 123k / 1.23M, blank for missing."""
    if value is None:
        return ""
    if not is_number(value):
        return str(value)
    if isinstance(value, int):
        for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= size:
                return f"{value / size:.3g}{suffix}"
        return str(value)
    if value == 0:
        return "0"
    if not 1e-3 <= abs(value) < 1e5:
        return f"{value:.3g}"
    return f"{value:.{max(0, 2 - math.floor(math.log10(abs(value))))}f}"


NOTES = (
    "Bold: the best value of its column among the working cells of the same data set "
    "(↑ higher is better, ↓ lower is better); final losses are not ranked, each model family minimises its own.",
    f"{REFERENCE}: each generation metric between two disjoint splits of real music, "
    "the value a perfect generator would reach.",
    "ceiling: the representation's own round trip (encode → decode, no model) on the same test clips, "
    "the best any model on that representation can reconstruct.",
)
"""How to read the tables, printed under them in every format."""
