"""``audiozoo bench``: every selected model × representation cell, trained alike, then tabled.

Every cell is an ordinary run directory ``BENCH_DIR/MODEL-REPR`` made by ``audiozoo run`` with
the same data, split, seed and budget. A cell runs in its own process; when it ends, its
``evaluation.json`` says ``done`` or ``failed`` (with the error), and the bench goes on. Running
the same command again skips finished cells, continues an interrupted one from its checkpoint
and retries failed ones, so an interrupted bench loses nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiozoo import api
from audiozoo.bench.cell import INTERRUPTED, failed, write_evaluation
from audiozoo.errors import AudiozooError
from audiozoo.report import build_report
from audiozoo.train.rundir import RunDir
from audiozoo.train.resolve import resolve
from audiozoo.train.tomlfile import write_toml

BENCH = "bench.toml"


@dataclass(frozen=True)
class Cell:
    model: str
    repr: str
    path: Path

    @property
    def status(self) -> str:
        """``done``, ``failed`` or ``pending`` (not run, or stopped part-way)."""
        try:
            return json.loads(RunDir(self.path).evaluation.read_text())["status"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return "pending"


class BenchInterrupted(Exception):
    """Ctrl-C: the running cell saved a checkpoint; the same command continues."""


def plan(models: Any, reprs: Any, overrides: dict[str, Any], folder: Path) -> list[Cell]:
    """The cells, each one's settings checked now, so a typo fails at once and not in cell 7."""
    chosen = [(m, r) for m in api.list_models(include=_patterns(models, "models"))
              for r in api.list_representations(include=_patterns(reprs, "reprs"))]
    if not chosen:
        raise AudiozooError(f"no cell matches models={models or '*'} reprs={reprs or '*'}; "
                            f"models: {', '.join(api.list_models())}; "
                            f"reprs: {', '.join(api.list_representations())}")
    for model, repr_ in chosen:
        resolve({**overrides, "model": model, "repr": repr_})
    return [Cell(m, r, folder / f"{m}-{r}") for m, r in chosen]


def _patterns(value: Any, key: str) -> list[str] | None:
    """``models=vae_*`` or ``models=gan,vae_1dconv`` or a TOML list → fnmatch patterns."""
    if value is None:
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    patterns = [str(p).strip() for p in items if str(p).strip()]
    if not patterns:
        raise AudiozooError(f"{key}= is empty; give names or wildcards, e.g. {key}=vae_*")
    return patterns


def check_same_settings(folder: Path, settings: dict[str, Any]) -> None:
    """A bench folder holds one comparison: a re-run with other settings would mix two in one table."""
    path = folder / BENCH
    if path.is_file():
        before = tomllib.loads(path.read_text()).get("overrides", {})
        if before != settings:
            raise AudiozooError(f"{folder} was benched with other settings ({_describe(before)}); "
                                f"use another name= or the same settings ({_describe(settings)})")
    else:
        write_toml(path, {"overrides": settings},
                   header="audiozoo bench: the settings every cell of this folder shares")


def _describe(settings: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(settings.items())) or "no overrides"


def run_cells(cells: list[Cell], overrides: dict[str, Any],
              echo: Callable[[str], None] = print) -> None:
    """Each unfinished cell in a child process, one after another."""
    for number, cell in enumerate(cells, 1):
        status = cell.status
        if status == "done":
            echo(f"[{number}/{len(cells)}] {cell.model} × {cell.repr}: done before, skipped")
            continue
        echo(f"[{number}/{len(cells)}] {cell.model} × {cell.repr}" + (" (retrying)" if status == "failed" else ""))
        settings = {**overrides, "model": cell.model, "repr": cell.repr}
        try:
            code = subprocess.call([sys.executable, "-m", "audiozoo.bench.cell", str(cell.path), json.dumps(settings)],
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        except KeyboardInterrupt:
            code = INTERRUPTED
        if code == INTERRUPTED:
            raise BenchInterrupted(f"interrupted in {cell.path}")
        if cell.status == "pending":  # the child died without a word (killed, out of memory)
            cell.path.mkdir(parents=True, exist_ok=True)
            write_evaluation(cell.path, failed(settings, f"the cell's process ended with exit code {code}"))
        echo(f"    {cell.status}" + ("" if cell.status == "done" else f": {_error(cell)}"))


def _error(cell: Cell) -> str:
    return json.loads(RunDir(cell.path).evaluation.read_text()).get("error") or "unknown error"


def bench(models: Any = None, reprs: Any = None, name: str = "bench", runs_dir: str = "runs",
          echo: Callable[[str], None] = print, **overrides: Any) -> tuple[list[Cell], dict[str, Path]]:
    """Run the matrix and write its tables; returns the cells and the report's files."""
    folder = Path(runs_dir) / name
    cells = plan(models, reprs, overrides, folder)
    folder.mkdir(parents=True, exist_ok=True)
    check_same_settings(folder, overrides)
    run_cells(cells, overrides, echo)
    return cells, build_report([c.path for c in cells if c.path.is_dir()], folder)
