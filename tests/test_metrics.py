"""Metrics on real music: every registered metric ranks a ladder of degradations of the embedded classical clips.

The clips come through audiozoo's own pipeline: 5 s segments (four per file) at 3150 Hz, the
files split in halves by the data's seeded hash: 32 files for training, 16 + 16 held out. The
held-out halves are two disjoint sets of real music, so the figure between them is the floor
a perfect generator reaches. The figures docs/metrics.md quotes:
``pytest tests/test_metrics.py -k ladder -s``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from audiozoo import AudiozooError, get_metric, list_metrics, prepare
from audiozoo.data.prepare import held_out_files
from audiozoo.metric import GenerationMetric, Metric
from audiozoo.plugins import PluginHost, host
from audiozoo.sentinels import make_sentinels, sentinels
from conftest import SAMPLE_RATE, make_distribution

METRICS = [name for name in list_metrics() if get_metric(name).unavailable_reason() is None]
"""Every metric that can run here (FAD and KAD need weights: tests/test_embedding_metrics.py has them)."""
"""Every registered metric: a new plugin is covered the moment it registers."""
GENERATION = [name for name in METRICS if host().registry("metrics").get(name).task == "generation"]
RECONSTRUCTION = [name for name in METRICS if host().registry("metrics").get(name).task == "reconstruction"]


@dataclass(frozen=True)
class Splits:
    train: torch.Tensor  # [128, T]: 32 files × 4 segments
    reference: torch.Tensor  # [64, T]: held-out files, first half
    other: torch.Tensor  # [64, T]: held-out files, the other half


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> Splits:
    cache = str(tmp_path_factory.mktemp("cache"))
    data = prepare(clip_seconds=20.0, segments=4, test_fraction=0.5, cache_dir=cache, progress=False)
    segments = torch.from_numpy(np.array(data.segments))  # a copy: the cache is memory-mapped read-only
    train, test = data.split_indices()
    test_files = sorted({data.files[i] for i in data.segment_file[test]})
    first_half = set(held_out_files(test_files, 0.5, data.config.split_seed))
    in_first = np.array([data.files[i] in first_half for i in data.segment_file[test]])
    return Splits(segments[train], segments[test[in_first]], segments[test[~in_first]])


# --- degradations ------------------------------------------------------------------------------


def rms(wave: torch.Tensor) -> torch.Tensor:
    return wave.square().mean(-1, keepdim=True).sqrt()


def with_noise(wave: torch.Tensor, snr_db: float, seed: int = 0) -> torch.Tensor:
    """White noise added ``snr_db`` below each clip's own power."""
    noise = torch.randn(wave.shape, generator=torch.Generator().manual_seed(seed))
    return wave + noise * rms(wave) * 10 ** (-snr_db / 20)


def white_noise(wave: torch.Tensor) -> torch.Tensor:
    """White noise in place of each clip, at the clip's RMS."""
    return torch.randn(wave.shape, generator=torch.Generator().manual_seed(1)) * rms(wave)


def low_passed(wave: torch.Tensor, cutoff_hz: float = 400.0) -> torch.Tensor:
    """Everything above ``cutoff_hz`` removed (of 1575 Hz at 3150 Hz): heavily muffled, still music."""
    spectrum = torch.fft.rfft(wave)
    spectrum[..., torch.fft.rfftfreq(wave.shape[-1], 1 / SAMPLE_RATE) > cutoff_hz] = 0
    return torch.fft.irfft(spectrum, n=wave.shape[-1])


DEGRADATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "mild": functools.partial(with_noise, snr_db=20.0),
    "strong": functools.partial(with_noise, snr_db=10.0),
    "white": white_noise,
    "low_pass": low_passed,
}
QUALITY_LADDER = ("real", "mild", "strong", "white")
"""Estimate sets from best to worst: the other real half, then it degraded more and more."""


def badness(name: str, value):
    """A figure (float or tensor) oriented so that larger is worse, whatever the metric's direction."""
    return -value if host().registry("metrics").get(name).higher_is_better else value


