"""Reading bench cells: one run directory (config.toml, evaluation.json, media files) → one :class:`Cell`.

The layout is the contract between ``audiozoo bench`` (writer) and the report (reader); a plain
``audiozoo run`` directory without evaluation.json is still a cell, with blank figures, and its
media found where ``audiozoo run`` leaves them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audiozoo.factory import representation_label
from audiozoo.errors import AudiozooError
from audiozoo.runs.rundir import RunDir

MEDIA_KINDS = ("losses", "samples", "reconstructions", "real", "sentinels", "roundtrip")
"""Media keys of evaluation.json, in the order the page shows them."""


@dataclass(frozen=True)
class Media:
    """A spectrogram picture and its clips; each clip is one file, or an (input, output) pair."""

    png: Path | None = None
    clips: tuple[tuple[Path, ...], ...] = ()


@dataclass
class Cell:
    """What the report knows of one run: names, status, figures and media (absolute paths)."""

    path: Path
    model: str
    repr: str
    data: str
    status: str
    error: str | None = None
    parameters: int | None = None
    train_seconds: float | None = None
    examples_per_second: float | None = None
    generation_x_realtime: float | None = None
    peak_memory_mb: float | None = None
    losses: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    reference: dict[str, float] = field(default_factory=dict)
    sentinels: dict[str, dict[str, float]] = field(default_factory=dict)
    """Rows every table is read against (noise, degraded music, copies, the representation's ceiling)."""
    ceiling: dict[str, float] = field(default_factory=dict)
    metric_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Figures that could not be computed (some clips, or a whole metric), said rather than averaged in."""
    media: dict[str, Media] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def failed(self) -> bool:
        return self.status != "done"


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """Run directories named directly, or found one level inside a folder (a bench's output)."""
    found = [run_dir.path for run_dir in RunDir.found_in(paths)]
    if not found:
        raise AudiozooError("no cells to report: give run directories or a folder of them")
    return found


def read_cell(run_dir: Path) -> Cell:
    """One run directory as a :class:`Cell`; evaluation.json when present, else the run's own files."""
    files = RunDir(run_dir)
    settings = files.read_tables()
    run = settings.get("run", {})
    if not all(isinstance(run.get(key), str) for key in ("model", "repr", "data")):
        raise AudiozooError(f"{files.config} does not name the model, repr and data in its [run] table")
    cell = Cell(run_dir, run["model"], representation_label(run["repr"], settings.get("repr", {})), run["data"],
                status="done")
    evaluation = _read_evaluation(files.evaluation)
    if evaluation is None:
        if not files.has_checkpoint:
            cell.status, cell.error = "failed", "no checkpoint: training did not finish"
        cell.media = _media(run_dir, files.media())
        return cell
    for key in ("status", "error", "parameters", "train_seconds", "examples_per_second",
                "generation_x_realtime", "peak_memory_mb"):
        if evaluation.get(key) is not None:
            setattr(cell, key, evaluation[key])
    for key in ("losses", "metrics", "reference", "ceiling", "metric_info"):
        setattr(cell, key, {k: v for k, v in (evaluation.get(key) or {}).items() if v is not None})
    cell.notes = [str(note) for note in evaluation.get("notes") or []]
    cell.sentinels = {label: {k: v for k, v in row.items() if v is not None}
                      for label, row in (evaluation.get("sentinels") or {}).items()}
    cell.media = _media(run_dir, evaluation.get("media") or files.media())
    return cell


def _read_evaluation(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise AudiozooError(f"cannot read {path}: {err}") from None


def _media(run_dir: Path, media: dict[str, Any]) -> dict[str, Media]:
    """``media`` (paths relative to ``run_dir``, or absolute) as :class:`Media`; missing files are left out."""
    def existing(rel: str | Path | None) -> Path | None:
        return run_dir / rel if rel and (run_dir / rel).is_file() else None

    out = {}
    for kind in MEDIA_KINDS:
        entry = media.get(kind)
        if isinstance(entry, (str, Path)):
            entry = {"png": entry}
        if not entry:
            continue
        clips = []
        for clip in entry.get("wav", []):
            files = [existing(rel) for rel in ([clip] if isinstance(clip, (str, Path)) else clip)]
            if all(files):
                clips.append(tuple(files))
        found = Media(existing(entry.get("png")), tuple(clips))
        if found.png or found.clips:
            out[kind] = found
    return out
