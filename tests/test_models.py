"""Models: the contract every registered model keeps on every registered representation, on tiny settings."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

import audiozoo
from audiozoo import AudiozooError, GenerativeModel
from audiozoo.api import get_model, get_representation
from audiozoo.model import Batch
from audiozoo.plugins import host
from audiozoo.settings import TrainConfig
from audiozoo.train.update import Updater
from conftest import HALF_CLIP, SAMPLE_RATE

MODELS = host().registry("models").names()
REPRESENTATIONS = audiozoo.list_representations(standalone=True)
"""Every registered model × every registered representation: a new plugin is covered the moment it registers."""

SECONDS = 1.0  # of each music clip: waveform [1, 3150], stft [514, 25], mel [64, 25], mfcc [20, 25]
STEPS = 60
FIT_RATIO = 0.7  # after STEPS updates on one batch, "loss" (mean of the last 5) must fall below this × the first


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and do not fight other processes for cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def debug_settings(name: str) -> dict:
    """The ``model.*`` keys of model ``name``'s own ``debug`` preset (registered beside its code; a model
    without one runs at its defaults): tiny, yet enough to fit one batch."""
    preset = host().presets.get("debug", {}).get("models", {}).get(name, {})
    return {key.removeprefix("model."): value for key, value in preset.items() if key.startswith("model.")}


def debug_model(name: str, shape: tuple[int, int], seed: int = 0) -> GenerativeModel:
    torch.manual_seed(seed)
    return get_model(name, shape, **debug_settings(name))


def trainer(model: GenerativeModel, **settings) -> Updater:
    """What `audiozoo run` steps a model with (backward, clipping, precision, schedule, EMA as ``settings`` say)."""
    return Updater(model, TrainConfig(**settings), total_steps=STEPS)


@pytest.fixture(scope="module", params=REPRESENTATIONS)
def encoded(request, music) -> tuple[object, torch.Tensor, int, Batch]:
    """A representation fitted on short music clips, those clips encoded ``[4, C, F]``, their length,
    and the batch a model trains on (encoded clips, their audio and the representation)."""
    length = int(SECONDS * SAMPLE_RATE)
    wave = music[:, :length]
    representation = get_representation(request.param).fit([wave])
    x = representation.encode(wave)
    return representation, x, length, Batch(x, wave, representation)


@pytest.mark.parametrize("name", MODELS)
def test_fits_one_batch_with_finite_losses(name, encoded):
    _, x, _, batch = encoded
    model = debug_model(name, tuple(x.shape[1:]))
    updater = trainer(model)
    history = []
    for _ in range(STEPS):
        losses = updater.step(batch)
        assert "loss" in losses
        assert all(torch.isfinite(v).all() and not v.requires_grad for v in losses.values()), losses
        history.append(float(losses["loss"]))
    final = sum(history[-5:]) / 5
    assert final < FIT_RATIO * history[0], f"loss went {history[0]:.4f} → {final:.4f} in {STEPS} steps"


@pytest.mark.parametrize("name", MODELS)
def test_sample_decodes_to_audio(name, encoded):
    representation, x, length, _ = encoded
    shape = tuple(x.shape[1:])
    model = debug_model(name, shape)
    samples = model.sample(3)
    assert samples.shape == (3, *shape) and samples.dtype == torch.float32 and torch.isfinite(samples).all()
    audio = representation.decode(samples, length=length)
    assert audio.shape == (3, length) and torch.isfinite(audio).all()


@pytest.mark.parametrize("name", MODELS)
def test_sample_honours_the_generator(name, encoded):
    _, x, _, batch = encoded
    model = debug_model(name, tuple(x.shape[1:]))
    first = model.sample(2, torch.Generator().manual_seed(3))
    again = model.sample(2, torch.Generator().manual_seed(3))
    other = model.sample(2, torch.Generator().manual_seed(4))
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("name", MODELS)
def test_reconstruct_keeps_the_shape(name, encoded):
    _, x, _, batch = encoded
    model = debug_model(name, tuple(x.shape[1:]))
    if not model.can_reconstruct:
        with pytest.raises(NotImplementedError):
            model.reconstruct(x)
        return
    y = model.reconstruct(x)
    assert y.shape == x.shape and y.dtype == torch.float32 and torch.isfinite(y).all()


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_losses(name, encoded):
    _, x, _, batch = encoded
    runs = []
    for _ in range(2):
        model = debug_model(name, tuple(x.shape[1:]), seed=7)
        updater = trainer(model)
        runs.append([float(updater.step(batch)["loss"]) for _ in range(3)])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("name", MODELS)
def test_evaluation_losses_change_nothing(name, encoded):
    _, x, _, batch = encoded
    model = debug_model(name, tuple(x.shape[1:]))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = model.evaluation_losses(batch)
    assert all(torch.isfinite(v).all() and not v.requires_grad for v in losses.values()), losses
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", MODELS)
def test_runs_on_cuda(name, encoded):
    _, x, _, batch = encoded
    model = debug_model(name, tuple(x.shape[1:])).cuda()
    rep = copy.deepcopy(batch.representation).cuda()
    losses = trainer(model, precision="bf16").step(Batch(x.cuda(), batch.audio.cuda(), rep))
    assert all(v.is_cuda and torch.isfinite(v).all() for v in losses.values())
    for generator in (torch.Generator().manual_seed(0), torch.Generator(device="cuda").manual_seed(0)):
        assert model.sample(2, generator).is_cuda
    if model.can_reconstruct:
        assert model.reconstruct(x.cuda()).is_cuda


# --- every model at the real sizes, default settings (built and sampled, not trained) -------------

REAL_SHAPES = {
    "waveform half clip": (1, HALF_CLIP),
    "stft complex half clip": (514, 357),
    "stft magnitude half clip": (257, 357),
    "mel half clip": (64, 357),
    "mfcc half clip": (20, 357),
    "report's GAN spectrogram": (1025, 179),
}


@pytest.mark.parametrize("shape", REAL_SHAPES.values(), ids=REAL_SHAPES.keys())
@pytest.mark.parametrize("name", MODELS)
def test_default_model_fits_real_shapes(name, shape):
    torch.manual_seed(0)
    model = get_model(name, shape)
    sample = model.sample(1, torch.Generator().manual_seed(0))
    assert sample.shape == (1, *shape) and torch.isfinite(sample).all()
    if model.can_reconstruct:
        assert model.reconstruct(sample).shape == sample.shape


# --- settings and description -----------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_ships_its_own_debug_preset(name):
    settings = debug_settings(name)
    assert settings, f"{name} needs a debug preset: register_presets(register) → register('debug', {{...}}, model={name!r})"
    get_model(name, (64, 100), **settings)


@pytest.mark.parametrize("name", MODELS)
def test_every_setting_has_a_default_and_a_summary(name):
    cls = host().registry("models").get(name)
    assert (cls.__doc__ or "").strip(), f"{name} needs a docstring: its first line is what `audiozoo list` shows"
    config = cls.Config()
    assert dataclasses.is_dataclass(config)


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("gan", {"noise_dim": 0}),
        ("gan", {"channels": []}),
        ("gan", {"real_label": 0.3}),
        ("gan", {"weight_decay": -1.0}),
        ("vae_1dconv", {"widths": []}),
        ("vae_1dconv", {"kernel_size": 4}),
        ("vae_1dconv", {"factor": 1}),
        ("vae_convpool", {"latent_channels": 0}),
        ("vae_convpool", {"convs_per_stage": 0}),
        ("vae_convpool", {"pool": "median"}),
    ],
)
def test_bad_settings_are_one_line_errors(name, settings):
    if name not in MODELS:
        pytest.skip(f"{name} is not registered")
    with pytest.raises(AudiozooError, match=next(iter(settings))):
        get_model(name, (64, 100), **settings)