def report(what: str, value: float) -> None:
    print(f"\n  {what}: {value:.4g}", end="")


# --- generation metrics ------------------------------------------------------------------------

DISTANCES = [name for name in GENERATION if "distance" in host().registry("metrics").get(name).roles]
"""Distances to real music: the ruler every table pivots on, held to the sentinel test."""
STRUCTURE = [name for name in GENERATION if "structure" in host().registry("metrics").get(name).roles]
NOT_LADDERED = {"copies", "music_likeness"}
"""A memorisation check ranks copying, not quality; a rate is 0 for every clip far from real music, noise or not."""


@pytest.fixture(scope="module")
def estimates(splits: Splits) -> dict[str, torch.Tensor]:
    copies = splits.train[: len(splits.other)]
    return {
        "identical": splits.reference,
        "real": splits.other,
        **{name: degrade(splits.other) for name, degrade in DEGRADATIONS.items()},
        **make_sentinels(SAMPLE_RATE, splits.other, splits.train),
        "near_copies": with_noise(copies, 20.0),
    }


@pytest.fixture(scope="module")
def score(splits: Splits, estimates: dict[str, torch.Tensor]) -> Callable[[str, str], float]:
    """``score(metric, estimate)``: the metric between the reference half and that estimate set, computed once."""

    @functools.cache
    def compute(name: str, estimate: str) -> float:
        value = get_metric(name)(splits.reference, estimates[estimate], splits.train)
        assert value.ndim == 0 and torch.isfinite(value), (name, estimate, value)
        return float(value)

    return compute


def sentinel_labels(kind: str) -> list[str]:
    return [s.label for s in sentinels(SAMPLE_RATE) if s.kind == kind]


def test_every_build_registers_a_structure_distance():
    assert DISTANCES and set(STRUCTURE) & set(DISTANCES)


def test_the_default_pivot_is_a_distance_that_grades_fidelity():
    """Tables pivot on one figure: it must pass the sentinel test here (a distance) and the ladder
    test of tools/ladder_table.py (a fidelity metric), so that it ranks music-like samples."""
    pivot = host().defaults["pivot"]
    assert {"distance", "fidelity"} <= host().registry("metrics").get(pivot).roles


@pytest.mark.parametrize("name", DISTANCES)
def test_distance_ranks_real_best_and_every_noise_below_every_degradation(name, score):
    """The ruler's own test on real music: the held-out half is the best set (within the estimator's
    resolution, the gap between a set and itself and the real floor); every noise built to fool the
    metric scores clearly worse than every degraded real set, by more than that resolution."""
    ideal, real = score(name, "identical"), score(name, "real")
    resolution = abs(real - ideal)
    noise = {label: score(name, label) for label in sentinel_labels("noise")}
    degraded = {label: score(name, label) for label in sentinel_labels("degraded")}
    for label, value in {**noise, **degraded}.items():
        report(f"{name} {label}", value)
    assert all(badness(name, v) >= badness(name, real) - resolution for v in (*noise.values(), *degraded.values()))
    worst_degraded = max(badness(name, v) for v in degraded.values())
    best_noise = min(badness(name, v) for v in noise.values())
    assert best_noise - worst_degraded > resolution, (noise, degraded, resolution)


def test_envelope_distances_are_fooled_by_envelope_noise(splits, estimates):
    """Why envelope_metrics is off by default: its distances rank noise shaped like music's envelope
    nearer to real music than real music under +10 dB noise or a 400 Hz low-pass."""
    from audiozoo_plugins.envelope_metrics import FrechetLogMel, KernelDistance

    for metric in (FrechetLogMel(), KernelDistance()):
        noise = float(metric(splits.reference, estimates["noise: envelope"]))
        assert noise < float(metric(splits.reference, estimates["degraded: low-pass 400 Hz"]))
        assert noise < float(metric(splits.reference, estimates["degraded: +10 dB noise"]))


