"""The Metric interface: a figure computed on decoded audio, so every representation is judged alike."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch

from audiozoo.distances import check_sets

Task = Literal["reconstruction", "generation"]
"""How a metric is called and what it compares: said by the base class a metric subclasses
(:class:`ReconstructionMetric`, :class:`GenerationMetric`), never by the metric itself."""

Role = Literal["distance", "structure", "memorisation", "fidelity"]
ROLES: dict[str, str] = {
    "distance": "a distance from the samples to real music (higher_is_better False): on real music it must rank "
                "held-out real clips best and every noise sentinel clearly below every degraded one "
                "(tests/test_metrics.py checks each registered distance); only a distance can be a table's pivot",
    "structure": "hears musical structure (partials, their stability and change): a cell that does not beat "
                 "every noise sentinel on each of these is labelled noise-like",
    "fidelity": "grades music-like samples (how close almost-right music comes to real music), held to the "
                "ladder test (tools/ladder_table.py): real first, each ladder ordered mild < medium < severe, "
                "every medium and severe rung 3 real-vs-real sds from real, every noise sentinel beyond every "
                "medium rung; the rung verdicts (beats severe / medium / mild) read the fidelity metrics. It is not "
                "held to the distance test: grading how far music is from real, it may put music under loud hiss "
                "beyond noise that has no music at all (docs/metrics.md)",
    "memorisation": "the share (%) of samples that copy training clips: a cell where it reaches 10 % is "
                    "labelled a copier, however music-like its samples",
}
"""What a generation metric's figure is, besides its task: what the tables read it as, said once."""


@dataclass
class MetricConfig:
    sample_rate: int = 3150


class Metric(ABC):
    """A figure on waveforms at ``config.sample_rate``, batched, on whatever device they are on.

    Subclass :class:`ReconstructionMetric` (one figure per clip of a round trip) or
    :class:`GenerationMetric` (one figure for a set of samples); the base says the ``task``.
    """

    name: ClassVar[str]
    Config: ClassVar[type[MetricConfig]] = MetricConfig
    task: ClassVar[Task]
    higher_is_better: ClassVar[bool]
    unit: ClassVar[str] = ""
    version: ClassVar[int] = 1
    """Raise it when the metric's figures change for the same settings: cached figures are then recomputed."""
    analysis_rate: ClassVar[int | None] = None
    """The rate the metric listens at: it resamples clips at another ``config.sample_rate`` to it
    (a network's input rate, the rate its constants were set at). None: the clips' own rate (a
    figure on samples, or on spectra whose windows keep their duration at any rate)."""

    def __init__(self, config: MetricConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @property
    def cache_key(self) -> str:
        """What a cached figure of this metric is filed under: its name, version and settings, so a
        metric whose settings (or code) change never reuses an old figure."""
        settings = json.dumps(dataclasses.asdict(self.config), sort_keys=True, default=str)
        return f"{self.name}@{self.version}:{hashlib.sha256(settings.encode()).hexdigest()[:12]}"

    def unavailable_reason(self) -> str | None:
        """Why this metric cannot be computed here, in one line (its weights file is not set, say);
        None when it can. A bench then shows it as ``n/a`` with ``NAME: n/a REASON``, and the cell goes on."""
        return None

    @abstractmethod
    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """Both ``[B, T]`` waveforms at ``config.sample_rate``."""


class ReconstructionMetric(Metric):
    """``metric(reference[B, T], estimate[B, T]) -> Tensor[B]``: clip ``i`` of ``estimate`` is clip
    ``i`` of ``reference`` after a round trip, so there is one figure per clip and the caller
    chooses how to summarise them (mean, worst clip)."""

    task = "reconstruction"


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
    roles: ClassVar[frozenset[Role]] = frozenset()
    """What the figure is read as (:data:`ROLES`): ``{"distance", "structure"}`` for
    ``structure_distance``; none for a plain figure (a rate, diversity)."""

    @abstractmethod
    def __call__(
        self, reference: torch.Tensor, estimate: torch.Tensor, train: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Waveforms at ``config.sample_rate``; the result is a 0-dimensional tensor on ``reference``'s device."""


class FeatureSetMetric(GenerationMetric):
    """A generation metric that describes each clip by a feature vector and compares the two sets of vectors.

    Subclasses say how a clip is described (:meth:`features`) and how two sets of descriptions
    compare (:meth:`between`); the checks and device handling are here once. A caller that scores
    one reference set against many (the bench) passes its features once, as ``reference_features``
    (:class:`audiozoo.feature_store.FeatureStore` keeps them on disk).
    """

    @abstractmethod
    def features(self, clips: torch.Tensor) -> Any:
        """``[N, T]`` waveforms → per-clip features: ``[N, D]`` vectors, or one tensor per clip (frames × D)."""

    @abstractmethod
    def between(self, ref: Any, est: Any) -> torch.Tensor:
        """The figure from the reference's and the estimate's features."""

    def __call__(
        self, reference: torch.Tensor, estimate: torch.Tensor, train: torch.Tensor | None = None,
        reference_features: Any = None,
    ) -> torch.Tensor:
        check_sets(reference, estimate)
        ref = self.features(reference) if reference_features is None else reference_features
        return self.between(ref, self.features(estimate.to(reference.device))).float()
