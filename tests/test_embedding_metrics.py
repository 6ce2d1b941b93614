"""FAD and KAD as fadtk and kadtk compute them, on VGGish and PANNs Cnn14 embeddings.

The estimators are checked against closed forms; the networks with random weights saved under
the published checkpoints' key names (the real weights are never downloaded, so only a user who
has them runs the regression test against fadtk's own figure).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from audiozoo import AudiozooError, get_metric
from audiozoo.distances import KAD_SCALE, fad_infinity, frechet_distance, frechet_frames, gaussian, kad, median_distance
from audiozoo_plugins import embedding_metrics
from audiozoo_plugins.embedding_metrics import read_weights
from audiozoo_plugins.panns import Cnn14, _Spectrogram
from audiozoo_plugins.vggish import VGGish, log_mel_patches, mel_matrix

SAMPLE_RATE = 3150
METRICS = {"fad_vggish": VGGish, "kad_vggish": VGGish, "fad_panns": Cnn14, "kad_panns": Cnn14}


def draws(seed: int, n: int, d: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale + shift


# --- Fréchet distance ------------------------------------------------------------------------


def test_statistics_are_the_mean_and_the_ddof_1_covariance():
    x = draws(0, 30, 5)
    mu, cov = gaussian(x)
    np.testing.assert_allclose(mu.numpy(), x.numpy().mean(0))
    np.testing.assert_allclose(cov.numpy(), np.cov(x.numpy(), rowvar=False))


def test_frechet_distance_of_two_gaussians_is_the_closed_form():
    """Diagonal covariances: ‖Δμ‖² + Σ (√a − √b)²; any two: the formula with scipy's sqrtm."""
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64), torch.tensor([0.5, 1.0, 1.0], dtype=torch.float64)
    a, b = torch.tensor([1.0, 4.0, 0.25], dtype=torch.float64), torch.tensor([2.0, 1.0, 0.25], dtype=torch.float64)
    expected = float((mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum())
    assert float(frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b))) == pytest.approx(expected, rel=1e-12)

    m1, m2 = draws(1, 6, 6), draws(2, 6, 6)
    cov1, cov2 = m1 @ m1.T + 0.1 * torch.eye(6), m2 @ m2.T + 0.1 * torch.eye(6)
    root = scipy.linalg.sqrtm(cov1.numpy() @ cov2.numpy()).real
    expected = 0.25 * 6 + float(cov1.trace() + cov2.trace()) - 2 * np.trace(root)
    value = frechet_distance(torch.zeros(6), cov1, torch.full((6,), 0.5), cov2)
    assert float(value) == pytest.approx(expected, rel=1e-9)


def test_frechet_of_frames_agrees_with_the_eigenvalue_route_and_is_zero_on_identical_sets():
    for n_ref, n_est, dim in ((20, 30, 50), (200, 300, 8)):  # fewer frames than dimensions, then more
        ref, est = draws(3, n_ref, dim), draws(4, n_est, dim, shift=0.3, scale=1.5)
        eigen = frechet_distance(*gaussian(ref), *gaussian(est))
        assert float(frechet_frames(ref, est)) == pytest.approx(float(eigen), rel=1e-7)
        assert abs(float(frechet_frames(ref, ref.clone()))) < 1e-9 * float(eigen)


def test_fad_infinity_extrapolates_to_the_distance_of_infinitely_many_frames():
    """Reference statistics exact, the evaluated frames drawn from a known Gaussian: FAD∞ lands near the
    population's distance, nearer than the FAD of the smallest draw, which 1/n biases upwards."""
    dim, mu, scale = 8, torch.full((8,), 0.2, dtype=torch.float64), 1.3
    frames = draws(5, 6000, dim, shift=0.2, scale=scale)
    exact = float(frechet_distance(torch.zeros(dim), torch.eye(dim), mu, scale**2 * torch.eye(dim)))
    result = fad_infinity(torch.zeros(dim), torch.eye(dim), frames, steps=10, min_n=300, seed=1)
    smallest = result.points[0][1]
    assert abs(result.score - exact) < 0.5 * abs(smallest - exact) and result.r2 > 0.5
    assert result == fad_infinity(torch.zeros(dim), torch.eye(dim), frames, steps=10, min_n=300, seed=1)
    with pytest.raises(AudiozooError, match="min_n"):
        fad_infinity(torch.zeros(dim), torch.eye(dim), frames[:100], min_n=300)


# --- kernel audio distance ------------------------------------------------------------------


