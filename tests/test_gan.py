"""The GAN's two losses: WGAN-GP's critic, penalty and critic steps, and the report's BCE kept by preset=seed."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from audiozoo import AudiozooError
from audiozoo.api import get_model
from audiozoo.model import Batch
from audiozoo.resolve import resolve
from audiozoo.settings import TrainConfig
from audiozoo.train.update import Updater

SHAPE = (16, 12)
DEBUG = {"noise_dim": 8, "dense_widths": [16], "channels": [4, 2], "base_size": 4, "disc_widths": [16]}


def gan(**settings):
    torch.manual_seed(0)
    return get_model("gan", SHAPE, **{**DEBUG, **settings})


def batch() -> Batch:
    return Batch(torch.randn(4, *SHAPE, generator=torch.Generator().manual_seed(1)), None, None)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_wgan_gp_step_has_finite_losses_and_a_positive_fp32_penalty(precision):
    model = gan(loss="wgan_gp")
    losses = Updater(model, TrainConfig(precision=precision), total_steps=1).step(batch())
    assert {"loss", "d_loss", "g_loss", "wasserstein", "gradient_penalty"} <= losses.keys()
    assert all(torch.isfinite(v) for v in losses.values()), losses
    assert losses["gradient_penalty"] > 0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.gradient_penalty(batch().x, model.fake(4)).dtype == torch.float32


def test_gradient_penalty_of_a_linear_critic_is_its_weight_norm_off_one():
    model = gan(loss="wgan_gp", disc_widths=[])  # the critic is one Linear: its input gradient is the weight
    weight = model.discriminator.layers[1].weight
    expected = (weight.norm() - 1) ** 2
    assert torch.allclose(model.gradient_penalty(batch().x, model.fake(4)), expected)


def test_critic_steps_count_discriminator_updates_per_generator_update():
    model = gan(loss="wgan_gp", critic_steps=3)
    updater = Updater(model, TrainConfig(), total_steps=6)
    moved = []
    for _ in range(6):
        generator = [p.detach().clone() for p in model.generator.parameters()]
        discriminator = [p.detach().clone() for p in model.discriminator.parameters()]
        updater.step(batch())
        moved.append((not all(torch.equal(a, b) for a, b in zip(generator, model.generator.parameters())),
                      not all(torch.equal(a, b) for a, b in zip(discriminator, model.discriminator.parameters()))))
    assert moved == [(False, True), (False, True), (True, True)] * 2
    assert int(model.state_dict()["discriminator_updates"]) == 6  # checkpointed: a resumed run keeps its cycle


def test_held_out_losses_work_without_gradients():
    model = gan(loss="wgan_gp")
    with torch.no_grad():
        losses = model.evaluation_losses(batch())
    assert all(torch.isfinite(v) and not v.requires_grad for v in losses.values())


def test_each_loss_takes_its_own_recipe_unless_set():
    for loss, (lr, beta2, steps) in {"bce": (2e-4, 0.999, 1), "wgan_gp": (1e-4, 0.9, 5)}.items():
        model = gan(loss=loss)
        optimizer = model.configure_optimizers()["discriminator"]
        assert (optimizer.defaults["lr"], optimizer.defaults["betas"], model.critic_steps) == (lr, (0.5, beta2), steps)
    optimizer = gan(loss="wgan_gp", lr_discriminator=3e-4, beta2=0.99).configure_optimizers()["discriminator"]
    assert (optimizer.defaults["lr"], optimizer.defaults["betas"]) == (3e-4, (0.5, 0.99))


def test_seed_preset_is_the_reports_bce_gan():
    model = get_model("gan", SHAPE, **{**asdict(resolve({"model": "gan", "preset": "seed"}).model), **DEBUG})
    assert model.config.loss == "bce" and model.critic_steps == 1
    assert "discriminator_updates" not in model.state_dict()  # the report's checkpoints still load
    optimizer = model.configure_optimizers()["generator"]
    assert (optimizer.defaults["lr"], optimizer.defaults["betas"]) == (2e-4, (0.5, 0.999))


@pytest.mark.parametrize("settings", [{"loss": "hinge"}, {"critic_steps": 0}, {"beta2": 1.0}, {"gp_weight": -1.0}])
def test_bad_settings_are_one_line_errors(settings):
    with pytest.raises(AudiozooError, match=next(iter(settings))):
        gan(**settings)
