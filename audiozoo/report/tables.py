"""The comparison tables, independent of format: every cell's figures, the best per column, the
real-vs-real references, and one metric pivoted into a model × representation grid.

The CSV, Markdown and HTML writers all render these same :class:`Table` objects, so the three
never disagree on what is best. A set figure with a bootstrap interval is a
:class:`~audiozoo.intervals.Figure` in a table (printed ``value ± half-width``, ranked by its
value); the full table (results.csv) spells its interval out in ``NAME.low`` / ``NAME.high``
columns, the summary (results.md, report.html) leads with the columns a reader decides by.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from audiozoo.errors import unknown
from audiozoo.intervals import Figure, clears
from audiozoo.ladders import RUNGS
from audiozoo.report.cells import Cell
from audiozoo.runs.evaluation import ROW_KINDS, Evaluation, MetricInfo
from audiozoo.runs.evaluation import Row as Reference
from audiozoo.sentinels import REAL

Better = Literal["higher", "lower"] | None
REFERENCE = REAL
"""Label of the row holding each generation metric between two disjoint real splits."""

NOISE_LIKE, COPIES, BEATS_NOISE = "noise-like", "copies", "beats noise"
"""A cell's verdict: it does not beat every noise sentinel on every structure metric; it beats
them but copies its training clips; it beats them and is no copy. Beyond that, ``beats severe``,
``beats medium``, ``beats mild``: it also beats every ladder rung of that strength (and every
stronger one) on every fidelity metric. Every "beats" is beyond both intervals (:func:`clears`)."""

COPY_LIMIT = 10.0
"""Share (%) of near-copies from which a cell is labelled a copier rather than a generator."""


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
    end: str | None = None
    """``low`` / ``high``: the column holds that end of ``metric``'s interval."""

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
    metric: str | None = None
    """The metric a pivot grid shows."""
    best: set[tuple[int, int]] = field(init=False)
    """(row, column) positions holding the best value of their column among working cells of their data set."""

    def __post_init__(self) -> None:
        self.best = _best(self.columns, self.rows)


def metric_info(cells: list[Cell]) -> dict[str, MetricInfo]:
    """Every metric seen, generation metrics first, each with its task/direction/unit/roles (first seen wins)."""
    info: dict[str, MetricInfo] = {}
    for cell in cells:
        ev = cell.evaluation
        for name in (*ev.metric_info, *ev.metrics, *ev.ceiling, *(m for row in ev.rows for m in row.figures)):
            if name not in info or (not info[name].task and name in ev.metric_info):
                info[name] = ev.metric_info.get(name, info.get(name, UNKNOWN))
    order = {"generation": 0, "reconstruction": 1}
    return dict(sorted(info.items(), key=lambda item: order.get(item[1].task, 2)))


UNKNOWN = MetricInfo(task="", higher_is_better=False)
"""What the tables know of a metric whose cells did not describe it (figures from an older file)."""


def references(cells: list[Cell]) -> dict[str, list[Reference]]:
    """Per data set, the rows every cell is read against — real held-out music, then each sentinel
    and each representation's ceiling — merged over the cells by ``(kind, label)`` (first seen wins:
    they match within a bench), in the order :data:`ROW_KINDS` gives the kinds."""
    out: dict[str, dict[tuple[str, str], Reference]] = {}
    for cell in cells:
        merged = out.setdefault(cell.evaluation.data, {})
        for row in cell.evaluation.rows:
            have = merged.get(row.key)
            figures = {**row.figures, **(have.figures if have else {})}
            merged[row.key] = replace(have or row, figures=figures)
    rank = {kind: i for i, kind in enumerate(ROW_KINDS)}
    return {data: sorted(rows.values(), key=lambda r: rank.get(r.kind, len(rank))) for data, rows in out.items()}


def beats(name: str) -> str:
    """The verdict of a cell that beats every rung of strength ``name`` (and the stronger ones)."""
    return f"beats {name}"


