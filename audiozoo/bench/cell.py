"""One bench cell in its own process: train (or continue) the run, evaluate it, write evaluation.json.

A process per cell gives each cell its own peak-memory figure and keeps one cell's crash
(or a CUDA out-of-memory) from taking the others down. Run by :mod:`audiozoo.bench.matrix` as
``python -m audiozoo.bench.cell CELL_DIR OVERRIDES_JSON``.
"""

from __future__ import annotations

import json
import shutil
import sys
import traceback
from pathlib import Path
from typing import Any

from audiozoo.allocator import tune_allocator
from audiozoo.bench.calibration import split_name
from audiozoo.bench.evaluate import evaluate
from audiozoo.data.prepare import PreparedData
from audiozoo.factory import metrics_at, split_metric_settings
from audiozoo.plugins import host
from audiozoo.train.run import run
from audiozoo.runs.evaluation import Evaluation
from audiozoo.runs.rundir import RunDir
from audiozoo.runs.trained import prepare_data
from audiozoo.train.trainer import TrainingInterrupted

INTERRUPTED = 130
"""Exit code after Ctrl-C (the shell's 128 + SIGINT): the checkpoint is saved, the cell is not done."""


def write_evaluation(cell_dir: Path, evaluation: Evaluation) -> None:
    evaluation.write(RunDir(cell_dir).evaluation)


def sentinel_media(bench_dir: Path, data: PreparedData) -> Path:
    """Where a bench keeps the sentinels' pictures and clips every cell on ``data`` shows: one folder per data set and split."""
    return bench_dir / "sentinels" / split_name(data)


def failed(overrides: dict[str, Any], error: str) -> Evaluation:
    """The evaluation of a cell that did not finish: its names, for the tables, and the error."""
    return Evaluation(overrides["model"], overrides["repr"], overrides.get("data") or host().defaults["data"],
                      status="failed", error=error)


def run_cell(cell_dir: Path, overrides: dict[str, Any]) -> int:
    """Train and evaluate; a failure is recorded in evaluation.json, not raised (the bench goes on)."""
    metric_keys, overrides = split_metric_settings(overrides)
    try:
        if RunDir(cell_dir).has_checkpoint:
            result = run(resume=cell_dir)  # an interrupted cell continues; a finished one trains no further
        else:
            shutil.rmtree(cell_dir, ignore_errors=True)  # stopped before its first checkpoint: start afresh
            result = run(runs_dir=str(cell_dir.parent), name=cell_dir.name, **overrides)
        settings = result.settings
        data = prepare_data(settings)  # cached
        print(f"evaluating {cell_dir.name}: samples, metrics on decoded audio, sentinel rows", flush=True)
        evaluation = evaluate(result, data, metrics_at(result.representation.sample_rate, settings=metric_keys),
                              sentinel_media(cell_dir.parent, data))
    except TrainingInterrupted:
        return INTERRUPTED
    except Exception as err:  # noqa: BLE001 - any failure of one cell is that cell's result
        traceback.print_exc()
        error = f"{type(err).__name__}: {err}".splitlines()[0]
        cell_dir.mkdir(parents=True, exist_ok=True)
        write_evaluation(cell_dir, failed(overrides, error))
        return 1
    write_evaluation(cell_dir, evaluation)
    return 0


if __name__ == "__main__":
    tune_allocator()
    sys.exit(run_cell(Path(sys.argv[1]), json.loads(sys.argv[2])))
