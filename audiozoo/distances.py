"""Distances between two sets of clip feature vectors, shared by the generation metric plugins.

Generated clips pair with no real clip, so generation metrics compare sets; these estimators
are kept in the core so that metric plugins depend on the core alone, never on each other.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
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


def mmd2(ref: torch.Tensor, est: torch.Tensor, width: float = 1.0,
         bandwidth: float | torch.Tensor | None = None) -> torch.Tensor:
    """Unbiased squared maximum mean discrepancy between ``[N, D]`` and ``[M, D]``.

    Gaussian kernel ``width`` times as wide as the reference clips' median pairwise distance
    (or exactly ``bandwidth`` wide, when given):
    unbiased, so two sets from one distribution score about 0 (slightly below, at random), and
    no Gaussian assumption, which tens of clips could not check. At ``width`` 1 (the median
    heuristic) every set more than a few median distances away saturates the kernel and is
    ranked only by its own spread; a wider kernel keeps far-away sets in order of distance.
    """
    ref_distances = torch.cdist(ref, ref)
    if bandwidth is None:
        bandwidth = width * off_diagonal(ref_distances).median()
    bandwidth = torch.as_tensor(bandwidth, dtype=ref.dtype, device=ref.device).clamp_min(TINY)

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


# --- the field's estimators, as fadtk and kadtk compute them (docs/metrics.md, "The field's metrics") ---

KAD_SCALE = 100.0
"""kadtk reports MMD² × 100, so that figures read like FAD's."""


def gaussian(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``[D]`` and covariance ``[D, D]`` (ddof 1, as ``np.cov``) of ``[N, D]`` frames, float64 (fadtk's)."""
    frames = frames.double()
    return frames.mean(0), torch.atleast_2d(torch.cov(frames.T))


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> torch.Tensor:
    """Fréchet distance between N(mu1, cov1) and N(mu2, cov2), computed as fadtk's ``calc_frechet_distance``.

    ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 tr √(Σ1 Σ2), where tr √(Σ1 Σ2) is the trace of fadtk's
    ``V √Λ V⁻¹`` (its 'eigenvalue method'): the sum of the complex square roots of Σ1 Σ2's
    eigenvalues, real part kept. Float64, not clamped at 0 (fadtk's figure, rounding and all).
    Unlike fadtk, nothing is raised when the roots have an imaginary part: they come from
    rounding in a product of two PSD matrices, whose eigenvalues are real and non-negative.
    """
    mu1, cov1, mu2, cov2 = (torch.as_tensor(x, dtype=torch.float64) for x in (mu1, cov1, mu2, cov2))
    cov1, cov2 = torch.atleast_2d(cov1), torch.atleast_2d(cov2.to(cov1.device))
    root_trace = torch.linalg.eigvals(cov1 @ cov2).sqrt().sum().real
    diff = mu1 - mu2.to(mu1.device)
    return diff @ diff + cov1.trace() + cov2.trace() - 2 * root_trace


def frechet_frames(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """:func:`frechet_distance` between Gaussians fitted to ``[N, D]`` and ``[M, D]`` frames (FAD).

    With fewer frames than dimensions (PANNs' 2048-d clip vectors, tens of clips) Σ1 Σ2 has
    rank below D, and its non-zero eigenvalues are the squared singular values of
    ``X̄ Ȳᵀ / √((N − 1)(M − 1))`` (the centred frames): tr √(Σ1 Σ2) is their sum, exactly.
    That is the same figure without a general eigendecomposition of a 2048 × 2048 product
    (a minute on two cores), and without that decomposition's rounding in its zero eigenvalues.
    """
    ref, est = ref.double(), est.double().to(ref.device)
    if min(len(ref), len(est)) >= ref.shape[1]:
        return frechet_distance(*gaussian(ref), *gaussian(est))
    centred = [(x - x.mean(0)) / (len(x) - 1) ** 0.5 for x in (ref, est)]
    root_trace = torch.linalg.svdvals(centred[0] @ centred[1].T).sum()
    diff = ref.mean(0) - est.mean(0)
    return diff @ diff + centred[0].square().sum() + centred[1].square().sum() - 2 * root_trace


class FadInfinity(NamedTuple):
    """fadtk's ``FADInfResults``: the intercept of FAD against 1/n, the slope, the fit's R², the (n, FAD) points."""

    score: float
    slope: float
    r2: float
    points: list[tuple[int, float]]


def fad_infinity(mu_ref: torch.Tensor, cov_ref: torch.Tensor, frames: torch.Tensor, steps: int = 25,
                 min_n: int = 500, seed: int = 0) -> FadInfinity:
    """FAD∞ as fadtk's ``score_inf``: FAD is biased by the number of frames n, about linearly in 1/n.

    For ``steps`` sizes n from ``min_n`` to ``len(frames)`` (``np.linspace``, truncated),
    n frames are drawn with replacement, their FAD to the reference statistics is taken, and a
    line is fitted against 1/n: the intercept is the FAD of infinitely many frames. fadtk draws
    with numpy's global, unseeded generator (a new figure every call); ``seed`` fixes the draws.
    """
    if len(frames) <= min_n:
        raise AudiozooError(f"FAD∞ needs more than min_n={min_n} frames, got {len(frames)}")
    generator = torch.Generator().manual_seed(seed)
    points = []
    for n in (int(n) for n in np.linspace(min_n, len(frames), steps)):
        drawn = frames[torch.randint(len(frames), (n,), generator=generator).to(frames.device)]
        points.append((n, float(frechet_distance(mu_ref, cov_ref, *gaussian(drawn)))))
    xs, ys = 1 / np.array([n for n, _ in points]), np.array([fad for _, fad in points])
    slope, intercept = np.polyfit(xs, ys, 1)
    r2 = 1 - np.sum((ys - (slope * xs + intercept)) ** 2) / np.sum((ys - ys.mean()) ** 2)
    return FadInfinity(float(intercept), float(slope), float(r2), points)


def median_distance(vectors: torch.Tensor) -> torch.Tensor:
    """Median pairwise Euclidean distance of ``[N, D]`` (the lower middle value, as ``torch.median`` in kadtk)."""
    return torch.pdist(vectors).median()


def kad(ref: torch.Tensor, est: torch.Tensor, bandwidth: float | None = None,
        bandwidth_from: Literal["reference", "evaluated"] = "reference") -> torch.Tensor:
    """Kernel audio distance (kadtk): unbiased MMD² × 100 between ``[N, D]`` and ``[M, D]`` frames, in float64.

    Gaussian kernel exp(−d² / 2h²); ``bandwidth`` h defaults to the median pairwise distance of
    the reference frames, so every set is measured with one ruler. kadtk takes it from the set
    being scored (``bandwidth_from="evaluated"``, kadtk issue #9): each figure then has its own
    kernel, and a collapsed set (small median) is judged with a narrow one.
    """
    ref, est = ref.double(), est.double().to(ref.device)
    if bandwidth is None:
        if bandwidth_from not in ("reference", "evaluated"):
            raise AudiozooError(f"bandwidth_from must be 'reference' or 'evaluated', got {bandwidth_from!r}")
        bandwidth = median_distance(ref if bandwidth_from == "reference" else est)
    return KAD_SCALE * mmd2(ref, est, bandwidth=bandwidth)