def verdict(cell: Cell, rows: list[Reference], info: dict[str, MetricInfo]) -> str | None:
    """``noise-like`` unless the cell beats every noise sentinel on every structure metric it has,
    beyond the intervals; then ``copies`` if a memorisation figure reaches :data:`COPY_LIMIT`; else
    the strongest rung strength whose every ladder rung it beats on every fidelity metric
    (``beats severe``, then ``medium``, then ``mild``), or ``beats noise``. None for a failed cell
    or one without structure figures."""
    ev = cell.evaluation
    def beaten(metrics: list[str], kind: str, rung: str | None = None) -> bool:
        return all(clears(ev.figure(m), row.figure(m), info[m].higher_is_better)
                   for m in metrics for row in rows
                   if row.kind == kind and row.rung == rung and is_number(row.figures.get(m)))

    structure = [m for m, i in info.items() if "structure" in i.roles and is_number(ev.metrics.get(m))]
    if cell.failed or not structure:
        return None
    if not beaten(structure, "noise"):
        return NOISE_LIKE
    copying = [ev.metrics[m] for m, i in info.items() if "memorisation" in i.roles and is_number(ev.metrics.get(m))]
    if any(v >= COPY_LIMIT for v in copying):
        return COPIES
    fidelity = [m for m, i in info.items() if "fidelity" in i.roles and is_number(ev.metrics.get(m))]
    found = BEATS_NOISE
    for rung in reversed(RUNGS):
        if not fidelity or not any(r.kind == "ladder" and r.rung == rung for r in rows) \
                or not beaten(fidelity, "ladder", rung):
            break
        found = beats(rung)
    return found


def results_table(cells: list[Cell]) -> Table:
    """Every figure: one row per cell, then one reference row per data set (results.csv). Metrics
    come first, each set figure followed by its interval's ends; then costs; final losses last and
    not ranked, since each model family minimises its own objective."""
    info_all, calibration = metric_info(cells), references(cells)
    intervals = {m for c in cells for m in (*c.evaluation.intervals, *(m for r in c.evaluation.rows for m in r.intervals))}
    plain: list[tuple[Column, Callable[[Evaluation], Any]]] = [
        (Column("model"), lambda e: e.model), (Column("repr"), lambda e: e.repr),
        (Column("data"), lambda e: e.data), (Column("status"), lambda e: e.status),
    ]
    for name, info in info_all.items():
        plain.append((Column(name, _direction(info), info.unit, metric=name), lambda e, n=name: e.metrics.get(n)))
        if name in intervals:
            plain += [(Column(f"{name}.{end}", unit=info.unit, metric=name, end=end),
                       lambda e, n=name, end=end: _end(e.figure(n), end)) for end in ("low", "high")]
        if any(name in c.evaluation.ceiling for c in cells):
            ceiling = Column(f"{name}.ceiling", unit=info.unit, label=f"{name} ceiling")
            plain.append((ceiling, lambda e, n=name: e.ceiling.get(n)))
    plain += COSTS
    for loss in dict.fromkeys(k for c in cells for k in c.evaluation.losses):
        plain.append((Column(f"final_{loss}", label=f"final {loss}"), lambda e, k=loss: e.losses.get(k)))
    plain.append((Column("error"), _error))
    return _with_references("results", cells, plain, info_all, calibration,
                            lambda ref, col: _end(ref.figure(col.metric), col.end) if col.end else
                            ref.figures.get(col.metric))


def summary_table(cells: list[Cell], pivot: str | None = None) -> Table:
    """The columns a reader decides by (results.md, report.html): the verdict, the pivot first and
    then every other distance with its interval (± half-width), copies, and what a cell costs."""
    info_all, calibration = metric_info(cells), references(cells)
    deciding = [m for m, i in info_all.items() if i.roles and i.task == "generation"]
    if pivot in deciding:
        deciding.remove(pivot)
        deciding.insert(0, pivot)
    plain: list[tuple[Column, Callable[[Evaluation], Any]]] = [
        (Column("model"), lambda e: e.model), (Column("repr"), lambda e: e.repr), (Column("data"), lambda e: e.data),
        (Column("status"), lambda e: e.status),
        *((Column(m, _direction(info_all[m]), info_all[m].unit, metric=m), lambda e, m=m: _figure_of(e.metrics, e.figure(m), m))
          for m in deciding),
        *(cost for cost in COSTS if cost[0].key in SUMMARY_COSTS),
        (Column("error"), _error),
    ]
    return _with_references("summary (every figure: results.csv)", cells, plain, info_all, calibration,
                            lambda ref, col: _figure_of(ref.figures, ref.figure(col.metric), col.metric))


