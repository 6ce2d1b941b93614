"""The ladders degrade real music deterministically and by grade; the fidelity metric ranks them.

The full ladder test (every metric, many file-disjoint splits, both data sets) is
``tools/ladder_table.py``; its tables are in docs/metrics.md. These checks run in seconds on a
few clips of the embedded data (the ``music`` fixture: four pieces; the first 7 s of each are
degraded, the last 7 s are the reference, so the sets differ by the degradation, not the pieces).
"""

from __future__ import annotations

import math

import pytest
import soxr
import torch

from audiozoo import dsp
from audiozoo.ladders import RUNGS, ladders, make_rung, piece_gates, wobble
from audiozoo.metric import MetricConfig
from audiozoo_plugins.fidelity_metrics import FEATURES, Fidelity, fidelity_features
from conftest import SAMPLE_RATE

SECONDS = 7.0
LADDERS = {rung.ladder: [r for r in ladders(SAMPLE_RATE) if r.ladder == rung.ladder] for rung in ladders(SAMPLE_RATE)}


@pytest.fixture(scope="module")
def clips(music: torch.Tensor) -> torch.Tensor:
    return music[:, : round(SECONDS * SAMPLE_RATE)]


@pytest.fixture(scope="module")
def reference(music: torch.Tensor) -> torch.Tensor:
    return music[:, -round(SECONDS * SAMPLE_RATE):]


@pytest.fixture(scope="module")
def rungs(clips: torch.Tensor) -> dict[str, torch.Tensor]:
    return {rung.label: make_rung(rung, clips, SAMPLE_RATE) for rung in ladders(SAMPLE_RATE)}


def test_every_ladder_has_three_rungs_with_stable_labels():
    assert list(LADDERS) == ["chop", "blur", "wobble", "grain", "smear", "frozen"]
    for name, rungs in LADDERS.items():
        assert [r.rung for r in rungs] == list(RUNGS)
        assert rungs[1].label == f"ladder: {name} (medium)"
        assert rungs[1].describe() == {"kind": "ladder", "ladder": name, "rung": "medium"}


def test_rungs_are_deterministic_and_keep_shape_and_level(clips, rungs):
    for rung in ladders(SAMPLE_RATE):
        again = make_rung(rung, clips, SAMPLE_RATE)
        assert torch.equal(again, rungs[rung.label]), rung.label
        assert again.shape == clips.shape and torch.isfinite(again).all()
    for rung in (r for r in ladders(SAMPLE_RATE) if r.ladder in ("chop", "grain", "wobble", "frozen")):
        assert not torch.equal(make_rung(rung, clips, SAMPLE_RATE, seed=1), rungs[rung.label]), rung.label


def log_spectral_distance(clips: torch.Tensor, other: torch.Tensor) -> float:
    """Mean |dB difference| of the 512-point STFT power (60 dB below each clip's peak kept)."""
    def db(wave):
        return dsp.power_to_db(dsp.power(dsp.stft(wave / wave.std(), 512, 128, dsp.hann_window(512))), 60.0)
    return float((db(clips) - db(other)).abs().mean())


@pytest.mark.parametrize("ladder", list(LADDERS))
def test_each_ladder_moves_further_from_the_music_rung_by_rung(ladder, clips, rungs):
    distances = [log_spectral_distance(clips, rungs[r.label]) for r in LADDERS[ladder]]
    assert 0 < distances[0] < distances[1] < distances[2], distances


def test_pieces_and_gaps_have_the_lengths_asked_for():
    gates = piece_gates((64, 1), 4000, 40.0, 10.0, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert gates.mean() == pytest.approx(0.8, abs=0.02)
    switches = gates.diff(dim=-1).abs().sum() / gates.numel()
    assert switches == pytest.approx(2 / 50, rel=0.1)  # one piece and one gap every 50 frames


@pytest.mark.parametrize("cents", [10.0, 60.0])
def test_wobble_deviates_a_tone_by_the_cents_asked_for(cents):
    """A 440 Hz tone through the wobble: its instantaneous frequency strays by ``cents`` RMS."""
    t = torch.arange(round(6 * SAMPLE_RATE)) / SAMPLE_RATE
    tone = torch.sin(2 * math.pi * 440.0 * t).expand(4, -1)
    wobbled = wobble(tone, torch.Generator().manual_seed(0), SAMPLE_RATE, cents)
    analytic = torch.fft.ifft(torch.fft.fft(wobbled) * (torch.fft.fftfreq(t.numel()) > 0) * 2)
    hz = analytic[:, 1:].mul(analytic[:, :-1].conj()).angle() * SAMPLE_RATE / (2 * math.pi)
    middle = hz[:, SAMPLE_RATE:-SAMPLE_RATE]
    deviation = 1200 * torch.log2(middle / 440.0)
    assert deviation.square().mean().sqrt() == pytest.approx(cents, rel=0.25)


def test_fidelity_features_are_per_frame_and_gain_independent(clips):
    features = fidelity_features(SAMPLE_RATE, clips)
    assert features.shape == (len(clips), 1 + clips.shape[1] // 128, len(FEATURES))
    louder = fidelity_features(SAMPLE_RATE, clips * 10.0)
    assert torch.allclose(features, louder, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("ladder", list(LADDERS))
def test_fidelity_ranks_real_before_mild_before_severe(ladder, reference, clips, rungs):
    """Later moments of the same four pieces as the reference: real, then mild, then severe."""
    metric = Fidelity()
    mild, severe = (rungs[r.label] for r in (LADDERS[ladder][0], LADDERS[ladder][2]))
    values = [float(metric(reference, e)) for e in (clips, mild, severe)]
    assert values[0] < values[1] < values[2], values


def test_fidelity_measures_clips_of_any_rate_at_its_own(reference, clips, rungs):
    """Clips at 8 kHz are resampled to the 3150 Hz the cues are set for: the same ranking, and a
    severe rung's figure near the one at 3150 Hz (the round trip only trims the band's top edge)."""
    def at_8k(wave: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(soxr.resample(wave.numpy().T, SAMPLE_RATE, 8000, quality="HQ").T.copy())

    metric, at_8k_metric = Fidelity(), Fidelity(MetricConfig(sample_rate=8000))
    blurred, chopped = rungs["ladder: blur (severe)"], rungs["ladder: chop (severe)"]
    values = [float(at_8k_metric(at_8k(reference), at_8k(e))) for e in (clips, chopped, blurred)]
    assert values[0] < values[1] < values[2], values
    assert values[2] == pytest.approx(float(metric(reference, blurred)), rel=0.25)
