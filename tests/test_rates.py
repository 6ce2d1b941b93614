"""Any sample rate: windows keep their duration, every model runs on every representation, metrics
say the rate they listen at and resample to it."""

from __future__ import annotations

import pytest
import soundfile as sf
import torch
from audiozoo_plugins.structure_metrics import structure_features
from click.testing import CliRunner
from conftest import SAMPLE_RATE, write_music
from test_models import debug_model, trainer

import audiozoo
from audiozoo import dsp
from audiozoo.api import get_metric, get_representation
from audiozoo.cli import cli
from audiozoo.model import Batch
from audiozoo.plugins import host
from audiozoo.spectra import STRUCTURE_RATE

RATES = (SAMPLE_RATE, 22050)
"""The report's rate and a common one: the contract runs over both."""

SECONDS = 0.5


def config(name: str, **settings):
    """A representation's checked settings, without building its constants (a mel inverse at 48 kHz)."""
    return host().registry("representations").get(name).Config(**settings)


@pytest.mark.parametrize(("rate", "n_fft", "hop"), [(3150, 512, 128), (16000, 2600, 650), (22050, 3584, 896),
                                                     (44100, 7168, 1792), (48000, 7800, 1950)])
@pytest.mark.parametrize("name", ["stft", "mel", "mfcc"])
def test_window_and_hop_are_the_reports_at_3150_and_as_long_in_time_at_any_rate(name, rate, n_fft, hop):
    settings = config(name, sample_rate=rate)
    assert (settings.n_fft, settings.hop_length) == (n_fft, hop)
    assert abs(settings.n_fft / rate - 512 / 3150) < 2e-4 and settings.hop_length * 4 == settings.n_fft
    assert config(name, sample_rate=rate, n_fft=8192).hop_length == hop  # each default on its own


@pytest.mark.parametrize(("rate", "bands"), [(3150, 64), (16000, 134), (22050, 148), (44100, 178), (48000, 181)])
def test_mel_bands_keep_their_width_on_the_mel_scale(rate, bands):
    assert config("mfcc", sample_rate=rate, fmax=1000.0).n_mels == bands  # the rate's, whatever the band
    assert config("mel", sample_rate=rate).n_mels == pytest.approx(2 * bands, abs=1)  # mel's bands are half as wide


def test_a_hop_too_long_for_a_given_window_names_its_default():
    with pytest.raises(ValueError, match=r"got 650 \(the default, 40.6 ms at 16000 Hz\)"):
        config("mel", sample_rate=16000, n_fft=512)


@pytest.fixture(scope="module", params=RATES, ids=lambda rate: f"{rate}Hz")
def clips(request, music) -> tuple[int, torch.Tensor]:
    rate = request.param
    return rate, dsp.resample(music[:, : int(SECONDS * SAMPLE_RATE)], SAMPLE_RATE, rate)


@pytest.mark.parametrize("repr_name", audiozoo.list_representations(standalone=True))
@pytest.mark.parametrize("name", host().registry("models").names())
def test_every_model_trains_samples_and_decodes_on_every_representation(name, repr_name, clips):
    rate, wave = clips
    representation = get_representation(repr_name, sample_rate=rate).fit([wave])
    x = representation.encode(wave)
    model = debug_model(name, tuple(x.shape[1:]))
    updater = trainer(model)
    for _ in range(2):
        losses = updater.step(Batch(x, wave, representation))
        assert all(torch.isfinite(v).all() for v in losses.values()), losses
    audio = representation.decode(model.sample(2, torch.Generator().manual_seed(0)), length=wave.shape[1])
    assert audio.shape == (2, wave.shape[1]) and torch.isfinite(audio).all()


