"""The reference features a bench shares: computed once per (clips, metric settings and version), on disk."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from audiozoo.feature_store import FeatureStore
from audiozoo.metric import FeatureSetMetric, MetricConfig


@dataclass
class LevelConfig(MetricConfig):
    power: float = 2.0


class Level(FeatureSetMetric):
    """Gap between the sets' mean level; counts how often it describes clips."""

    name = "level"
    Config = LevelConfig
    higher_is_better = False
    described = 0

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        Level.described += 1
        return clips.abs().pow(self.config.power).mean(-1, keepdim=True)

    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        return (ref.mean() - est.mean()).abs()


def test_reference_features_are_computed_once_and_never_served_to_other_settings(tmp_path):
    generator = torch.Generator().manual_seed(0)
    reference, estimate = torch.randn(4, 800, generator=generator), torch.randn(3, 800, generator=generator)
    metric, store = Level(), FeatureStore(tmp_path)
    direct = float(metric(reference, estimate))
    Level.described = 0
    assert store.measure(metric, reference, estimate, reference, draws=0).value == direct and Level.described == 2
    assert FeatureStore(tmp_path).measure(metric, reference, 2 * estimate, reference).value != direct  # a later process
    assert Level.described == 3  # only the new estimate was described
    store.measure(Level(LevelConfig(power=1.0)), reference, estimate, reference)
    assert Level.described == 5  # other settings: the reference described again
    store.measure(metric, reference[:3], estimate, reference)
    assert Level.described == 7  # other clips too


def test_a_figure_gets_a_bootstrap_interval_from_its_features_alone(tmp_path):
    """The interval is drawn from the features already made (no clip described again), holds the
    figure, is seeded, and narrows as the sets grow."""
    generator = torch.Generator().manual_seed(1)
    metric, store = Level(), FeatureStore(tmp_path)
    small = [torch.randn(n, 400, generator=generator) for n in (6, 6)]
    large = [torch.randn(n, 400, generator=generator) for n in (96, 96)]
    Level.described = 0
    figure = store.measure(metric, *small, small[0])
    assert Level.described == 2 and figure.has_interval and figure.low < figure.high
    assert store.measure(metric, *small, small[0]) == figure
    assert store.measure(metric, *large, large[0]).half_width < figure.half_width / 2
