"""Bootstrap intervals: seeded, per clip, honest about what they cannot draw, and the margin verdicts need."""

from __future__ import annotations

import math

import pytest
import torch

from audiozoo.intervals import Figure, bootstrap, clears, take


def mean_gap(ref, est) -> torch.Tensor:
    return (torch.cat(list(ref)).mean() - torch.cat(list(est)).mean()).abs()


def test_clips_are_resampled_whole_whatever_the_features_shape():
    frames = torch.arange(12.0).view(3, 4)
    assert torch.equal(take(frames, torch.tensor([2, 2, 0])), frames[[2, 2, 0]])
    per_clip = [torch.ones(2, 3), torch.zeros(5, 3)]
    assert [t.shape[0] for t in take(per_clip, torch.tensor([1, 1, 0]))] == [5, 5, 2]


def test_the_interval_is_seeded_and_covers_the_spread_of_other_draws_of_the_music():
    """Sets of 16 clips drawn from one population: the 90 % interval of the gap of one pair of
    sets holds the gap of most other pairs."""
    generator = torch.Generator().manual_seed(0)
    def draw():
        return torch.randn(16, 1, generator=generator) + 0.5, torch.randn(16, 1, generator=generator)
    ref, est = draw()
    figure = bootstrap(mean_gap, ref, est, draws=200)
    assert figure == bootstrap(mean_gap, ref, est, draws=200) != bootstrap(mean_gap, ref, est, draws=200, seed=1)
    others = [float(mean_gap(*draw())) for _ in range(200)]
    inside = sum(figure.low <= o <= figure.high for o in others) / len(others)
    assert 0.6 < inside <= 1.0, inside


def test_no_interval_where_none_can_be_drawn():
    ref, est = torch.ones(4, 1), torch.zeros(4, 1)
    assert not bootstrap(mean_gap, ref, est, draws=0).has_interval
    assert not bootstrap(lambda r, e: torch.tensor(math.nan), ref, est).has_interval
    assert math.isnan(bootstrap(mean_gap, ref, est, draws=0).half_width)


@pytest.mark.parametrize("better, worse, higher, expected", [
    (Figure(0.1, 0.05, 0.2), Figure(0.5, 0.3, 0.7), False, True),
    (Figure(0.1, 0.05, 0.4), Figure(0.5, 0.3, 0.7), False, False),  # the intervals overlap: no margin
    (Figure(0.1), Figure(0.5, 0.3, 0.7), False, True),  # no interval: its value stands for both ends
    (Figure(80.0, 70.0, 90.0), Figure(20.0, 10.0, 30.0), True, True),
    (Figure(math.nan), Figure(0.5), False, False),
])
def test_a_verdict_needs_the_intervals_apart(better, worse, higher, expected):
    assert clears(better, worse, higher) is expected