@pytest.mark.parametrize("name", [n for n in GENERATION if n not in NOT_LADDERED])
def test_generation_ladder_is_ranked(name, score):
    values = [score(name, rung) for rung in QUALITY_LADDER]
    for rung, value in zip(QUALITY_LADDER, values):
        report(f"{name} reference vs {rung}", value)
    for rung, worse, better in zip(QUALITY_LADDER[1:], values[1:], values):
        assert badness(name, worse) > badness(name, better), f"{rung} should score worse than the rung before: {values}"


@pytest.mark.parametrize("name", [n for n in GENERATION if n not in NOT_LADDERED])
def test_real_splits_score_clearly_closer_than_degraded(name, score):
    """The floor (two real halves) sits nearer the ideal (a set against itself) than to the first degradation."""
    ideal, floor, degraded = score(name, "identical"), score(name, "real"), score(name, "mild")
    assert badness(name, ideal) <= badness(name, floor)
    assert abs(degraded - floor) > abs(floor - ideal), (ideal, floor, degraded)


@pytest.mark.parametrize("name", [n for n in GENERATION if n not in NOT_LADDERED])
def test_music_and_noise_are_far_apart(name, score):
    ideal, floor, worst = score(name, "identical"), score(name, "real"), score(name, "white")
    assert abs(worst - floor) > 5 * abs(floor - ideal), (ideal, floor, worst)


def test_music_likeness_counts_real_clips_in_and_noise_out(score):
    assert score("music_likeness", "identical") >= 90.0 and score("music_likeness", "real") >= 70.0
    for label in sentinel_labels("noise"):
        assert score("music_likeness", label) == 0.0, label
    for label in sentinel_labels("degraded")[1:]:  # Griffin-Lim and low-pass keep partials and notes
        assert score("music_likeness", label) >= 70.0, label


