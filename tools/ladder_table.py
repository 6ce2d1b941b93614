"""The ladder test of docs/metrics.md: does a distance rank music that is almost right?

    python tools/ladder_table.py [data=classical] [data.KEY=VALUE ...] [splits=100] [pool=all|held_out]
                                 [metrics=NAME,NAME] [spreads=1]

Every clip of the data set (``pool=held_out``: of its held-out split only) is degraded by every
rung of :mod:`audiozoo.ladders` and replaced by every noise sentinel. Real-vs-real is measured
over ``splits`` random file-disjoint splits of the pool's files into a reference and an estimate
set as large as the bench's (its two halves of the held-out files); every row is scored on the
same splits (reference: real clips; estimate: the other files' clips, degraded), and reported as
its mean and its z-score, (mean − real mean) / real sd, oriented so that worse is positive. Then,
per distance (every metric with the role ``distance`` that can run here), PASS or FAIL of each
criterion:

- real first: every rung and every noise sentinel scores worse than real (on average);
- ordered: every ladder is mild < medium < severe;
- separated: every medium and severe rung lies 3 real-vs-real sds or more from real;
- noise beyond medium: every noise sentinel scores worse than every medium rung.

``spreads=1`` (with ``fidelity`` among the metrics) also prints what the fidelity cues'
:attr:`Cue.spread` are measured as, the sd over the splits of each cue's energy distance between
real sets, and each row's mean deviation per cue in those units.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from audiozoo import api
from audiozoo.bench.evaluate import split_by_file
from audiozoo.errors import AudiozooError
from audiozoo.ladders import RUNGS, ladders, make_rung
from audiozoo.metric import FeatureSetMetric, GenerationMetric
from audiozoo.overrides import parse_overrides
from audiozoo.report.tables import fmt
from audiozoo.sentinels import REAL, make_sentinel, sentinels
from audiozoo_plugins import fidelity_metrics

Z_SEPARATED = 3.0
POOLS = ("all", "held_out")


def file_splits(segment_file: np.ndarray, sizes: tuple[int, int], count: int, seed: int = 0
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` random (reference, estimate) clip indices of ``sizes`` files each, no file in both."""
    rng = np.random.default_rng(seed)
    files = np.unique(segment_file)
    splits = []
    for _ in range(count):
        order = rng.permutation(files)
        picked = order[: sizes[0]], order[sizes[0]: sum(sizes)]
        splits.append(tuple(np.flatnonzero(np.isin(segment_file, part)) for part in picked))
    return splits


def scorer(metric: GenerationMetric, clips: torch.Tensor) -> Callable[[np.ndarray], object]:
    """``pick(indices)``: what ``metric`` scores for those clips. A feature metric's features are
    computed once for every clip, then any subset is picked from them (its rows come clip by clip,
    the same count per clip for clips of one length: one vector, one clip's frames, or its windows)."""
    if not isinstance(metric, FeatureSetMetric):
        return lambda indices: clips[torch.as_tensor(indices)]
    features = metric.features(clips)
    grouped = features.reshape(len(clips), -1, *features.shape[1:])
    return lambda indices: grouped[torch.as_tensor(indices)].flatten(0, 1)


def criteria(bad: dict[str, float], z: dict[str, float], kinds: dict[str, tuple[str, str]]
             ) -> list[tuple[str, list[str]]]:
    """Each criterion with the rows that fail it (``bad``: mean oriented so that larger is worse)."""
    rungs = [label for label, (kind, _) in kinds.items() if kind != "noise"]
    noise = [label for label, (kind, _) in kinds.items() if kind == "noise"]
    unordered = []
    for name in dict.fromkeys(kinds[label][0] for label in rungs):
        by_rung = {kinds[label][1]: bad[label] for label in rungs if kinds[label][0] == name}
        if not all(by_rung[a] < by_rung[b] for a, b in itertools.pairwise(RUNGS)):
            unordered.append(name)
    worst_medium = max(bad[label] for label in rungs if kinds[label][1] == "medium")
    return [
        ("real first", [label for label in kinds if bad[label] <= bad[REAL]]),
        ("ordered", unordered),
        (f"separated (z ≥ {Z_SEPARATED:g})",
         [label for label in rungs if kinds[label][1] != "mild" and z[label] < Z_SEPARATED]),
        ("noise beyond medium", [label for label in noise if bad[label] <= worst_medium]),
    ]


def rows_of(clips: torch.Tensor, sample_rate: int) -> tuple[dict[str, torch.Tensor], dict[str, tuple[str, str]]]:
    """Real clips, every ladder rung and every noise sentinel made from them; each row's (ladder or
    ``noise``, rung)."""
    rows, kinds = {REAL: clips}, {}
    for rung in ladders(sample_rate):
        rows[rung.label] = make_rung(rung, clips, sample_rate)
        kinds[rung.label] = (rung.ladder, rung.rung)
    for sentinel in sentinels(sample_rate):
        if sentinel.kind == "noise":
            rows[sentinel.label] = make_sentinel(sentinel, clips, clips)
            kinds[sentinel.label] = ("noise", "")
    return rows, kinds