def test_runs_end_to_end_at_another_rate_through_a_latent_space(tmp_path):
    """An autoencoder at 22050 Hz, a flow on its latents, and the samples written at 22050 Hz."""
    for i in range(4):
        write_music(tmp_path / "music" / f"p{i}.wav", 1.2, 44100, seed=i)
    common = ["preset=debug", "data=folder", f"data.root={tmp_path / 'music'}", "data.sample_rate=22050",
              "data.clip_seconds=1.0", "data.segments=2", "device=cpu", f"runs_dir={tmp_path / 'runs'}"]
    vae = CliRunner().invoke(cli, ["run", "model=vae_convpool", "repr=waveform", "name=vae", *common])
    assert vae.exit_code == 0, vae.output
    prior = CliRunner().invoke(cli, ["run", "model=flow", "repr=latent", f"repr.run={tmp_path / 'runs' / 'vae'}",
                                     "name=prior", *common])
    assert prior.exit_code == 0, prior.output
    samples = sorted((tmp_path / "runs" / "prior" / "samples").glob("*.wav"))
    assert samples and all(sf.info(path).samplerate == 22050 for path in samples)
    assert sf.info(samples[0]).frames == 11025  # half of a 1 s clip


def metric_names() -> list[str]:
    return [name for name in host().registry("metrics").names() if get_metric(name).unavailable_reason() is None]


def test_every_metric_says_the_rate_it_listens_at():
    rates = {name: get_metric(name).analysis_rate for name in host().registry("metrics").names()}
    assert rates["structure_distance"] == rates["music_likeness"] == rates["copies"] == STRUCTURE_RATE == 3150
    assert rates["snr"] is None and rates["mel_l1"] is None  # on the clips' own rate
    assert rates["note_distance"] == 22050 and rates["fad_vggish"] == 16000 and rates["fad_panns"] == 32000


def test_structure_features_hear_the_same_music_at_any_rate(music):
    at_3150 = structure_features(SAMPLE_RATE, music)
    at_22050 = structure_features(22050, dsp.resample(music, SAMPLE_RATE, 22050))
    torch.testing.assert_close(at_22050, at_3150, rtol=0.05, atol=0.02)


def noise_like(wave: torch.Tensor) -> torch.Tensor:
    rms = wave.square().mean(-1, keepdim=True).sqrt()
    return torch.randn(wave.shape, generator=torch.Generator().manual_seed(0)) * rms


@pytest.fixture(scope="module", params=RATES, ids=lambda rate: f"{rate}Hz")
def pieces(request, music) -> tuple[int, torch.Tensor]:
    """The four half clips of real music (14.5 s) at each rate."""
    return request.param, dsp.resample(music, SAMPLE_RATE, request.param)


@pytest.mark.parametrize("name", metric_names())
def test_every_metric_at_any_rate_scores_real_music_better_than_noise(name, pieces):
    rate, wave = pieces
    metric = get_metric(name, sample_rate=rate)
    reference, real = wave[:2], wave[2:]
    if metric.task == "generation":
        same, noise = (metric(reference, estimate, wave) for estimate in (real, noise_like(real)))
    else:
        same, noise = (metric(reference, estimate) for estimate in (0.5 * reference, noise_like(reference)))
    assert torch.isfinite(same).all() and torch.isfinite(noise).all(), (same, noise)
    if metric.task == "generation" and "distance" not in metric.roles:
        return  # a rate or a spread: two clips say nothing about its ranking
    assert (same.mean() > noise.mean()) == metric.higher_is_better, (same, noise)


def test_spectral_metrics_keep_their_windows_duration_at_any_rate():
    """Two tones 12 Hz apart: far apart for a 163 ms window (6 Hz bins) at 3150 Hz and at
    22 050 Hz alike; a window fixed at 512 samples would be 23 ms at 22 050 Hz (43 Hz bins)."""
    def tone(hz: float, rate: int) -> torch.Tensor:
        return torch.sin(torch.arange(rate) * 2 * torch.pi * hz / rate)[None]

    low, high = (float(get_metric("spectral_convergence", sample_rate=rate)(tone(440, rate), tone(452, rate)))
                 for rate in (SAMPLE_RATE, 22050))
    assert high == pytest.approx(low, rel=0.1) and high > 0.5