def synthetic(notes_per_second: float, clips: int, samples: int, seed: int = 0) -> torch.Tensor:
    """Three-voice tones with five decaying harmonics over a faint hiss: new notes at the given
    rate, each struck and decaying (0 holds one chord for the whole clip: a drone)."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / SAMPLE_RATE
    out = []
    for _ in range(clips):
        count = max(1, round(notes_per_second * samples / SAMPLE_RATE))
        voices = 0.0
        for _ in range(3):
            pitch = 110 * 2 ** (torch.randint(0, 24, (count,), generator=generator) / 12)
            phase = torch.cumsum(2 * math.pi * pitch.repeat_interleave(samples // count + 1)[:samples] / SAMPLE_RATE, 0)
            strike = torch.exp(-3 * (t % (samples / SAMPLE_RATE / count))) if count > 1 else 1.0
            voices = voices + strike * sum(math.exp(-0.3 * h) * torch.sin(h * phase) for h in range(1, 6))
        out.append(voices + 0.05 * torch.randn(samples, generator=generator))
    return torch.stack(out).float()


def test_notes_beat_every_noise_sentinel_and_a_drone_does_not(splits, score):
    """The ruler hears notes, not sound that is merely tonal: synthetic tones that change every
    0.5 s beat every noise sentinel on every structure metric; the same tones held as one drone
    (peaky, but no onset, no change) have no music-like clip, so they stay noise-like."""
    samples = splits.other.shape[1]
    melody, drone = synthetic(2.0, 16, samples), synthetic(0.0, 16, samples)
    for name in STRUCTURE:
        metric, noise = get_metric(name), [score(name, label) for label in sentinel_labels("noise")]
        value = float(metric(splits.reference, melody, splits.train))
        report(f"{name} melody", value)
        assert all(badness(name, value) < badness(name, other) for other in noise), (value, noise)
    assert float(get_metric("music_likeness")(splits.reference, drone, splits.train)) == 0.0


def test_copy_check_flags_copies_and_near_copies_only(score):
    """Training clips are all flagged; under a 20 dB hiss nearly all (a piece that repeats itself has a
    second near neighbour in its other segments, so its copy can pass as new)."""
    assert score("copies", "copies: training clips") == 100.0
    assert score("copies", "near_copies") >= 90.0
    for estimate in ("real", *sentinel_labels("noise"), *sentinel_labels("degraded")):
        assert score("copies", estimate) == 0.0, estimate


def test_copy_check_finds_a_shifted_copy(splits):
    """A training clip moved by 0.3 s (not a multiple of any frame hop) is still a copy."""
    shifted = torch.roll(splits.train[:8], round(0.3 * SAMPLE_RATE), -1)
    assert float(get_metric("copies")(splits.reference, shifted, splits.train)) >= 75.0


@pytest.mark.parametrize("name", GENERATION)
def test_generation_metrics_ignore_recording_level(name, splits, score):
    """Per-clip gains of ±20 dB on every set change nothing: loudness is not what makes music real."""
    generator = torch.Generator().manual_seed(2)

    def louder(clips: torch.Tensor) -> torch.Tensor:
        return clips * 10 ** torch.empty(len(clips), 1).uniform_(-1.0, 1.0, generator=generator)

    value = float(get_metric(name)(louder(splits.reference), louder(splits.other), louder(splits.train)))
    assert value == pytest.approx(score(name, "real"), rel=1e-3, abs=1e-4)


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("structure_distance", -2 / 64, 0.0),  # unbiased MMD² of a set with itself: -2(1 - mean kernel) / N
        ("music_likeness", 90.0, 100.0),  # a clip outside the 5th-95th percentile range by more than half of it
        ("diversity", 1.0, 1.0),
    ],
)
def test_identical_sets_score_the_ideal(name, low, high, score):
    assert low <= score(name, "identical") <= high


def test_copies_needs_the_training_clips(splits):
    with pytest.raises(AudiozooError, match="train"):
        get_metric("copies")(splits.reference, splits.other)


@pytest.mark.parametrize("name", GENERATION)
def test_builtin_generation_metrics_need_two_clips_per_set(name, splits):
    with pytest.raises(AudiozooError, match="at least 2 clips"):
        get_metric(name)(splits.reference, splits.other[:1], splits.train)


# --- reconstruction metrics --------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(splits: Splits) -> torch.Tensor:
    """One 5 s segment of each of 16 held-out files ``[16, T]``."""
    return splits.reference[::4]


@pytest.mark.parametrize("name", RECONSTRUCTION)
def test_reconstruction_ladder_is_ranked_clip_by_clip(name, clips):
    metric = get_metric(name)
    rungs = {"identical": clips, **{rung: DEGRADATIONS[rung](clips) for rung in QUALITY_LADDER[1:]}}
    values = {rung: metric(clips, estimate) for rung, estimate in rungs.items()}
    for rung, value in values.items():
        assert value.shape == (len(clips),) and torch.isfinite(value).all()
        report(f"{name} {rung} (mean over clips)", float(value.mean()))
    bad = {rung: badness(name, value) for rung, value in values.items()}
    for rung, before in zip(list(bad)[1:], list(bad)):
        assert (bad[rung] > bad[before]).all(), f"some clip scores {rung} no worse than {before}"
    low_pass = metric(clips, low_passed(clips))
    report(f"{name} low_pass (mean over clips)", float(low_pass.mean()))
    assert (badness(name, low_pass) > bad["mild"]).all()
    # music and noise far apart: no clip rebuilt as white noise scores as well as any clip under mild noise
    assert bad["white"].min() > bad["mild"].max()


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("snr", 100.0, math.inf),  # +∞ in exact arithmetic; TINY keeps it finite
        ("si_sdr", 100.0, math.inf),
        ("spectral_convergence", 0.0, 1e-6),
        ("mrstft", 0.0, 1e-6),
        ("lsd", 0.0, 1e-6),
        ("mel_l1", 0.0, 1e-6),
    ],
)
def test_identical_clips_score_the_ideal(name, low, high, clips):
    values = get_metric(name)(clips, clips.clone())
    assert ((low <= values) & (values <= high)).all(), values


@pytest.mark.parametrize("name", RECONSTRUCTION)
def test_reconstruction_is_per_clip(name, clips):
    """A clip's figure does not depend on the rest of the batch; a longer estimate is cut to the reference."""
    metric = get_metric(name)
    estimate = with_noise(clips[:3], 10.0)
    batch = metric(clips[:3], torch.cat((estimate, estimate[:, :100]), -1))
    for i in range(3):
        alone = metric(clips[i : i + 1], estimate[i : i + 1])
        torch.testing.assert_close(alone, batch[i : i + 1], rtol=1e-4, atol=1e-4)


