"""The ladder test of docs/metrics.md: does a metric rank music that is almost right?

    python tools/ladder_table.py [data=classical] [data.KEY=VALUE ...] [splits=100] [boot=200] [spreads=1]

Every clip of the data set is degraded by every rung of :mod:`audiozoo.ladders` and replaced by
every noise sentinel. Real-vs-real is measured over ``splits`` random file-disjoint splits of the
data's files into a reference and a stand-in set of the bench's sizes (its two halves of the
held-out files); every row is scored on the same splits (reference: real clips; estimate: the
stand-in clips, degraded), and reported as its mean and its z-score, (mean − real mean) / real sd,
oriented so that worse is positive. The bench's own split gives each row's figure with a
bootstrap interval. Then, per metric, PASS or FAIL of each criterion:

- real first: every rung and every noise sentinel scores worse than real (on average);
- ordered: every ladder is mild < medium < severe;
- separated: every medium and severe rung lies 3 real-vs-real sds or more from real;
- noise beyond: every noise sentinel scores worse than every medium rung.

``spreads=1`` also prints the fidelity cues' spreads between real sets (:attr:`Cue.spread`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from audiozoo import api
from audiozoo.bench.evaluate import split_by_file
from audiozoo.intervals import bootstrap
from audiozoo.ladders import RUNGS, ladders, make_rung
from audiozoo.metric import FeatureSetMetric, GenerationMetric
from audiozoo.overrides import parse_overrides
from audiozoo.report.tables import fmt
from audiozoo.sentinels import make_sentinel, sentinels
from audiozoo_plugins import fidelity_metrics

REAL = "real (held out)"
Z_SEPARATED = 3.0


def ranked(metric: GenerationMetric) -> bool:
    """The metrics the test is for: distances and structure figures (not copies or diversity)."""
    return metric.distance or metric.structure or getattr(metric, "fidelity", False)


def file_splits(segment_file: np.ndarray, sizes: tuple[int, int], count: int, seed: int = 0
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` random (reference, stand-in) segment indices of ``sizes`` files each, no file in both."""
    rng = np.random.default_rng(seed)
    files = np.unique(segment_file)
    splits = []
    for _ in range(count):
        order = rng.permutation(files)
        picked = order[: sizes[0]], order[sizes[0]: sum(sizes)]
        splits.append(tuple(np.flatnonzero(np.isin(segment_file, part)) for part in picked))
    return splits


