"""Envelope metrics: Fréchet and kernel distances on per-clip log-mel band statistics. Off by default.

They see a clip's spectral envelope and loudness dynamics (:func:`audiozoo.spectra.envelope_features`)
and nothing finer, so noise shaped like music's envelope scores closer to real music than real
music does under +10 dB of noise or a 400 Hz low-pass (docs/metrics.md, the sentinel table).
A distance that noise can fool cannot rank generators, so this plugin is not enabled by
default; enable it to compare with figures of earlier audiozoo versions or FAD-style papers.
"""

from __future__ import annotations

import torch

from audiozoo import hookimpl
from audiozoo.distances import frechet, mmd2, standardise
from audiozoo.metric import FeatureSetMetric
from audiozoo.spectra import STRUCTURE_RATE, envelope_features

MIN_SPREAD = 0.1
"""Floor (dB) of a band statistic's spread among reference clips when standardising."""


class _EnvelopeDistance(FeatureSetMetric):
    """A distance between the sets' envelope features, standardised by the reference's spread."""

    higher_is_better = False
    roles = frozenset({"distance"})
    analysis_rate = STRUCTURE_RATE

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        return envelope_features(self.config.sample_rate, clips)


class FrechetLogMel(_EnvelopeDistance):
    """Fréchet distance between Gaussians fitted to the two sets' log-mel clip features (FAD's formula)."""

    name = "frechet_logmel"

    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        return frechet(*standardise(ref, est, min_spread=MIN_SPREAD))


class KernelDistance(_EnvelopeDistance):
    """Unbiased MMD² between the sets' log-mel clip features; Gaussian kernel as wide as real clips' median distance."""

    name = "kernel_distance"

    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        return mmd2(*standardise(ref, est, min_spread=MIN_SPREAD))


@hookimpl
def register_metrics(register):
    register(FrechetLogMel)
    register(KernelDistance)
