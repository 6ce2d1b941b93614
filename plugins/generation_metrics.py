"""Generation metrics on decoded audio: how close a set of generated clips is to held-out real music.

Every metric here sees a clip as one point, from :func:`features` (docs/metrics.md says why
these features): the mean and the spread over time of each band of the clip's log-mel
spectrogram, after the clip is normalised to unit RMS, and standardised by the reference set.
"""

from __future__ import annotations

from abc import abstractmethod

import torch

from audiozoo import AudiozooError, GenerationMetric, hookimpl
from audiozoo.spectra import TINY, log_mel

TOP_DB = 60.0
"""Dynamic range kept below each clip's peak: detail quieter than that is inaudible beside the peak,
and keeping it would let digital silence (above a low-pass cutoff, say) outweigh what is audible."""

QUIET_RMS = 1e-5
"""RMS below which a clip is not amplified by loudness normalisation: silence stays silence."""

MIN_SPREAD = 0.1
"""Floor (dB) of a feature's spread among reference clips when standardising: a feature no real
clip varies in would otherwise turn a rounding difference into an enormous distance."""

CHUNK = 256
"""Clips analysed at once: features are per clip, so chunking changes nothing but peak memory."""


def features(sample_rate: int, reference: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """One vector per clip ``[N, 2 · n_mels]`` (float64, on ``reference``'s device) for each set given.

    A clip is normalised to unit RMS, then described by the mean and the standard deviation
    over frames of each band of its log-mel spectrogram (dB): the mean is the clip's timbre,
    the spread its dynamics. Loudness normalisation keeps recording level, which says nothing
    about the music, from dominating (it otherwise does: docs/metrics.md); statistics per clip
    rather than per frame make one clip one sample, so sets compare as sets of clips. Every
    feature is then standardised by the reference clips' mean and spread, so that distances
    count each feature in units of how much real music varies in it.
    """
    sets = [reference, *others]
    if min(len(clips) for clips in sets) < 2:
        raise AudiozooError(f"a generation metric needs at least 2 clips per set, got {[len(c) for c in sets]}")
    described = []
    for clips in sets:
        parts = []
        for chunk in clips.to(reference.device, torch.float32).split(CHUNK):
            rms = chunk.square().mean(-1, keepdim=True).sqrt().clamp_min(QUIET_RMS)
            db = log_mel(chunk / rms, sample_rate, TOP_DB)
            parts.append(torch.cat((db.mean(-1), db.std(-1)), -1))
        described.append(torch.cat(parts).double())
    mean, spread = described[0].mean(0), described[0].std(0).clamp_min(MIN_SPREAD)
    return [(vectors - mean) / spread for vectors in described]


def _off_diagonal(square: torch.Tensor) -> torch.Tensor:
    """The entries of an ``[N, N]`` matrix off its diagonal (a clip's distance to itself is no sample)."""
    return square[~torch.eye(len(square), dtype=torch.bool, device=square.device)]


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (rounding's negative eigenvalues set to 0)."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


class _BetweenFeatures(GenerationMetric):
    """A generation metric that needs only the reference's and the estimate's :func:`features`."""

    def __call__(
        self, reference: torch.Tensor, estimate: torch.Tensor, train: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.between(*features(self.config.sample_rate, reference, estimate)).float()

    @abstractmethod
    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        """The figure from feature vectors ``[N, D]`` and ``[M, D]`` (float64)."""


class FrechetLogMel(_BetweenFeatures):
    """Fréchet distance between Gaussians fitted to the two sets' log-mel clip features (FAD's formula)."""

    name = "frechet_logmel"
    higher_is_better = False

    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        ref_cov, est_cov = torch.cov(ref.T), torch.cov(est.T)
        # tr √(Σr Σe) as tr √(√Σr Σe √Σr): symmetric, so eigvalsh; exact with as few clips as dimensions
        root = _psd_sqrt(ref_cov)
        cross = torch.linalg.eigvalsh(root @ est_cov @ root).clamp_min(0).sqrt().sum()
        distance = (ref.mean(0) - est.mean(0)).square().sum() + ref_cov.trace() + est_cov.trace() - 2 * cross
        return distance.clamp_min(0)


class KernelDistance(_BetweenFeatures):
    """Unbiased MMD² between the sets' log-mel clip features; Gaussian kernel as wide as real clips' median distance."""

    name = "kernel_distance"
    higher_is_better = False

    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        ref_distances = torch.cdist(ref, ref)
        bandwidth = _off_diagonal(ref_distances).median().clamp_min(TINY)

        def kernel(distances: torch.Tensor) -> torch.Tensor:
            return torch.exp(-0.5 * (distances / bandwidth).square())

        within_ref = _off_diagonal(kernel(ref_distances)).mean()
        within_est = _off_diagonal(kernel(torch.cdist(est, est))).mean()
        return within_ref + within_est - 2 * kernel(torch.cdist(ref, est)).mean()


class Diversity(_BetweenFeatures):
    """Samples' spread (mean pairwise distance) against real music's, folded: 1 = as diverse, → 0 = collapse."""

    name = "diversity"
    higher_is_better = True

    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        spread = [_off_diagonal(torch.cdist(vectors, vectors)).mean() + TINY for vectors in (est, ref)]
        ratio = spread[0] / spread[1]
        # min(r, 1/r): too alike (mode collapse) and too scattered are both r's distance from 1, in log terms
        return torch.minimum(ratio, ratio.reciprocal())


class Novelty(GenerationMetric):
    """Memorisation check: samples' distance to their nearest training clip against unseen music's, capped at 1."""

    name = "novelty"
    higher_is_better = True

    def __call__(
        self, reference: torch.Tensor, estimate: torch.Tensor, train: torch.Tensor | None = None
    ) -> torch.Tensor:
        if train is None:
            raise AudiozooError("novelty compares samples with the training clips: pass them as train=")
        ref, est, seen = features(self.config.sample_rate, reference, estimate, train)
        nearest = [torch.cdist(vectors, seen).amin(1).mean() for vectors in (est, ref)]
        ratio = nearest[0] / nearest[1].clamp_min(TINY)
        # Farther from the training clips than unseen music is no merit (other metrics see that): 1 is the top.
        return ratio.clamp_max(1.0).float()


@hookimpl
def register_metrics(register):
    register(FrechetLogMel)
    register(KernelDistance)
    register(Diversity)
    register(Novelty)