def main(args: list[str]) -> None:
    overrides = parse_overrides(args)
    name = overrides.pop("data", None)
    count, pool = int(overrides.pop("splits", 100)), str(overrides.pop("pool", "all"))
    spreads = bool(int(overrides.pop("spreads", 0)))
    wanted = overrides.pop("metrics", None)
    if pool not in POOLS:
        raise AudiozooError(f"unknown pool={pool!r}: choose one of {', '.join(POOLS)}")
    data = api.prepare(name, progress=False, **{k.removeprefix("data."): v for k, v in overrides.items()})
    _, test_idx = data.split_indices()
    bench = split_by_file(data, test_idx)
    sizes = tuple(len(np.unique(data.segment_file[part])) for part in bench)
    pooled = np.arange(len(data.segments)) if pool == "all" else np.sort(test_idx)
    clips = torch.as_tensor(np.array(data.segments[pooled]))
    sample_rate = data.sample_rate

    metrics = [api.get_metric(n, sample_rate=sample_rate) for n in api.list_metrics()]
    metrics = [m for m in metrics if m.task == "generation" and m.roles & {"distance", "fidelity"} and m.unavailable_reason() is None]
    if wanted is not None:
        metrics = [m for m in metrics if m.name in str(wanted).split(",")]

    started = time.perf_counter()
    rows, kinds = rows_of(clips, sample_rate)
    made = time.perf_counter() - started
    splits = file_splits(data.segment_file[pooled], sizes, count)
    print(f"{len(clips)} clips of {clips.shape[1] / sample_rate:g} s at {sample_rate} Hz from "
          f"{len(np.unique(data.segment_file[pooled]))} files ({pool}); {count} file-disjoint splits of "
          f"{sizes[0]} + {sizes[1]} files (the bench's: {len(bench[0])} reference clips, {len(bench[1])} per row); "
          f"rows made in {made:.0f} s\n")

    verdicts, cells, cues = {}, {label: [] for label in rows}, {}
    for metric in metrics:
        started = time.perf_counter()
        reference = scorer(metric, rows[REAL])
        values = {}
        for label, row in rows.items():
            pick = scorer(metric, row)
            values[label] = np.array([float(metric.between(reference(ref), pick(est))) for ref, est in splits])
            if spreads and metric.name == "fidelity":
                cues[label] = np.array([fidelity_metrics.cue_distances(reference(ref), pick(est)).numpy()
                                        for ref, est in splits])
        sign = -1.0 if metric.higher_is_better else 1.0
        real_mean, real_sd = values[REAL].mean(), values[REAL].std(ddof=1)
        z = {label: sign * (v.mean() - real_mean) / max(real_sd, 1e-12) for label, v in values.items()}
        for label, v in values.items():
            cells[label].append(f"{fmt(float(v.mean()))} ± {fmt(float(real_sd))}" if label == REAL
                                else f"{fmt(float(v.mean()))} ({z[label]:+.1f})")
        verdicts[metric.name] = criteria({label: sign * float(v.mean()) for label, v in values.items()}, z, kinds)
        print(f"{metric.name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)

    print("| row | " + " | ".join(f"{m.name}: mean (z)" for m in metrics) + " |")
    print("| --- |" + " ---: |" * len(metrics))
    print("\n".join(f"| {label} | " + " | ".join(row) + " |" for label, row in cells.items()))
    print("\n| criterion | " + " | ".join(verdicts) + " |")
    print("| --- |" + " --- |" * len(verdicts))
    for i, (criterion, _) in enumerate(next(iter(verdicts.values()))):
        marks = ["PASS" if not v[i][1] else "FAIL: " + ", ".join(v[i][1]) for v in verdicts.values()]
        print(f"| {criterion} | " + " | ".join(marks) + " |")

    if cues:
        spread = np.array([cue.spread for cue in fidelity_metrics.CUES])
        print("\nfidelity cues: the sd over the splits of each cue's energy distance between real sets "
              "(what Cue.spread holds):\n")
        print("  " + ", ".join(f"{cue.name} {s:.4f}" for cue, s in
                                zip(fidelity_metrics.CUES, cues[REAL].std(0, ddof=1), strict=True)))
        print("\nand each row's mean cue deviation, in units of Cue.spread:\n")
        print("| row | " + " | ".join(cue.name for cue in fidelity_metrics.CUES) + " |")
        print("| --- |" + " ---: |" * len(spread))
        print("\n".join(f"| {label} | " + " | ".join(f"{x:.1f}" for x in (d / spread).mean(0)) + " |"
                        for label, d in cues.items()))

if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except AudiozooError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
