"""evaluation.json, the one file a bench cell's figures live in: written by the bench, read by the report.

:class:`Evaluation` is its schema, with a version. Beside a cell's own figures it carries the
**rows** every figure is read against — real held-out music, the sentinels, the representation's
ceiling, the fidelity ladders' rungs — each a :class:`Row` keyed by ``(kind, label)``: the kind
says what a row is (the report's verdicts read it), the label is only shown. Set figures carry
their bootstrap interval (``intervals``: metric → ``[low, high]``, :mod:`audiozoo.intervals`).
Paths of media are stored relative to the cell (a bench folder may move) and held absolute in memory.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from audiozoo.atomic import atomic_file
from audiozoo.errors import AudiozooError
from audiozoo.intervals import Figure

VERSION = 2
"""Raised when the schema changes (2: intervals, ladder rows); files without one are from before
it had one (read as such)."""

RowKind = Literal["real", "noise", "ladder", "degraded", "copies", "ceiling"]
ROW_KINDS: tuple[str, ...] = ("real", "noise", "ladder", "degraded", "copies", "ceiling")
"""Every kind of row, in the order the tables show them."""


@dataclass(frozen=True)
class MetricInfo:
    """What the tables need to know of a metric: how it was called, which way is better, its unit and roles."""

    task: str
    higher_is_better: bool
    unit: str = ""
    roles: tuple[str, ...] = ()

    @classmethod
    def of(cls, metric: Any) -> MetricInfo:
        return cls(metric.task, metric.higher_is_better, metric.unit, tuple(sorted(getattr(metric, "roles", ()))))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MetricInfo:
        roles = data.get("roles")
        if roles is None:  # before version 1: one flag per role
            roles = [role for role in ("distance", "structure", "memorisation") if data.get(role)]
        return cls(data.get("task", ""), bool(data.get("higher_is_better")), data.get("unit", ""), tuple(roles))


@dataclass(frozen=True)
class Row:
    """One row a cell is read against: ``figures`` of each generation metric on a set of clips of known answer."""

    kind: str
    label: str
    figures: dict[str, float]
    repr: str | None = None  # a ceiling row's representation (its label names it for people only)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    ladder: str | None = None  # a ladder row's ladder and rung (mild, medium, severe)
    rung: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.label

    def figure(self, metric: str) -> Figure:
        return _figure(self.figures, self.intervals, metric)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        known = {f.name for f in fields(cls)}
        row = {k: v for k, v in data.items() if k in known}
        row["intervals"] = _intervals(data)
        return cls(**row)


@dataclass
class Evaluation:
    """Every figure of one bench cell; a failed cell has its names, ``status = "failed"`` and the error."""

    model: str
    repr: str
    data: str
    status: str = "done"
    error: str | None = None
    parameters: int | None = None
    train_seconds: float | None = None
    examples_per_second: float | None = None
    epochs: int | None = None
    steps: int | None = None
    generation_x_realtime: float | None = None
    peak_memory_mb: float | None = None
    peak_gpu_memory_mb: float | None = None
    losses: dict[str, float] = field(default_factory=dict)
    sample: dict[str, Any] = field(default_factory=dict)  # the sampling options the samples were made with
    metrics: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric → bootstrap [low, high]
    ceiling: dict[str, float] = field(default_factory=dict)  # reconstruction metrics of the representation's round trip
    rows: list[Row] = field(default_factory=list)
    metric_info: dict[str, MetricInfo] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # figures that could not be computed, said rather than averaged in
    unavailable: dict[str, str] = field(default_factory=dict)  # metric → why it cannot run here (no weights): n/a
    media: dict[str, Any] = field(default_factory=dict)  # kind → {"png": Path, "wav": [Path | [Path, Path]]}
    version: int = VERSION

    @property
    def failed(self) -> bool:
        return self.status != "done"

    def figure(self, metric: str) -> Figure:
        """The cell's figure of ``metric`` with its interval (NaN where it has none)."""
        return _figure(self.metrics, self.intervals, metric)

    def row(self, kind: str) -> Row | None:
        """The first row of ``kind`` (``real``: the real-vs-real reference)."""
        return next((r for r in self.rows if r.kind == kind), None)

    def to_json(self, cell_dir: Path) -> str:
        data = asdict(self)
        data["media"] = _paths(self.media, lambda p: Path(os.path.relpath(p, cell_dir)).as_posix())
        data["rows"] = [{k: v for k, v in asdict(r).items() if v not in (None, {})} for r in self.rows]
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str, cell_dir: Path) -> Evaluation:
        data = json.loads(text)
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("model", "repr", "data")):
            raise ValueError("not an evaluation of a cell (no model, repr and data)")
        version = data.get("version", 0)
        if version > VERSION:
            raise ValueError(f"written by a newer audiozoo (evaluation version {version}; this one reads {VERSION})")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        values["rows"] = [Row.from_json(r) for r in data.get("rows", [])] if version else _legacy_rows(data)
        values["intervals"] = _intervals(data)
        values["metric_info"] = {k: MetricInfo.from_json(v) for k, v in (data.get("metric_info") or {}).items()}
        for key in ("losses", "metrics", "ceiling"):
            values[key] = {k: v for k, v in (data.get(key) or {}).items() if v is not None}
        values["notes"] = [str(note) for note in data.get("notes") or []]
        values["media"] = _paths(data.get("media") or {}, lambda p: cell_dir / p)
        values["version"] = VERSION
        return cls(**values)

    def write(self, path: Path) -> None:
        """Atomically, with media paths relative to the cell's folder (``path``'s)."""
        with atomic_file(path) as tmp:
            tmp.write_text(self.to_json(path.parent))

    @classmethod
    def read(cls, path: Path) -> Evaluation | None:
        """The evaluation at ``path``; None where there is none; a damaged one is a one-line error."""
        try:
            return cls.from_json(path.read_text(), path.parent)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            raise AudiozooError(f"cannot read {path}: {err}") from None


def _intervals(data: dict[str, Any]) -> dict[str, tuple[float, float]]:
    return {k: (float(v[0]), float(v[1])) for k, v in (data.get("intervals") or {}).items()}


def _figure(figures: dict[str, float], intervals: dict[str, tuple[float, float]], metric: str) -> Figure:
    value = figures.get(metric)
    return Figure(math.nan if value is None else value, *intervals.get(metric, (math.nan, math.nan)))


def _paths(media: Any, convert: Any) -> Any:
    """``media`` with every path (a str or Path leaf under ``png`` / ``wav``, or a bare string) converted."""
    if isinstance(media, dict):
        return {k: _paths(v, convert) for k, v in media.items()}
    if isinstance(media, list):
        return [_paths(v, convert) for v in media]
    return convert(media) if isinstance(media, (str, Path)) else media


def _legacy_rows(data: dict[str, Any]) -> list[Row]:
    """Rows of an evaluation.json written before version 1, which kept kinds in label prefixes."""
    rows = [Row("real", "real (held out)", data["reference"])] if data.get("reference") else []
    for label, figures in (data.get("sentinels") or {}).items():
        kind = label.partition(":")[0]
        rows.append(Row(kind, label, {k: v for k, v in figures.items() if v is not None},
                        label.partition(": ")[2] if kind == "ceiling" else None))
    return rows
