"""Bootstrap intervals for set figures: how far a figure from 12-30 clips could move with other clips.

A set figure (a distance between the samples and real music) rests on a few dozen clips, so two
figures a little apart may swap with other clips. :func:`bootstrap` resamples both sets' clips
with replacement and reads the spread of the figure over the draws; the tables print it as ±
and the verdicts are given only where intervals do not overlap (:func:`clears`).

It resamples the features' first dimension: clips for per-clip features (``[N, D]``, ``[N, F, D]``
or one tensor per clip), so a clip's frames stay together. A clip drawn twice counts as two
clips, so an estimator that leaves out a clip's pairs with itself sees a slightly tighter set:
the interval is a reading of the figure's spread, not an exact confidence interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

SEED = 0
DRAWS = 100
"""Resamplings per figure: the 5th and 95th percentiles of 100 draws move by about a tenth of the
interval's width between seeds, and a draw costs one ``between`` (no features recomputed)."""
LEVEL = 0.9
"""Two-sided coverage: the 5th to the 95th percentile of the draws."""


@dataclass(frozen=True)
class Figure:
    """A set figure with its bootstrap interval (``low``, ``high``; NaN where none was drawn)."""

    value: float
    low: float = math.nan
    high: float = math.nan

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def half_width(self) -> float:
        """Half the interval's width: what the tables print after ±."""
        return (self.high - self.low) / 2 if self.has_interval else math.nan


def take(features: Any, index: torch.Tensor) -> Any:
    """``features`` at the clips ``index`` (a tensor along its first dimension, or a list of per-clip tensors)."""
    if isinstance(features, torch.Tensor):
        return features[index.to(features.device)]
    return [features[i] for i in index.tolist()]


def bootstrap(between: Callable[[Any, Any], torch.Tensor | float], reference: Any, estimate: Any,
              draws: int = DRAWS, seed: int = SEED, level: float = LEVEL) -> Figure:
    """``between(reference, estimate)`` and the percentile interval of the same figure over
    ``draws`` resamplings of both sets (clips drawn with replacement, seeded); ``draws=0``: no interval.

    Draws whose figure is not finite are left out; with fewer than half finite, no interval.
    """
    value = float(between(reference, estimate))
    if draws <= 0 or not math.isfinite(value):
        return Figure(value)
    generator = torch.Generator().manual_seed(seed)
    figures = []
    for _ in range(draws):
        pick_ref = torch.randint(len(reference), (len(reference),), generator=generator)
        pick_est = torch.randint(len(estimate), (len(estimate),), generator=generator)
        figures.append(float(between(take(reference, pick_ref), take(estimate, pick_est))))
    finite = [f for f in figures if math.isfinite(f)]
    if len(finite) < draws / 2:
        return Figure(value)
    low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return Figure(value, float(low), float(high))


def clears(better: Figure, worse: Figure, higher_is_better: bool) -> bool:
    """Whether ``better`` is better than ``worse`` beyond both intervals (their bounds where drawn,
    else their values): the margin a verdict needs."""
    if not (math.isfinite(better.value) and math.isfinite(worse.value)):
        return False
    if higher_is_better:
        return _bound(better, "low") > _bound(worse, "high")
    return _bound(better, "high") < _bound(worse, "low")


def _bound(figure: Figure, side: str) -> float:
    return getattr(figure, side) if figure.has_interval else figure.value