def kadtk_kad(x: torch.Tensor, y: torch.Tensor, bandwidth: float) -> float:
    """kadtk's ``calc_kernel_audio_distance`` (Gaussian kernel, no cache), float64."""
    gamma = 1 / (2 * bandwidth**2 + 1e-8)

    def d2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T

    k_xx, k_yy = torch.exp(-gamma * d2(x, x)), torch.exp(-gamma * d2(y, y))
    m, n = len(x), len(y)
    within = (k_xx.sum() - k_xx.trace()) / (m * (m - 1)) + (k_yy.sum() - k_yy.trace()) / (n * (n - 1))
    return float(100 * (within - 2 * torch.exp(-gamma * d2(x, y)).mean()))


def test_kad_of_two_gaussians_is_the_closed_form_mmd():
    """N(μa, sa²I), N(μb, sb²I), Gaussian kernel of width h in D dimensions:
    E k = (h² / (h² + sa² + sb²))^(D/2) · exp(−‖μa − μb‖² / 2(h² + sa² + sb²)), and the estimate
    is unbiased."""
    dim, h = 3, 1.5
    x, y = draws(6, 1500, dim), draws(7, 1500, dim, shift=0.5, scale=0.8)

    def mean_kernel(sa, sb, gap2):
        width2 = h**2 + sa**2 + sb**2
        return (h**2 / width2) ** (dim / 2) * math.exp(-gap2 / (2 * width2))

    exact = KAD_SCALE * (mean_kernel(1, 1, 0) + mean_kernel(0.8, 0.8, 0) - 2 * mean_kernel(1, 0.8, dim * 0.25))
    assert float(kad(x, y, bandwidth=h)) == pytest.approx(exact, rel=0.05)


def test_kad_of_identical_sets_is_just_below_zero_and_of_one_distribution_unbiased():
    x = draws(8, 40, 4)
    h = float(median_distance(x))
    kernel = torch.exp(-torch.cdist(x, x).square() / (2 * h**2))
    off_mean = float((kernel.sum() - kernel.trace()) / (40 * 39))
    # the unbiased estimate of a set with itself: 2 (mean off-diagonal kernel − 1) / N, below 0
    assert float(kad(x, x.clone())) == pytest.approx(KAD_SCALE * 2 * (off_mean - 1) / 40, rel=1e-9)
    same = torch.tensor([float(kad(draws(s, 40, 4), draws(1000 + s, 40, 4))) for s in range(20)])
    apart = float(kad(draws(0, 40, 4), draws(1000, 40, 4, shift=1.0)))
    assert abs(float(same.mean())) < 3 * float(same.std()) / math.sqrt(len(same)) + 1e-3
    assert apart > float(same.max())


def test_kad_bandwidth_comes_from_the_reference_by_default_and_from_the_evaluated_set_as_kadtk():
    ref, est = draws(9, 50, 6), draws(10, 60, 6, shift=0.2, scale=0.3)  # the evaluated set is much narrower
    by_ref, by_est = float(median_distance(ref)), float(median_distance(est))
    assert float(kad(ref, est)) == pytest.approx(kadtk_kad(ref, est, by_ref), rel=1e-6)
    assert float(kad(ref, est, bandwidth_from="evaluated")) == pytest.approx(kadtk_kad(ref, est, by_est), rel=1e-6)
    assert float(kad(ref, est, bandwidth=2.0)) == pytest.approx(kadtk_kad(ref, est, 2.0), rel=1e-6)
    assert float(kad(ref, est)) != pytest.approx(float(kad(ref, est, bandwidth_from="evaluated")), rel=0.05)
    assert by_ref == float(torch.pdist(ref).median())  # the lower middle value, as torch.median
    with pytest.raises(AudiozooError, match="bandwidth_from"):
        kad(ref, est, bandwidth_from="both")


# --- the networks' frontends ------------------------------------------------------------------


def test_vggish_frontend_makes_non_overlapping_0_96_s_patches_and_hears_a_tone_in_its_band():
    tone = torch.sin(2 * math.pi * 1000.0 * torch.arange(int(2.5 * 16000)) / 16000)
    patches = log_mel_patches(tone[None])  # 248 frames of 10 ms: two whole patches
    assert patches.shape == (1, 2, 96, 64)
    assert log_mel_patches(tone[None, :8000]).shape == (1, 1, 96, 64)  # padded to 1 s, as fadtk
    weights = mel_matrix()
    assert float(weights[0].abs().sum()) == 0.0 and weights.shape == (257, 64)
    assert int(patches[0, 0].mean(0).argmax()) == int(weights[32].argmax())  # bin 32 is 1000 Hz


