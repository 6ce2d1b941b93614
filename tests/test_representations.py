"""Representations: the contract every registered one keeps, and the built-ins against librosa on real music."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiozoo import AudiozooError
from audiozoo.api import get_metric, get_representation, list_representations
from audiozoo.overrides import apply_preset, split_namespaces
from audiozoo.plugins import host
from conftest import HALF_CLIP, SAMPLE_RATE

REPRESENTATIONS = list_representations(standalone=True)
"""Every registered representation (a new plugin is covered the moment it registers), plus stft's magnitude form."""
CASES = [(name, {}) for name in REPRESENTATIONS] + [("stft", {"form": "magnitude"})]
IDS = [name + "".join(f"-{v}" for v in settings.values()) for name, settings in CASES]
MUSIC_ARGS = {"sample_rate": SAMPLE_RATE, "n_fft": 512, "hop_length": 128}


@pytest.fixture(params=CASES, ids=IDS)
def representation(request):
    name, settings = request.param
    return get_representation(name, **settings)


@pytest.fixture(scope="module")
def wave() -> torch.Tensor:
    """Four short synthetic clips [4, 3001]: tones and noise, different in every clip."""
    g = torch.Generator().manual_seed(0)
    t = torch.arange(3001) / SAMPLE_RATE
    freqs = torch.tensor([110.0, 262.0, 440.0, 880.0]).unsqueeze(1)
    return 0.3 * torch.sin(2 * torch.pi * freqs * t) + 0.05 * torch.randn(4, t.numel(), generator=g)


def snr(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    return get_metric("snr")(reference, estimate)


def spectral_convergence(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    return get_metric("spectral_convergence")(reference, estimate)


# --- the contract, for every registered representation ------------------------------------------


@pytest.mark.parametrize("num_samples", [1, 127, 3001, HALF_CLIP])
def test_shape_predicts_encode(representation, num_samples):
    x = representation.encode(torch.zeros(2, num_samples))
    assert x.dtype == torch.float32
    assert tuple(x.shape) == (2, *representation.shape(num_samples))


def test_decode_gives_the_asked_length(representation, wave):
    x = representation.encode(wave)
    y = representation.decode(x, length=wave.shape[1])
    assert y.shape == wave.shape and y.dtype == torch.float32 and torch.isfinite(y).all()
    free = representation.decode(x)
    assert free.shape == (4, representation.num_samples(x.shape[-1])) and torch.isfinite(free).all()


def test_silence_decodes_to_finite_audio(representation):
    silence = torch.zeros(2, 1000)
    representation.fit([silence])
    decoded = representation.decode(representation.encode(silence), length=1000)
    assert torch.isfinite(decoded).all() and decoded.abs().max() < 1e-3


def test_batch_equals_clips_one_by_one(representation, wave):
    x = representation.encode(wave)
    y = representation.decode(x, length=wave.shape[1])
    for i in range(len(wave)):
        xi = representation.encode(wave[i : i + 1])
        torch.testing.assert_close(xi, x[i : i + 1], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(representation.decode(xi, length=wave.shape[1]), y[i : i + 1], rtol=0, atol=1e-4)


def test_cpu_blocks_change_nothing(representation, wave, monkeypatch):
    """encode, decode and fit give the same in blocks of one clip as in one block of the whole batch."""
    import audiozoo.speed

    results = []
    for block_samples in (1, 1 << 30):
        monkeypatch.setattr(audiozoo.speed, "BLOCK_SAMPLES", block_samples)
        assert len(list(audiozoo.speed.each_block(lambda x: x, wave, wave.shape[1]))) == (4 if block_samples == 1 else 1)
        representation.fit([wave[:3], wave[3:]])
        x = representation.encode(wave)
        results.append((representation.mean.clone(), representation.std.clone(), x,
                        representation.decode(x, length=wave.shape[1])))
    for blocked, whole in zip(*results, strict=True):
        torch.testing.assert_close(blocked, whole, rtol=1e-5, atol=1e-5)


def test_decode_is_deterministic(representation, wave):
    x = representation.encode(wave)
    assert torch.equal(representation.decode(x), representation.decode(x))


def test_fitted_standardisation_is_undone_by_decode(representation, wave, monkeypatch):
    representation.fit([wave[:2], wave[2:]])
    x = representation.encode(wave)
    raw = representation.analyze(wave)
    varying = raw.std(dim=(0, 2)) > 1e-3  # channels with no spread (e.g. the Nyquist bin's imaginary part) stay put
    torch.testing.assert_close(x.mean(dim=(0, 2))[varying], torch.zeros(int(varying.sum())), rtol=0, atol=1e-3)
    torch.testing.assert_close(x.std(dim=(0, 2), correction=0)[varying], torch.ones(int(varying.sum())), rtol=0, atol=1e-3)
    handed = []  # what decode hands the raw inverse: the unstandardised features
    synthesize = representation.synthesize
    monkeypatch.setattr(representation, "synthesize", lambda f, length: handed.append(f) or synthesize(f, length))
    decoded = representation.decode(x, length=wave.shape[1])
    torch.testing.assert_close(handed[0], raw, rtol=1e-5, atol=1e-5 * float(raw.abs().max()))
    assert decoded.shape == wave.shape


def test_state_dict_keeps_the_statistics_and_only_them(representation, wave):
    representation.fit([wave])
    state = representation.state_dict()
    assert set(state) == {"mean", "std"}  # windows and filterbanks are rebuilt from the settings
    fresh = type(representation)(representation.config)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.mean, representation.mean) and torch.equal(fresh.std, representation.std)
    assert torch.equal(fresh.encode(wave), representation.encode(wave))


def test_exactness_per_instance():
    assert get_representation("stft").is_exact and get_representation("waveform").is_exact
    assert not get_representation("stft", form="magnitude").is_exact
    assert not get_representation("mel").is_exact and not get_representation("mfcc").is_exact


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("stft", {"hop_length": 1024}, "hop_length"),
        ("stft", {"form": "phase"}, "complex"),
        ("mel", {"n_mels": 512}, "lower n_mels"),
        ("mel", {"fmax": 2000.0}, "fmax"),
        ("mfcc", {"n_mfcc": 65}, "n_mfcc"),
    ],
)
def test_bad_settings_are_clear_errors(name, settings, message):
    with pytest.raises(AudiozooError, match=message):
        get_representation(name, **settings)