COSTS: list[tuple[Column, Callable[[Evaluation], Any]]] = [
    (Column("generation_x_realtime", "higher", label="generation × real time"), lambda e: e.generation_x_realtime),
    (Column("parameters", "lower"), lambda e: e.parameters),
    (Column("train_seconds", "lower", "s", label="train time"), lambda e: e.train_seconds),
    (Column("examples_per_second", "higher", label="examples/s"), lambda e: e.examples_per_second),
    (Column("peak_memory_mb", "lower", "MB", label="peak memory"), lambda e: e.peak_memory_mb),
]
"""What a cell costs; :data:`SUMMARY_COSTS` of them in the summary."""
SUMMARY_COSTS = ("generation_x_realtime", "train_seconds")


def _with_references(title: str, cells: list[Cell], plain: list[tuple[Column, Callable[[Evaluation], Any]]],
                     info: dict[str, MetricInfo], calibration: dict[str, list[Reference]],
                     reference_value: Callable[[Reference, Column], Any]) -> Table:
    """A table of ``plain``'s columns, the run's name first and the verdict after the four names:
    a row per cell, then the reference rows of each data set (``reference_value`` of each metric column)."""
    columns = [Column("run"), *[col for col, _ in plain[:4]], Column("verdict"), *[col for col, _ in plain[4:]]]
    rows = []
    for c in cells:
        values = [get(c.evaluation) for _, get in plain]
        rows.append(Row([c.name, *values[:4], verdict(c, calibration.get(c.evaluation.data, []), info),
                         *values[4:]], "failed" if c.failed else "cell", c.evaluation.data))
    for data, references_of_data in calibration.items():
        for ref in references_of_data:
            labels = {"run": ref.label, "data": data}
            rows.append(Row([labels.get(col.key, reference_value(ref, col) if col.metric else None)
                             for col in columns], "reference", data))
    return Table(title, columns, rows)


def _error(ev: Evaluation) -> str | None:
    return "; ".join(filter(None, (ev.error, *ev.notes))) or None


def _end(figure: Figure, end: str) -> float | None:
    return getattr(figure, end) if figure.has_interval else None


def _figure_of(values: dict[str, float], figure: Figure, metric: str) -> Figure | float | None:
    """What a summary cell holds: the figure with its interval, its bare value, or nothing (not measured)."""
    if metric not in values:
        return None
    return figure if figure.has_interval else values[metric]


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
    better, unit = _direction(info[metric]), info[metric].unit
    reprs = list(dict.fromkeys(c.evaluation.repr for c in cells))
    grid: dict[tuple[str, str], dict[str, Any]] = {}
    ceilings: dict[str, dict[str, Any]] = {}
    for cell in cells:
        ev = cell.evaluation
        grid.setdefault((ev.model, ev.data), {})[ev.repr] = (
            ev.status if cell.failed else _figure_of(ev.metrics, ev.figure(metric), metric))
        if metric in ev.ceiling:
            ceilings.setdefault(ev.data, {}).setdefault(ev.repr, ev.ceiling[metric])
    columns = [Column("model"), Column("data"), *[Column(r, better, unit) for r in reprs]]
    rows = [Row([model, data, *(values.get(r) for r in reprs)], "cell", data) for (model, data), values in grid.items()]
    for data, references_of_data in references(cells).items():
        for ref in references_of_data:
            if metric in ref.figures and ref.kind != "ceiling":
                value = _figure_of(ref.figures, ref.figure(metric), metric)
                rows.append(Row([ref.label, data, *[value] * len(reprs)], "reference", data))
        by_repr = {ref.repr: _figure_of(ref.figures, ref.figure(metric), metric) for ref in references_of_data
                   if ref.kind == "ceiling" and metric in ref.figures}
        if ceiled := {r: by_repr[r] for r in reprs if r in by_repr}:
            rows.append(Row(["ceiling (representation round trip)", data, *(ceiled.get(r) for r in reprs)],
                            "reference", data))
    for data, by_repr in ceilings.items():
        rows.append(Row(["ceiling (representation round trip)", data, *(by_repr.get(r) for r in reprs)],
                        "reference", data))
    return Table(f"{metric}: model × representation", columns, rows, metric)