def test_cnn14_frontend_is_the_centred_hann_power_stft():
    wave = torch.randn(2, 5000, generator=torch.Generator().manual_seed(11))
    mine = _Spectrogram()(wave)[:, 0].transpose(1, 2)  # [B, bins, frames]
    spectrum = torch.stft(wave, 1024, 320, window=torch.hann_window(1024), center=True, pad_mode="reflect",
                          return_complex=True)
    torch.testing.assert_close(mine, spectrum.abs().square(), rtol=1e-4, atol=1e-3)


# --- the metrics --------------------------------------------------------------------------------


def random_state(network: type[torch.nn.Module], seed: int) -> dict[str, torch.Tensor]:
    """Random weights of the published shapes under the published names (batch norm left as initialised)."""
    with torch.device("meta"):
        shapes = network().state_dict()
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, meta in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
        elif meta.ndim > 1:
            state[key] = torch.randn(meta.shape, generator=generator) / math.sqrt(meta[0].numel())
        else:
            state[key] = torch.ones(meta.shape) if key.endswith(("running_var", "bn0.weight", "bn1.weight",
                                                                  "bn2.weight")) else torch.zeros(meta.shape)
    return state


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[type, Path]:
    """VGGish's as torchvggish publishes it (a bare state dict); Cnn14's as PANNs (under "model")."""
    folder = tmp_path_factory.mktemp("weights")
    torch.save(random_state(VGGish, 0), folder / VGGish.checkpoint)
    torch.save({"model": random_state(Cnn14, 1), "iteration": 0}, folder / Cnn14.checkpoint)
    return {VGGish: folder / VGGish.checkpoint, Cnn14: folder / Cnn14.checkpoint}


@pytest.fixture(scope="module")
def clips() -> tuple[torch.Tensor, torch.Tensor]:
    """Two reference and two other clips of 1.2 s at 3150 Hz: tones in noise (one VGGish patch each)."""
    t = torch.arange(int(1.2 * SAMPLE_RATE)) / SAMPLE_RATE
    generator = torch.Generator().manual_seed(12)
    tones = torch.stack([torch.sin(2 * math.pi * f * t) for f in (220.0, 330.0, 500.0, 700.0)])
    waves = 0.3 * tones + 0.05 * torch.randn(tones.shape, generator=generator)
    return waves[:2], waves[2:]


def test_published_key_names():
    with torch.device("meta"):
        vggish, cnn14 = VGGish().state_dict(), Cnn14().state_dict()
    layers = [f"features.{i}" for i in (0, 3, 6, 8, 11, 13)] + [f"embeddings.{i}" for i in (0, 2, 4)]
    assert sorted(vggish) == sorted(f"{layer}.{p}" for layer in layers for p in ("weight", "bias"))
    assert len(cnn14) == 84 and {"spectrogram_extractor.stft.conv_real.weight", "logmel_extractor.melW",
                                  "bn0.running_var", "conv_block6.bn2.num_batches_tracked", "fc1.bias",
                                  "fc_audioset.weight"} <= set(cnn14)
    assert cnn14["spectrogram_extractor.stft.conv_imag.weight"].shape == (513, 1, 1024)


@pytest.mark.parametrize("name", METRICS)
def test_without_weights_a_metric_is_na_with_a_one_line_reason(name, clips):
    metric = get_metric(name, sample_rate=SAMPLE_RATE)
    reason = metric.unavailable_reason()
    assert "\n" not in reason and f"metric.{name}.weights=" in reason and METRICS[name].checkpoint in reason
    assert math.isnan(float(metric(*clips)))
    with pytest.raises(AudiozooError, match="n/a without the published weights"):
        metric.features(clips[0])
    with pytest.raises(AudiozooError, match="at least 2 clips"):
        metric(clips[0], clips[1][:1])


@pytest.mark.parametrize("name", METRICS)
def test_random_weights_load_strictly_and_give_finite_deterministic_figures(name, checkpoints, clips):
    network = METRICS[name]
    metric = get_metric(name, sample_rate=SAMPLE_RATE, weights=str(checkpoints[network]))
    assert metric.unavailable_reason() is None
    frames = metric.features(clips[0])
    assert [f.shape for f in frames] == [(1, 128 if network is VGGish else 2048)] * 2
    assert all(torch.isfinite(f).all() for f in frames)
    value = metric(*clips)
    assert value.ndim == 0 and torch.isfinite(value)
    assert float(metric.between(frames, metric.features(clips[1]))) == pytest.approx(float(value), rel=1e-5)
    if name.startswith("fad"):  # once per network: loaded again, embedded again, the same figure
        embedding_metrics._embedder.cache_clear()
        again = get_metric(name, sample_rate=SAMPLE_RATE, weights=str(checkpoints[network]))(*clips)
        assert float(again) == float(value)


