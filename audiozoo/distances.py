"""Distances between two sets of clip feature vectors, shared by the generation metric plugins.

Generated clips pair with no real clip, so generation metrics compare sets; these estimators
are kept in the core so that metric plugins depend on the core alone, never on each other.
"""

from __future__ import annotations

import torch

from audiozoo.errors import AudiozooError

TINY = 1e-12

def check_sets(*sets: torch.Tensor) -> None:
    """Every set has at least two clips: a spread, a kernel mean off the diagonal, need two."""
    if min(len(clips) for clips in sets) < 2:
        raise AudiozooError(f"a generation metric needs at least 2 clips per set, got {[len(c) for c in sets]}")


def standardise(reference: torch.Tensor, *others: torch.Tensor, min_spread: float | torch.Tensor
                ) -> list[torch.Tensor]:
    """Every set in units of the reference set's spread of each feature (floored at ``min_spread``), centred on its mean.

    Distances then count each feature by how much real music varies in it, whatever its unit;
    the floor keeps a feature no real clip varies in from turning rounding into a huge distance.
    """
    mean, spread = reference.mean(0), reference.std(0).clamp_min(min_spread)
    return [(vectors - mean) / spread for vectors in (reference, *others)]


def off_diagonal(square: torch.Tensor) -> torch.Tensor:
    """The entries of an ``[N, N]`` matrix off its diagonal (a clip's distance to itself is no sample)."""
    return square[~torch.eye(len(square), dtype=torch.bool, device=square.device)]


def mmd2(ref: torch.Tensor, est: torch.Tensor, width: float = 1.0) -> torch.Tensor:
    """Unbiased squared maximum mean discrepancy between ``[N, D]`` and ``[M, D]``.

    Gaussian kernel ``width`` times as wide as the reference clips' median pairwise distance:
    unbiased, so two sets from one distribution score about 0 (slightly below, at random), and
    no Gaussian assumption, which tens of clips could not check. At ``width`` 1 (the median
    heuristic) every set more than a few median distances away saturates the kernel and is
    ranked only by its own spread; a wider kernel keeps far-away sets in order of distance.
    """
    ref_distances = torch.cdist(ref, ref)
    bandwidth = width * off_diagonal(ref_distances).median().clamp_min(TINY)

    def kernel(distances: torch.Tensor) -> torch.Tensor:
        return torch.exp(-0.5 * (distances / bandwidth).square())

    within_ref = off_diagonal(kernel(ref_distances)).mean()
    within_est = off_diagonal(kernel(torch.cdist(est, est))).mean()
    return within_ref + within_est - 2 * kernel(torch.cdist(ref, est)).mean()


def psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (rounding's negative eigenvalues set to 0)."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """Fréchet distance between Gaussians fitted to ``[N, D]`` and ``[M, D]`` (FID's and FAD's formula)."""
    ref_cov, est_cov = torch.cov(ref.T), torch.cov(est.T)
    # tr √(Σr Σe) as tr √(√Σr Σe √Σr): symmetric, so eigvalsh; exact with as few clips as dimensions
    root = psd_sqrt(ref_cov)
    cross = torch.linalg.eigvalsh(root @ est_cov @ root).clamp_min(0).sqrt().sum()
    distance = (ref.mean(0) - est.mean(0)).square().sum() + ref_cov.trace() + est_cov.trace() - 2 * cross
    return distance.clamp_min(0)