def _direction(info: MetricInfo) -> Better:
    return None if not info.task else "higher" if info.higher_is_better else "lower"


def _best(columns: list[Column], rows: list[Row]) -> set[tuple[int, int]]:
    """Best value per ranked column within each data set, over working cells holding a number;
    ties are all best, and a column with fewer than two numbers has no best."""
    best = set()
    for j, col in enumerate(columns):
        if col.better is None:
            continue
        for group in {r.group for r in rows}:
            found = [(i, number(r.values[j])) for i, r in enumerate(rows)
                     if r.kind == "cell" and r.group == group and is_number(number(r.values[j]))]
            if len(found) < 2:
                continue
            top = (max if col.better == "higher" else min)(v for _, v in found)
            best.update((i, j) for i, v in found if v == top)
    return best


def number(value: Any) -> Any:
    """A figure's value (its interval aside); anything else as it is."""
    return value.value if isinstance(value, Figure) else value


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any) -> str:
    """A figure for people: 3 significant digits, counts as 123k / 1.23M, blank for missing, n/a for not computable."""
    if value is None:
        return ""
    if isinstance(value, Figure):
        return f"{fmt(value.value)} ± {fmt(value.half_width)}" if value.has_interval else fmt(value.value)
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
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


def table_notes(cells: list[Cell]) -> list[str]:
    """How to read the tables, then one line for each metric some cell could not compute here."""
    unavailable: dict[str, str] = {}
    for cell in cells:
        for name, why in cell.evaluation.unavailable.items():
            unavailable.setdefault(name, why)
    return [*NOTES, *(f"{name}: n/a {why}" for name, why in unavailable.items())]


NOTES = (
    ("Bold: the best value of its column among the working cells of the same data set "
     "(↑ higher is better, ↓ lower is better); final losses are not ranked, each model family minimises its own."),
    (f"{REFERENCE}: each generation metric between two disjoint splits of real music, "
     "the value a perfect generator would reach; its ± is the null: how far two sets of real music differ."),
    ("± : half the 90 % bootstrap interval of a set figure (clips drawn again with replacement, docs/metrics.md); "
     "results.csv holds both ends (NAME.low, NAME.high)."),
    ("noise / ladder / degraded / copies rows: sentinels made from the same held-out clips, scored like samples "
     "(docs/metrics.md): a figure is read between real music, its graded degradations (ladder rungs: mild, "
     "medium, severe) and noise built to fool the metric."),
    ("ceiling rows of generation metrics: the representation's own round trip of held-out clips, scored as samples: "
     "what a perfect model on that representation reaches."),
    (f"verdict, each beyond both intervals: {NOISE_LIKE} when a cell does not beat every noise sentinel on every "
     f"structure metric, whatever its other figures; {COPIES} when it beats them but at least {COPY_LIMIT:g} % of "
     f"its samples are near-copies of training clips; {beats('severe')} / {beats('medium')} / {beats('mild')} "
     f"when it also beats every ladder rung of that strength (and the stronger ones) on every fidelity metric; "
     f"{BEATS_NOISE} otherwise."),
    ("ceiling: the representation's own round trip (encode → decode, no model) on the same test clips, "
     "the best any model on that representation can reconstruct."),
)
"""How to read the tables, printed under them in every format."""
