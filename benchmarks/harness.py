"""Timing side by side, the rows and sections every benchmark reports, and the machine they ran on."""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class Size:
    """How big each benchmark runs: ``full`` for the published table, ``quick`` and ``tiny`` for checks."""

    name: str
    repeats: int  # timed repetitions of every measurement (the median is quoted)
    min_seconds: float  # a side-by-side repetition repeats a call until it has run this long
    forward_clips: int  # half clips encoded per representation
    inversion_clips: int  # half clips decoded by Griffin-Lim
    clip_samples: int  # samples of a clip (45 675: half of 29 s at 3150 Hz)
    files: int  # GTZAN-like files prepared
    file_seconds: float  # length of each of those files
    train_steps: int  # training steps per cell timed phase by phase
    train_repeats: int  # repetitions of each cell's step, alternating with its matmul reference
    generate_clips: int  # clips generated per cell
    memory_epochs: tuple[int, int]  # the two epoch counts whose peak memory is compared
    scale: tuple[int, ...]  # factors of the scaling table
    scale_files: int  # files at factor 1 of the scaling table
    preset: str | None  # training preset of every model × representation cell (None: registry.toml's default)
    hours: tuple[float, ...]  # dataset sizes of the data-at-scale table, in hours of 22 050 Hz audio
    train_seconds: float  # training time of each cell of that table, and of the evaluation table's cell
    metrics: tuple[str, ...] | None  # what the evaluation table's cell is judged by (None: every default metric)


SIZES = {
    "full": Size("full", 5, 0.25, 64, 16, 45675, 100, 30.0, 5, 11, 16, (1, 3), (1, 2, 4), 8, None, (1, 10, 50), 30.0, None),
    "quick": Size("quick", 3, 0.1, 16, 4, 45675, 20, 30.0, 3, 5, 4, (1, 2), (1, 2, 4), 4, None, (0.5, 2), 10.0, None),
    "tiny": Size("tiny", 2, 0.0, 2, 1, 4096, 2, 3.0, 1, 2, 1, (1, 2), (1, 2), 2, "debug", (0.05,), 1.0, ("copies",)),
}


@dataclass
class Timing:
    """Seconds of each repetition of one measurement."""

    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def synchronizer(device: torch.device) -> Callable[[], None]:
    """What waits for ``device``'s queued work before a clock is read (nothing on a CPU)."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def run_timed(fn: Callable[[], Any], sync: Callable[[], None]) -> float:
    """Seconds one call of ``fn`` takes, device work included (``sync`` waits for it)."""
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def run_timed_for(fn: Callable[[], Any], calls: int, sync: Callable[[], None]) -> float:
    """Seconds one call of ``fn`` takes, averaged over ``calls`` calls in a row (each result dropped at once)."""

    def in_a_row() -> None:
        for _ in range(calls):
            fn()

    return run_timed(in_a_row, sync) / calls


def side_by_side(ours: Callable[[], Any], reference: Callable[[], Any], repeats: int,
                 sync: Callable[[], None], min_seconds: float) -> tuple[Timing, Timing]:
    """Time ``ours`` and ``reference`` alternately, after one warm-up call of each.

    A repetition of a side calls it as many times in a row as fill ``min_seconds`` (as
    ``timeit``'s autorange does), so millisecond calls are not timed one at a time against the
    scheduler's noise; the warm-up call's time sets the count.
    """
    calls = [max(1, math.ceil(min_seconds / max(run_timed(fn, sync), 1e-9))) for fn in (ours, reference)]
    mine, theirs = Timing([]), Timing([])
    for _ in range(repeats):
        mine.seconds.append(run_timed_for(ours, calls[0], sync))
        theirs.seconds.append(run_timed_for(reference, calls[1], sync))
    return mine, theirs


def repeated(fn: Callable[[], Any], repeats: int, sync: Callable[[], None]) -> Timing:
    """Time ``fn`` ``repeats`` times after one untimed warm-up call."""
    fn()
    return Timing([run_timed(fn, sync) for _ in range(repeats)])


def speedup(ours: Timing, reference: Timing) -> tuple[float, float, float]:
    """Reference time / our time: the median of the per-repetition ratios, and their min and max."""
    ratios = [r / o for o, r in zip(ours.seconds, reference.seconds)]
    return statistics.median(ratios), min(ratios), max(ratios)


@dataclass
class Section:
    """One table of the report: a title, its columns, its rows (column → value), notes under it."""

    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def bars(self) -> list[bool]:
        """Whether each row that has a bar met it."""
        return [row["met"] for row in self.rows if row.get("met") is not None]


def ratio_cells(ours: Timing, reference: Timing, bar: float) -> dict[str, Any]:
    """The ratio columns of a row compared with a reference: ratio, spread, bar and whether it is met."""
    ratio, low, high = speedup(ours, reference)
    return {"ratio": f"{ratio:.2f}×", "spread": f"{low:.2f}–{high:.2f}", "bar": f"≥ {bar:g}×", "met": ratio >= bar,
            "ratio_value": ratio}


def machine(device: torch.device) -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, threads, library versions, load, allocator settings."""
    import librosa
    import numpy

    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "librosa": librosa.__version__,
        "numpy": numpy.__version__,
        "load average (1 min) at start": round(os.getloadavg()[0], 2),
    }
    info.update({key: os.environ[key] for key in sorted(os.environ) if key.startswith("MALLOC_")})
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return names[0] if names else platform.processor()
    except OSError:
        return platform.processor() or platform.machine()