def test_default_mel_has_no_empty_filter():
    basis = get_representation("mel").mel_inverse.basis
    assert (basis.amax(dim=1) > 0).all()


def test_gan_spectrogram_preset_shape():
    groups = split_namespaces(apply_preset({"preset": "gan_spectrogram"}, host().presets), ["repr", "data"])
    settings = {k: v for k, v in groups["repr"].items() if k}
    data = groups["data"]
    representation = get_representation(groups["repr"][""], sample_rate=data["sample_rate"], **settings)
    num_samples = round(data["clip_seconds"] * data["sample_rate"])
    assert num_samples == 91350
    assert representation.shape(num_samples) == (1025, 179)
    assert tuple(representation.encode(torch.zeros(1, num_samples)).shape) == (1, 1025, 179)


# --- the built-ins on real music, against librosa ----------------------------------------------


def relative_error(ours: torch.Tensor, reference: np.ndarray) -> float:
    return float(np.linalg.norm(ours.numpy() - reference) / np.linalg.norm(reference))


def report(what: str, value: float) -> None:
    """The figures docs/representations.md quotes: ``pytest tests/test_representations.py -k music -s``."""
    print(f"\n  {what}: {value:.4g}", end="")


def test_forward_transforms_match_librosa(music):
    librosa = pytest.importorskip("librosa")
    y = music.numpy()
    spec = librosa.stft(y, n_fft=512, hop_length=128)
    mel_power = librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=64)
    expected = {
        "stft": np.concatenate([spec.real, spec.imag], axis=1),
        # log(|S| + floor) compared after exp: near-silent bins' float32 rounding would dominate in the log domain
        "stft-magnitude": np.abs(spec) + 1e-5,
        "mel": np.stack([librosa.power_to_db(m, top_db=80.0) for m in mel_power]),  # top_db per clip
        "mfcc": np.stack(
            [librosa.feature.mfcc(y=clip, sr=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=64, n_mfcc=20) for clip in y]
        ),
    }
    ours = {
        "stft": get_representation("stft", standardize=False, **MUSIC_ARGS).encode(music),
        "stft-magnitude": get_representation("stft", standardize=False, form="magnitude", **MUSIC_ARGS).encode(music).exp(),
        "mel": get_representation("mel", standardize=False, n_mels=64, **MUSIC_ARGS).encode(music),
        "mfcc": get_representation("mfcc", standardize=False, n_mels=64, n_mfcc=20, **MUSIC_ARGS).encode(music),
    }
    errors = {key: relative_error(ours[key], expected[key]) for key in expected}
    for key, error in errors.items():
        report(f"{key} relative error vs librosa", error)
    assert max(errors.values()) < 1e-5, errors  # measured: at most 7e-7 (float32 rounding)