def prepared(metric: GenerationMetric, rows: dict[str, torch.Tensor]
             ) -> tuple[dict[str, torch.Tensor], Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    """What each row is scored on, and how: a feature metric's features are computed once per row,
    then its ``between`` scores any subset of clips; any other metric scores the clips themselves."""
    if isinstance(metric, FeatureSetMetric):
        return {label: metric.features(clips) for label, clips in rows.items()}, metric.between
    return rows, metric


def criteria(bad: dict[str, float], z: dict[str, float], kinds: dict[str, tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """Each criterion with the rows that fail it (``bad``: mean oriented so that larger is worse)."""
    rungs = [label for label, (kind, _) in kinds.items() if kind != "noise"]
    noise = [label for label, (kind, _) in kinds.items() if kind == "noise"]
    ladder_names = dict.fromkeys(kind for kind, _ in kinds.values() if kind != "noise")
    medium = [label for label in rungs if kinds[label][1] == "medium"]
    out = [("real first", [label for label in kinds if bad[label] <= bad[REAL]])]
    unordered = []
    for name in ladder_names:
        by_rung = {kinds[label][1]: bad[label] for label in rungs if kinds[label][0] == name}
        if not all(by_rung[a] < by_rung[b] for a, b in zip(RUNGS, RUNGS[1:])):
            unordered.append(name)
    out.append(("ordered", unordered))
    out.append((f"separated (z ≥ {Z_SEPARATED:g})",
                [label for label in rungs if kinds[label][1] != "mild" and z[label] < Z_SEPARATED]))
    worst_medium = max(bad[label] for label in medium)
    out.append(("noise beyond medium", [label for label in noise if bad[label] <= worst_medium]))
    return out


def main(args: list[str]) -> None:
    overrides = parse_overrides(args)
    name = overrides.pop("data", None)
    count, boot = int(overrides.pop("splits", 100)), int(overrides.pop("boot", 200))
    spreads = bool(int(overrides.pop("spreads", 0)))
    data = api.prepare(name, progress=False, **{k.removeprefix("data."): v for k, v in overrides.items()})
    clips = torch.as_tensor(np.asarray(data.segments))
    _, test_idx = data.split_indices()
    bench = split_by_file(data, test_idx)
    sizes = tuple(len(np.unique(data.segment_file[part])) for part in bench)
    sample_rate = data.sample_rate

    started = time.perf_counter()
    rows, kinds = {REAL: clips}, {}
    for rung in ladders(sample_rate):
        rows[rung.label] = make_rung(rung, clips, sample_rate)
        kinds[rung.label] = (rung.ladder, rung.rung)
    for sentinel in sentinels(sample_rate):
        if sentinel.kind == "noise":
            rows[sentinel.label] = make_sentinel(sentinel, clips, clips)
            kinds[sentinel.label] = ("noise", "")
    made = time.perf_counter() - started
    splits = file_splits(data.segment_file, sizes, count)
    print(f"{len(clips)} clips of {clips.shape[1] / sample_rate:g} s at {sample_rate} Hz from "
          f"{len(np.unique(data.segment_file))} files; {count} file-disjoint splits of {sizes[0]} + {sizes[1]} files "
          f"(the bench's sizes: {len(bench[0])} reference clips, {len(bench[1])} per row); intervals: {boot} "
          f"bootstrap resamplings of the bench's split, 90 %; rows made in {made:.0f} s\n")

    metrics = [api.get_metric(n, sample_rate=sample_rate) for n in api.list_metrics()]
    metrics = [m for m in metrics if m.task == "generation" and ranked(m)]
    verdicts = {}
    header = "| row | " + " | ".join(f"{m.name}: mean over splits (z) | bench split [90 %]" for m in metrics) + " |"
    table = [header, "| --- |" + " ---: | ---: |" * len(metrics)]
    cells: dict[str, list[str]] = {label: [] for label in rows}
    for metric in metrics:
        scored, between = prepared(metric, rows)
        values = {label: np.array([float(between(scored[REAL][ref], scored[label][est])) for ref, est in splits])
                  for label in rows}
        sign = -1.0 if metric.higher_is_better else 1.0
        real_mean, real_sd = values[REAL].mean(), values[REAL].std(ddof=1)
        z = {label: sign * (v.mean() - real_mean) / max(real_sd, 1e-12) for label, v in values.items()}
        for label, v in values.items():
            value, low, high = bootstrap(between, scored[REAL][bench[0]], scored[label][bench[1]], n=boot)
            mean = f"{fmt(float(v.mean()))} ± {fmt(float(real_sd))}" if label == REAL else \
                f"{fmt(float(v.mean()))} ({z[label]:+.1f})"
            cells[label] += [mean, f"{fmt(value)} [{fmt(low)}, {fmt(high)}]"]
        bad = {label: sign * float(v.mean()) for label, v in values.items()}
        verdicts[metric.name] = criteria(bad, z, kinds)
    table += [f"| {label} | " + " | ".join(row) + " |" for label, row in cells.items()]
    print("\n".join(table))
    print("\n| criterion | " + " | ".join(verdicts) + " |")
    print("| --- |" + " --- |" * len(verdicts))
    for i, (criterion, _) in enumerate(next(iter(verdicts.values()))):
        marks = ["PASS" if not v[i][1] else "FAIL: " + ", ".join(v[i][1]) for v in verdicts.values()]
        print(f"| {criterion} | " + " | ".join(marks) + " |")

    if spreads:
        features = fidelity_metrics.fidelity_features(sample_rate, clips)
        cues = np.array([fidelity_metrics.cue_deviations(features[ref], features[est]).numpy() for ref, est in splits])
        scale = np.array([cue.spread for cue in fidelity_metrics.CUES])
        print("\nfidelity cues' spreads between real sets (sd over splits of each energy distance):")
        print("\n".join(f"  {cue.name}: {s:.4f}" for cue, s in zip(fidelity_metrics.CUES, (cues * scale).std(0, ddof=1))))


if __name__ == "__main__":
    main(sys.argv[1:])
