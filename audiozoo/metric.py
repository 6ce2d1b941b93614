"""The Metric interface: a figure computed on decoded audio, so every representation is judged alike."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from audiozoo.distances import check_sets


@dataclass
class MetricConfig:
    sample_rate: int = 3150


class Metric(ABC):
    """A figure on waveforms at ``config.sample_rate``, batched, on whatever device they are on.

    A reconstruction metric (``task = "reconstruction"``) is called
    ``metric(reference[B, T], estimate[B, T]) -> Tensor[B]``: clip ``i`` of ``estimate`` is clip
    ``i`` of ``reference`` after a round trip, so there is one figure per clip and the caller
    chooses how to summarise them (mean, worst clip). A generation metric compares unpaired
    sets instead: see :class:`GenerationMetric`.
    """

    name: ClassVar[str]
    Config: ClassVar[type[MetricConfig]] = MetricConfig
    task: ClassVar[Literal["reconstruction", "generation"]]
    higher_is_better: ClassVar[bool]
    unit: ClassVar[str] = ""

    def __init__(self, config: MetricConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @abstractmethod
    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """Both ``[B, T]`` waveforms at ``config.sample_rate``."""


class GenerationMetric(Metric):
    """``metric(reference[N, T], estimate[M, T], train=None) -> Tensor[]``: one figure for a set of samples.

    Generated clips pair with no particular real clip, so a generation metric compares the two
    sets as distributions and returns a scalar. ``reference`` is real audio the model never saw
    (the test split): the same figure between two disjoint real sets is the floor a perfect
    generator reaches. ``train`` (``[K, T]``, the training split) is only for metrics that check
    memorisation, which need to know what the model saw; the others ignore it, so a caller may
    always pass it.
    """

    task = "generation"
    distance: ClassVar[bool] = False
    """True for a distance from the samples to real music (``higher_is_better`` False): on real
    music it must rank held-out real clips best and every noise sentinel clearly below every
    degraded one (tests/test_metrics.py checks each registered distance); only a distance can be
    a table's pivot. False for figures of other kinds (a rate, diversity, memorisation)."""
    structure: ClassVar[bool] = False
    """True for a figure that hears musical structure (partials, their stability and change): a
    cell that does not beat every noise sentinel on each of these is labelled noise-like."""
    memorisation: ClassVar[bool] = False
    """True for the share (%) of samples that copy training clips: a cell where it reaches 10 %
    is labelled a copier, however music-like its samples."""

    @abstractmethod
    def __call__(
        self, reference: torch.Tensor, estimate: torch.Tensor, train: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Waveforms at ``config.sample_rate``; the result is a 0-dimensional tensor on ``reference``'s device."""


class FeatureSetMetric(GenerationMetric):
    """A generation metric that describes each clip by a feature vector and compares the two sets of vectors.

    Subclasses say how a clip is described (:meth:`features`) and how two sets of descriptions
    compare (:meth:`between`); the checks and device handling are here once.
    """

    @abstractmethod
    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """``[N, T]`` waveforms → ``[N, D]`` feature vectors."""

    @abstractmethod
    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        """The figure from the reference's and the estimate's vectors ``[N, D]`` and ``[M, D]``."""

    def __call__(
        self, reference: torch.Tensor, estimate: torch.Tensor, train: torch.Tensor | None = None
    ) -> torch.Tensor:
        check_sets(reference, estimate)
        return self.between(*(self.features(clips.to(reference.device)) for clips in (reference, estimate))).float()
