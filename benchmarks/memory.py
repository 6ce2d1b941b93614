"""Peak resident memory of ``prepare``, ``run`` and ``bench`` in their own processes, and how cost scales."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus import write_gtzan
from benchmarks.data import clip_seconds
from benchmarks.harness import Section, Size
from benchmarks.report import cell

REPO = Path(__file__).resolve().parents[1]
GROWTH_BAR = 1.10  # peak memory after more epochs / after fewer: "does not grow"
RUN_CELLS = (("gan", "mel"), ("vae_1dconv", "waveform"), ("vae_convpool", "waveform"))
SCALING_CELL = ("vae_1dconv", "waveform")


LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss, flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a command and prints its peak resident memory (KiB) last. Linux counts the memory of the
process that forked a child in the child's peak, so the command is forked from this small
launcher, not from the benchmark process (over 1 GiB by then)."""


def peak_mib(command: list[str]) -> tuple[float, str]:
    """Run ``command`` from the repository root: its peak resident memory (MiB, its children included), its stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        done = subprocess.run([sys.executable, "-c", LAUNCHER, *command], cwd=REPO, stdout=out, stderr=err, text=True)
        out.seek(0), err.seek(0)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}:\n{err.read()[-3000:]}")
        *lines, peak = out.read().splitlines()
        return int(peak) / 1024, "\n".join(lines)


def audiozoo(*args: str) -> list[str]:
    return [sys.executable, "-m", "audiozoo", *args]


def memory(size: Size, tmp: Path) -> Section:
    root = tmp / "memory-gtzan"
    write_gtzan(root, size.scale_files, size.file_seconds)
    cache, runs = tmp / "memory-cache", tmp / "memory-runs"
    data = [f"data.root={root}", f"data.cache_dir={cache}", f"data.clip_seconds={clip_seconds(size)}"]
    few, many = size.memory_epochs
    section = Section(
        f"Peak resident memory (MiB), each command in its own process, {size.scale_files} GTZAN-layout files",
        ["command", "settings", f"{few} epoch(s)", f"{many} epochs", "growth", "bar", "met"],
    )
    prepare_peak, _ = peak_mib(audiozoo("prepare", "data=gtzan", *data))
    section.rows.append({"command": "audiozoo prepare", "settings": "data=gtzan (cold)", f"{few} epoch(s)": prepare_peak})
    preset = [f"preset={size.preset}"] if size.preset else []
    cells = RUN_CELLS if size.name == "full" else RUN_CELLS[-1:]
    for model, repr_name in cells:
        run = ["run", f"model={model}", f"repr={repr_name}", "data=gtzan", *data, *preset, "max_seconds=0",
               f"runs_dir={runs}"]
        section.rows.append(_growth("audiozoo run", f"model={model} repr={repr_name}",
                                    {n: audiozoo(*run, f"epochs={n}") for n in (few, many)}, few, many))
    if size.name == "tiny":  # bench is run's loop in a second process: its row is for the real sizes
        return section
    model, repr_name = cells[-1]
    bench = ["bench", f"models={model}", f"reprs={repr_name}", "data=gtzan", *data, *preset, "max_seconds=0",
             f"runs_dir={runs}"]
    section.rows.append(_growth("audiozoo bench", f"models={model} reprs={repr_name}",
                                {n: audiozoo(*bench, f"epochs={n}", f"name=bench-{n}") for n in (few, many)}, few, many))
    section.notes.append(f"Each cell at {'the default preset' if not size.preset else f'preset={size.preset}'} with "
                         "max_seconds=0 so that epochs decide; bench's figure includes the cell process it starts. "
                         f"met: the peak after {many} epochs is at most {GROWTH_BAR:g}× the peak after {few}.")
    return section


def _growth(command: str, settings: str, runs: dict[int, list[str]], few: int, many: int) -> dict[str, Any]:
    peaks = {n: peak_mib(argv)[0] for n, argv in runs.items()}
    growth = peaks[many] / peaks[few]
    return {"command": command, "settings": settings, f"{few} epoch(s)": peaks[few], f"{many} epochs": peaks[many],
            "growth": f"{growth:.2f}×", "bar": f"≤ {GROWTH_BAR:g}×", "met": growth <= GROWTH_BAR}


def scaling(size: Size, tmp: Path) -> Section:
    model, repr_name = SCALING_CELL
    section = Section(
        f"Scaling with clip length and dataset size: prepare (cold), one training step of {model} × {repr_name} "
        "(default preset), peak memory of the process doing both",
        ["grows with", "factors", "quantity", "values", "exponent"],
    )
    base = size.scale_files
    configs = {("clip length", k): (base, k) for k in size.scale}
    configs |= {("dataset size", k): (base * k * k, 1) for k in size.scale}
    measured: dict[tuple[int, int], dict[str, float]] = {}
    for files, length in sorted(set(configs.values())):
        root = tmp / f"scaling-{files}-{length}"
        write_gtzan(root, files, length * size.file_seconds)
        job = {"root": str(root), "cache": str(tmp / f"scaling-cache-{files}-{length}"),
               "clip_seconds": clip_seconds(size, length), "model": model, "repr_name": repr_name,
               "steps": size.train_steps}
        peak, out = peak_mib([sys.executable, "-m", "benchmarks.worker", json.dumps(job)])
        measured[files, length] = {**json.loads(out.strip().splitlines()[-1]), "peak MiB": peak}
    results = {key: measured[config] for key, config in configs.items()}
    for axis in ("clip length", "dataset size"):
        factors = [k if axis == "clip length" else k * k for k in size.scale]
        for quantity in ("prepare s", "step s", "peak MiB"):
            values = [results[axis, k][quantity] for k in size.scale]
            section.rows.append({"grows with": axis, "factors": " : ".join(f"×{f}" for f in factors),
                                 "quantity": quantity, "values": " → ".join(cell(v) for v in values),
                                 "exponent": _slope(factors, values)})
    section.notes.append(f"×1 is {base} files with {clip_seconds(size):g} s clips. exponent: least-squares slope of "
                         "log(value) against log(factor) (1: linear, 0: flat).")
    return section


def _slope(factors: list[int], values: list[float]) -> float:
    return float(np.polyfit(np.log(factors), np.log(values), 1)[0])