def test_a_wrong_checkpoint_is_a_one_line_error_naming_the_file_and_the_first_bad_keys(tmp_path):
    state = {"features.0.weights": torch.zeros(1), "embeddings.0.weight": torch.zeros(3)}
    path = tmp_path / "not_vggish.pth"
    torch.save(state, path)
    metric = get_metric("fad_vggish", sample_rate=SAMPLE_RATE, weights=str(path))
    with pytest.raises(AudiozooError) as err:
        metric.features(torch.zeros(2, SAMPLE_RATE))
    message = str(err.value)
    assert "\n" not in message and str(path) in message and VGGish.checkpoint in message
    assert "missing: features.0.weight, features.0.bias, features.3.weight … (17)" in message
    assert "unexpected: features.0.weights (1)" in message and "wrong shape: embeddings.0.weight (3,)" in message
    for broken, content in (("absent.pth", None), ("garbage.pth", b"not a checkpoint")):
        if content is not None:
            (tmp_path / broken).write_bytes(content)
        with pytest.raises(AudiozooError, match=broken):
            get_metric("kad_panns", weights=str(tmp_path / broken)).features(torch.zeros(2, SAMPLE_RATE))


def test_a_2019_checkpoint_with_numpy_state_beside_the_weights_loads_and_nothing_else_does(tmp_path):
    """PANNs' files were written by torch 1.x (the legacy format) with numpy 1, their sampler's state beside the
    weights: numpy arrays under numpy 1's module names load; any other object is refused."""

    class Tiny(torch.nn.Linear):
        checkpoint = "tiny.pth"

    network = Tiny(3, 2)
    path = tmp_path / "legacy.pth"
    sampler = {"indexes": np.arange(5), "random_state": np.random.RandomState(0).get_state(), "epoch": np.int64(3)}
    torch.save({"model": network.state_dict(), "sampler": sampler}, path, _use_new_zipfile_serialization=False)
    path.write_bytes(path.read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    state = read_weights(path, network)
    assert sorted(state) == ["bias", "weight"] and torch.equal(state["weight"], network.weight)
    hostile = tmp_path / "hostile.pth"
    torch.save({"model": network.state_dict(), "hook": os.getcwd}, hostile)
    with pytest.raises(AudiozooError, match=r"never unpickles .*posix\.getcwd"):
        read_weights(hostile, network)


# --- fadtk's regression figure (only where the published weights are) -------------------------

FADTK_VGGISH_ALL = 5.12190021819319
"""fadtk/test/samples_FAD_scores.csv: FAD_vggish_fma_pop of samples/all (its 23 clips against FMA-pop)."""


def fadtk_folder() -> Path | None:
    """fadtk's package folder (its wheel ships test/samples and stats/fma_pop.npz), found without importing it."""
    if os.environ.get("AUDIOZOO_FADTK_DIR"):
        return Path(os.environ["AUDIOZOO_FADTK_DIR"])
    import importlib.util

    spec = importlib.util.find_spec("fadtk")
    return Path(spec.origin).parent if spec and spec.origin else None


def regression_missing() -> str | None:
    """Why fadtk's regression test cannot run here (one line), or None."""
    if not os.environ.get("AUDIOZOO_VGGISH_WEIGHTS"):
        return "needs the published VGGish weights: AUDIOZOO_VGGISH_WEIGHTS=PATH to vggish-10086976.pth"
    folder = fadtk_folder()
    if not (folder and (folder / "stats" / "fma_pop.npz").is_file() and (folder / "test" / "samples").is_dir()):
        return ("needs fadtk's regression clips and FMA-pop statistics (shipped in the fadtk wheel, not a dependency): "
                "pip install --no-deps fadtk, or AUDIOZOO_FADTK_DIR=its fadtk/ folder")
    return None


@pytest.mark.skipif(regression_missing() is not None, reason=str(regression_missing()))
def test_fadtk_regression_clips_give_its_vggish_figure():
    import soundfile

    folder = fadtk_folder()
    with np.load(folder / "stats" / "fma_pop.npz") as stats:
        mu, cov = torch.from_numpy(stats["vggish.mu"]), torch.from_numpy(stats["vggish.cov"])
    frames = []
    for path in sorted((folder / "test" / "samples").glob("*.opus")):
        wave, rate = soundfile.read(path, dtype="float32", always_2d=True)
        metric = get_metric("fad_vggish", sample_rate=rate, weights=os.environ["AUDIOZOO_VGGISH_WEIGHTS"])
        frames += metric.features(torch.from_numpy(wave.mean(1))[None])
    value = float(frechet_distance(mu, cov, *gaussian(torch.cat(frames))))
    assert value == pytest.approx(FADTK_VGGISH_ALL, rel=0.05)
