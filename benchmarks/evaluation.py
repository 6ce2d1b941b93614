"""What judging one bench cell costs: the first cell of a bench, and every cell after it.

A cell is trained briefly (the cost of judging does not depend on the weights), then evaluated as
a bench evaluates it: in a process of its own (``python -m benchmarks.evaluation JSON``), which
loads the trained run and the prepared data and calls :func:`audiozoo.bench.evaluate.evaluate`
with every default metric. The first such process finds an empty cache folder, so it also makes
and scores the real, sentinel and ladder rows and files the reference clips' features; the later
ones are what every further cell of a bench pays. Each process then takes its own evaluation
apart, on samples of another seed (features are remembered by the clips' contents, so the same
samples again would cost nothing): sampling, the representation's round trips of the held-out
clips, each metric on the samples (interval included), and the rest (loading the metrics'
models, reconstructions, the cached rows, pictures and clips).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from audiozoo.bench.calibration import shared_caches
from audiozoo.bench.evaluate import evaluate, split_by_file, training_clips
from audiozoo.factory import metrics_at
from audiozoo.runs.trained import load_run, prepare_data
from audiozoo.train.run import run
from benchmarks.harness import Section, Size, run_timed, synchronizer

CELL = ("flow", "mel")
"""The pivot's best cell (docs/results.md): sampling at 25 steps, decoding through Griffin-Lim."""
BAR_SECONDS = 30.0
"""Issue 20: one cell's evaluation with every default metric, 12–30 samples of 14.5 s, on 2 CPU cores."""
TOTAL = "evaluation"


def evaluation(size: Size, device: torch.device, sync: Callable[[], None], tmp: Path) -> Section:
    model, repr_name = CELL
    cache = tmp / "evaluation-cache"
    cell = run(runs_dir=str(tmp / "evaluation"), name=f"{model}-{repr_name}", progress=False, model=model,
               repr=repr_name, device=device.type, max_seconds=size.train_seconds,
               **{"data.cache_dir": str(cache), **({"preset": size.preset} if size.preset else {})})
    job = {"cell": str(cell.path), "device": str(device), "metrics": size.metrics,
           "media": str(tmp / "evaluation" / "sentinels")}
    later = 1 if size.name == "tiny" else size.repeats  # a tiny size checks the table, once
    cold, *warm = (_in_own_process(job) for _ in range(1 + later))
    parts = {what: statistics.median(w[what] for w in warm) for what in warm[0]}
    whole = parts.pop(TOTAL)

    section = Section(
        f"Bench evaluation: {model} × {repr_name} ({size.preset or 'default'} preset) evaluated in its own process "
        f"as a bench cell is, {'every default metric' if size.metrics is None else ', '.join(size.metrics)}, "
        f"on {device}",
        ["what", "when", "seconds", "share of a cell", "bar", "met"],
    )
    section.rows.append({"what": "evaluation, empty cache (real, sentinel and ladder rows made and scored)",
                         "when": "first cell of a bench on a data set", "seconds": round(cold[TOTAL], 2)})
    section.rows.append({"what": "evaluation, warm cache", "when": "every cell", "seconds": round(whole, 2),
                         "share of a cell": "100%", "bar": f"≤ {BAR_SECONDS:g} s", "met": whole <= BAR_SECONDS})
    for what, part in parts.items():
        section.rows.append({"what": what, "when": "every cell", "seconds": round(part, 2),
                             "share of a cell": f"{part / whole:.0%}"})
    rest = whole - statistics.fsum(parts.values())
    section.rows.append({"what": "the rest: metrics' models loaded, reconstructions, cached rows, pictures, clips",
                         "when": "every cell", "seconds": round(rest, 2), "share of a cell": f"{rest / whole:.0%}"})
    section.notes.append(f"Medians of {later} evaluations, each in a fresh process, after the one that filled the "
                         f"cache; the cell trained {size.train_seconds:g} s first. Metrics that need weights not "
                         "given here are n/a and cost nothing.")
    return section


def _in_own_process(job: dict) -> dict[str, float]:
    result = subprocess.run([sys.executable, "-m", "benchmarks.evaluation", json.dumps(job)],
                            capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"evaluation worker failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def judged(job: dict) -> dict[str, float]:
    """Seconds of one evaluation of the trained cell, then of each of its parts (on new samples)."""
    device = torch.device(job["device"])
    sync = synchronizer(device)
    cell = load_run(job["cell"], device=job["device"])
    data = prepare_data(cell.settings)
    rep = cell.representation
    metrics = [m for m in metrics_at(rep.sample_rate) if job["metrics"] is None or m.name in job["metrics"]]
    figures = {TOTAL: run_timed(lambda: evaluate(cell, data, metrics, Path(job["media"])), sync)}

    train_idx, test_idx = data.split_indices()
    reference_idx, stand_in_idx = split_by_file(data, test_idx)
    reference, stand_in = (torch.as_tensor(np.asarray(data.segments[i])).to(device) for i in (reference_idx, stand_in_idx))
    train = training_clips(data, train_idx, rep.sample_rate)[0].to(device)
    test, seconds, store = torch.cat((reference, stand_in)), stand_in.shape[1] / rep.sample_rate, shared_caches(data)[1]
    seed = cell.progress.step + 1  # not the evaluation's: its samples' features are remembered
    samples: list[torch.Tensor] = []
    figures[f"sampling {len(stand_in)} clips of {seconds:g} s"] = run_timed(
        lambda: samples.append(cell.sample(len(stand_in), seed=seed, seconds=seconds).to(device)), sync)
    figures[f"round trips of {len(test)} held-out clips"] = run_timed(
        lambda: rep.decode(rep.encode(test), length=test.shape[1]), sync)
    for metric in metrics:
        if metric.task == "generation" and not metric.unavailable_reason():
            figures[f"{metric.name} on the samples"] = run_timed(
                lambda m=metric: store.measure(m, reference, samples[0], train), sync)
    return figures


if __name__ == "__main__":
    print(json.dumps(judged(json.loads(sys.argv[1]))))
