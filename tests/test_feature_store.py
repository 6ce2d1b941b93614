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
    assert store.score(metric, reference, estimate, reference) == direct and Level.described == 2
    assert FeatureStore(tmp_path).score(metric, reference, 2 * estimate, reference) != direct  # a later process
    assert Level.described == 3  # only the new estimate was described
    store.score(Level(LevelConfig(power=1.0)), reference, estimate, reference)
    assert Level.described == 5  # other settings: the reference described again
    store.score(metric, reference[:3], estimate, reference)
    assert Level.described == 7  # other clips too
