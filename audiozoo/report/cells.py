"""Reading bench cells: one run directory (config.toml, evaluation.json, media files) → one :class:`Cell`.

evaluation.json is read through its one owner (:class:`~audiozoo.runs.evaluation.Evaluation`); a
plain ``audiozoo run`` directory without one is still a cell, with blank figures, and its media
found where ``audiozoo run`` leaves them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audiozoo.errors import AudiozooError
from audiozoo.factory import representation_label
from audiozoo.runs.evaluation import Evaluation
from audiozoo.runs.rundir import RunDir

MEDIA_KINDS = ("losses", "samples", "reconstructions", "real", "sentinels", "ladders", "roundtrip")
"""Media keys of evaluation.json, in the order the page shows them."""


@dataclass(frozen=True)
class Media:
    """A spectrogram picture and its clips; each clip is one file, or an (input, output) pair."""

    png: Path | None = None
    clips: tuple[tuple[Path, ...], ...] = ()


@dataclass
class Cell:
    """What the report knows of one run: its folder, its evaluation and the media files that exist."""

    path: Path
    evaluation: Evaluation
    media: dict[str, Media] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def failed(self) -> bool:
        return self.evaluation.failed


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
    evaluation = Evaluation.read(files.evaluation)
    if evaluation is None:
        run = settings["run"]
        evaluation = Evaluation(run["model"], representation_label(run["repr"], settings["repr"]), run["data"])
        if not files.has_checkpoint:
            evaluation.status, evaluation.error = "failed", "no checkpoint: training did not finish"
    return Cell(run_dir, evaluation, _media(evaluation.media or files.media()))


def _media(media: dict[str, Any]) -> dict[str, Media]:
    """``media`` (absolute paths) as :class:`Media`; missing files are left out."""
    def existing(path: str | Path | None) -> Path | None:
        return Path(path) if path and Path(path).is_file() else None

    out = {}
    for kind in MEDIA_KINDS:
        entry = media.get(kind)
        if isinstance(entry, (str, Path)):
            entry = {"png": entry}
        if not entry:
            continue
        clips = []
        for clip in entry.get("wav", []):
            files = [existing(path) for path in ([clip] if isinstance(clip, (str, Path)) else clip)]
            if all(files):
                clips.append(tuple(files))
        found = Media(existing(entry.get("png")), tuple(clips))
        if found.png or found.clips:
            out[kind] = found
    return out