def test_exact_round_trips_on_music(music):
    for name in ("waveform", "stft"):
        representation = get_representation(name).fit([music])
        decoded = representation.decode(representation.encode(music), length=music.shape[1])
        figures = snr(music, decoded)
        report(f"{name} round-trip SNR (dB, worst clip)", float(figures.min()))
        assert figures.min() >= 60.0, name


@pytest.mark.parametrize(
    ("name", "settings", "bound"),
    [("stft", {"form": "magnitude"}, 0.08), ("mel", {}, 0.5), ("mfcc", {}, 0.9)],
)
def test_approximate_round_trips_on_music(music, name, settings, bound):
    representation = get_representation(name, **settings).fit([music])
    decoded = representation.decode(representation.encode(music), length=music.shape[1])
    assert torch.isfinite(decoded).all()
    figure = float(spectral_convergence(music, decoded).mean())
    report(f"{name}{''.join(f' {v}' for v in settings.values())} round-trip spectral convergence (mean)", figure)
    assert figure <= bound


def test_mel_inversion_no_worse_than_librosa(music):
    librosa = pytest.importorskip("librosa")
    mel_power = librosa.feature.melspectrogram(y=music.numpy(), sr=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=64)
    # librosa.feature.inverse.mel_to_audio(mel_power, sr=..., n_fft=512, hop_length=128, n_iter=32), spelt out
    # as its two steps so that Griffin-Lim's random phases can be seeded (mel_to_audio takes no random_state).
    magnitude = librosa.feature.inverse.mel_to_stft(mel_power, sr=SAMPLE_RATE, n_fft=512)
    theirs = librosa.griffinlim(magnitude, n_iter=32, hop_length=128, n_fft=512, length=music.shape[1], random_state=0)
    representation = get_representation("mel", n_mels=64, n_iter=32, momentum=0.99, **MUSIC_ARGS)
    ours = representation.decode(representation.encode(music), length=music.shape[1])
    ours_sc = float(spectral_convergence(music, ours).mean())
    theirs_sc = float(spectral_convergence(music, torch.from_numpy(theirs)).mean())
    report("mel round-trip spectral convergence, ours", ours_sc)
    report("librosa mel_to_audio spectral convergence", theirs_sc)
    assert ours_sc <= theirs_sc


def test_mel_nnls_is_fista_on_each_clip(wave):
    """MelInverse's frames-major batch computes, to float rounding, FISTA on ``½‖W P − M‖², P ≥ 0`` clip
    by clip, written as plainly as it reads, in float64."""
    inverse = get_representation("mel").mel_inverse
    mel_power = inverse.basis @ torch.stft(wave, 512, 128, window=torch.hann_window(512), return_complex=True).abs() ** 2
    w, pinv = inverse.basis.double(), inverse.pinv.double()
    for clip, ours in zip(mel_power.double(), inverse(mel_power)):
        power = point = (pinv @ clip).clamp_min(0.0)
        t = 1.0
        for _ in range(inverse.steps):
            following = (point - inverse.step * w.T @ (w @ point - clip)).clamp_min(0.0)
            t_next = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
            point = following + (t - 1.0) / t_next * (following - power)
            power, t = following, t_next
        assert ours.double() == pytest.approx(power, rel=1e-4, abs=1e-6 * float(power.max()))


def test_the_mel_pseudo_inverse_is_the_plain_one_built_on_one_thread():
    """``speed.one_thread`` changes only the scheduling: the pseudo-inverse MelInverse keeps is the plain
    call's (to float rounding), computed on one thread, and torch's thread count is restored, after an
    error too."""
    from audiozoo import dsp, speed

    c = get_representation("mel").config
    basis = torch.tensor(dsp.mel_filterbank(c.sample_rate, c.n_fft, c.n_mels, c.fmin, c.fmax), dtype=torch.float64)
    threads = torch.get_num_threads()
    assert speed.one_thread(torch.get_num_threads) == 1
    torch.testing.assert_close(get_representation("mel").mel_inverse.pinv, torch.linalg.pinv(basis).float())
    with pytest.raises(torch.linalg.LinAlgError):
        speed.one_thread(torch.linalg.inv, torch.zeros(2, 2, dtype=torch.float64))
    assert torch.get_num_threads() == threads