def test_si_sdr_ignores_gain_and_snr_does_not(clips):
    estimate = with_noise(clips, 20.0)
    si_sdr, snr = get_metric("si_sdr"), get_metric("snr")
    torch.testing.assert_close(si_sdr(clips, 0.5 * estimate), si_sdr(clips, estimate), rtol=1e-4, atol=1e-4)
    assert (snr(clips, 0.5 * estimate) < snr(clips, estimate) - 3.0).all()


# --- every metric ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", METRICS)
def test_metric_declares_its_task(name):
    cls = host().registry("metrics").get(name)
    assert cls.task in ("reconstruction", "generation") and isinstance(cls.higher_is_better, bool)
    assert (cls.task == "generation") == issubclass(cls, GenerationMetric)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", METRICS)
def test_metrics_run_on_cuda(name, splits):
    metric = get_metric(name)
    reference, estimate, train = splits.reference[:8], with_noise(splits.other[:8], 10.0), splits.train[:8]
    on_cpu = metric(reference, estimate, train) if isinstance(metric, GenerationMetric) else metric(reference, estimate)
    cuda = [x.cuda() for x in (reference, estimate, train)]
    on_gpu = metric(*cuda) if isinstance(metric, GenerationMetric) else metric(*cuda[:2])
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=1e-3, atol=1e-3)


THIRD_PARTY = '''
import torch
from audiozoo import hookimpl
from audiozoo.metric import GenerationMetric

class LoudnessGap(GenerationMetric):
    """Difference of the sets' mean RMS level, in dB."""
    name = "loudness_gap"
    higher_is_better = False
    unit = "dB"

    def __call__(self, reference, estimate, train=None):
        level = lambda clips: 10 * clips.square().mean(-1).clamp_min(1e-10).log10().mean()
        return (level(estimate.to(reference.device)) - level(reference)).abs()

@hookimpl
def register_metrics(register):
    register(LoudnessGap)
'''


def test_third_party_metric_registers_without_core_change(tmp_path, monkeypatch, splits):
    site = make_distribution(tmp_path, "audiozoo-loudness", {"loudness": "zoo_loudness"}, {"zoo_loudness": THIRD_PARTY})
    monkeypatch.syspath_prepend(str(site))
    plugins = PluginHost()
    info = plugins.plugins["loudness"]
    assert (info.status, info.distribution, info.hooks) == ("loaded", "audiozoo-loudness", ["register_metrics"])
    assert "loudness_gap" in plugins.registry("metrics").names("*gap")
    cls = plugins.registry("metrics").get("loudness_gap")
    assert issubclass(cls, Metric) and cls.task == "generation"
    assert float(cls()(splits.reference, splits.reference)) == 0.0
    assert float(cls()(splits.reference, 0.1 * splits.other)) > 15.0


def test_clip_features_are_remembered_until_the_clips_change():
    """A bench scores one reference set against a dozen others with several metrics: features once."""
    from audiozoo.spectra import per_clips

    calls: list[int] = []

    @per_clips
    def total(sample_rate: int, clips: torch.Tensor) -> float:
        calls.append(sample_rate)
        return float(clips.sum())

    clips = torch.ones(2, 8)
    assert total(8000, clips) == total(8000, clips.clone()) == 16.0 and len(calls) == 1  # same clips
    clips.mul_(2)  # changed in place: computed again, not served stale
    assert total(8000, clips) == 32.0 and len(calls) == 2
    with torch.inference_mode():  # tensors made here (a bench's samples) have no version counter
        assert total(8000, torch.full((2, 8), 3.0)) == 48.0 and len(calls) == 3
