"""The sentinel table of docs/metrics.md: every generation metric on real music, noise, degraded music,
copies and each representation's round trip, on the bench's split of a data set.

    python tools/sentinel_table.py [data=classical] [data.KEY=VALUE ...]

Uses the bench's own split (held-out files in two halves by file, the first as the reference)
and the bench's own sentinels, and adds the metrics that are off by default (envelope_metrics),
so the table shows why they are. Also prints ``structure_distance`` at several kernel widths.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from audiozoo import api
from audiozoo.bench.evaluate import split_by_file
from audiozoo.distances import mmd2, standardise
from audiozoo.overrides import parse_overrides
from audiozoo.report.tables import fmt
from audiozoo.sentinels import REAL, ceiling_label, make_sentinels
from audiozoo_plugins import envelope_metrics, structure_metrics

REPRESENTATIONS = {"waveform": {}, "stft": {}, "stft magnitude": {"form": "magnitude"}, "mel": {}, "mfcc": {}}
WIDTHS = (1.0, 2.0, 4.0, 8.0, 16.0)


def main(args: list[str]) -> None:
    overrides = parse_overrides(args)
    name = overrides.pop("data", None)
    data = api.prepare(name, progress=False, **{k.removeprefix("data."): v for k, v in overrides.items()})
    train_idx, test_idx = data.split_indices()
    reference_idx, stand_in_idx = split_by_file(data, test_idx)
    reference, stand_in, train = (torch.as_tensor(np.asarray(data.segments[i]))
                                  for i in (reference_idx, stand_in_idx, train_idx))
    rows = {REAL: stand_in, **make_sentinels(data.sample_rate, stand_in, train)}
    for label, settings in REPRESENTATIONS.items():
        rep = api.get_representation(label.split()[0], sample_rate=data.sample_rate, **settings)
        rep.fit([train])
        rows[ceiling_label(label)] = rep.decode(rep.encode(stand_in), length=stand_in.shape[-1])
    metrics = [api.get_metric(n, sample_rate=data.sample_rate) for n in api.list_metrics()]
    metrics = [m for m in metrics if m.task == "generation"]
    metrics += [cls(cls.Config(sample_rate=data.sample_rate)) for cls in
                (envelope_metrics.KernelDistance, envelope_metrics.FrechetLogMel)]
    print(f"{len(reference)} reference clips, {len(stand_in)} per row, {len(train)} training clips, "
          f"{data.segments.shape[1] / data.sample_rate:g} s at {data.sample_rate} Hz\n")
    print("| row | " + " | ".join(m.name for m in metrics) + " |")
    print("| --- |" + " ---: |" * len(metrics))
    for label, clips in rows.items():
        values = [fmt(float(m(reference, clips, train=train))) for m in metrics]
        print(f"| {label} | " + " | ".join(values) + " |")

    print("\nstructure_distance at kernel widths (× the reference's median distance):\n")
    print("| row | " + " | ".join(f"{w:g}×" for w in WIDTHS) + " |")
    print("| --- |" + " ---: |" * len(WIDTHS))
    features = {label: structure_metrics.structure_features(data.sample_rate, clips) for label, clips in rows.items()}
    ref = structure_metrics.structure_features(data.sample_rate, reference)
    for label, est in features.items():
        ref_z, est_z = standardise(ref, est, min_spread=structure_metrics.MIN_SPREAD)
        print(f"| {label} | " + " | ".join(fmt(float(mmd2(ref_z, est_z, w))) for w in WIDTHS) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
