"""The VAEs' multi-resolution STFT loss: what it scores, that it trains, and where it applies."""

from __future__ import annotations

import pytest
import torch

from audiozoo import AudiozooError
from audiozoo.api import get_model, get_representation
from audiozoo.model import Batch
from audiozoo.plugins import host
from audiozoo_plugins.spectral_loss import MultiResolutionStftLoss
from conftest import SAMPLE_RATE

VAES = ("vae_1dconv", "vae_convpool")
TINY = {"widths": [8, 8], "latent_channels": 2, "kernel_size": 3, "min_latent_frames": 4}


@pytest.fixture(scope="module")
def clips(music) -> torch.Tensor:
    return music[:2, :SAMPLE_RATE]


def low_passed(wave: torch.Tensor) -> torch.Tensor:
    """A 9-tap moving average: above ~350 Hz at 3150 Hz, mostly gone."""
    return torch.nn.functional.avg_pool1d(wave.unsqueeze(1), 9, 1, 4, count_include_pad=False).squeeze(1)


def test_zero_for_identical_signals(clips):
    assert MultiResolutionStftLoss()(clips, clips.clone()).item() == 0.0


def test_a_low_passed_copy_costs_more_than_a_slightly_noisy_one(clips):
    loss = MultiResolutionStftLoss()
    noisy = clips + 0.01 * clips.std() * torch.randn(clips.shape, generator=torch.Generator().manual_seed(0))
    assert 0 < loss(noisy, clips) < loss(low_passed(clips), clips)


def test_gradient_flows_in_float32_under_bf16_autocast(clips):
    estimate = low_passed(clips).bfloat16().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = MultiResolutionStftLoss()(estimate, clips)
    value.backward()
    assert value.dtype == torch.float32 and torch.isfinite(value)
    assert torch.isfinite(estimate.grad).all() and estimate.grad.abs().sum() > 0


def test_bad_sizes_are_refused():
    with pytest.raises(AudiozooError, match="stft_sizes"):
        get_model("vae_convpool", (1, 64), stft_sizes=[])


@pytest.mark.parametrize("name", VAES)
def test_seed_preset_keeps_the_reports_mse(name):
    assert host().presets["seed"]["models"][name]["model.recon_loss"] == "mse"


@pytest.mark.parametrize(("repr_name", "terms"), [("waveform", {"mse", "stft"}), ("mel", {"mse"})])
def test_the_stft_term_applies_where_decode_has_gradients(clips, repr_name, terms):
    """Waveform decodes exactly and differentiably, so the spectral term is on its audio; mel decodes
    through Griffin-Lim, so its MSE (a log-spectral distance already) stands alone."""
    rep = get_representation(repr_name).fit([clips])
    x = rep.encode(clips)
    torch.manual_seed(0)
    model = get_model("vae_convpool", tuple(x.shape[1:]), recon_loss="mse+stft", **TINY)
    losses = model.training_step(Batch(x, clips, rep), update=None)
    assert terms <= losses.keys() and not ({"mse", "stft"} - terms) & losses.keys()
    losses["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_the_spectral_loss_alone_trains_a_waveform_vae(clips):
    rep = get_representation("waveform").fit([clips])
    batch = Batch(rep.encode(clips), clips, rep)
    torch.manual_seed(0)
    model = get_model("vae_convpool", (1, clips.shape[1]), recon_loss="stft", kl_weight=0.0, lr=3e-3, **TINY)
    optimizer = model.configure_optimizers()["vae"]
    first = model.training_step(batch, update=None)["stft"].item()
    for _ in range(30):
        optimizer.zero_grad()
        model.training_step(batch, update=None)["loss"].backward()
        optimizer.step()
    assert model.evaluation_losses(batch)["stft"].item() < 0.8 * first
