"""The GAN's critics and losses: SpecGAN's conv critic on every representation's shape, WGAN-GP's
penalty and critic steps, and the report's dense BCE GAN kept by preset=seed."""

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
from audiozoo_plugins.gan import ConvCritic, DenseDiscriminator

SHAPE = (16, 12)
DEBUG = {"noise_dim": 8, "dense_widths": [16], "channels": [4, 2], "base_size": 4, "critic_channels": [4, 8], "disc_widths": [16]}


def gan(shape: tuple[int, int] = SHAPE, **settings):
    torch.manual_seed(0)
    return get_model("gan", shape, **{**DEBUG, **settings})


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
    model = gan(loss="wgan_gp", discriminator="dense", disc_widths=[])  # the critic is one Linear: its input gradient is the weight
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


@pytest.mark.parametrize("shape", [(64, 357), (257, 357), (514, 357), (20, 357), (1, 45675)],
                         ids=["mel", "stft magnitude", "stft complex", "mfcc", "waveform"])
def test_the_conv_critic_scores_each_input_of_every_representations_shape(shape):
    critic = gan(shape, critic_channels=[2, 3, 4]).discriminator
    assert isinstance(critic, ConvCritic)
    convs = [layer for layer in critic.convs if not isinstance(layer, torch.nn.LeakyReLU)]
    if shape[0] == 1:  # WaveGAN's 1-D critic on a waveform
        assert {(conv.kernel_size, conv.stride) for conv in convs} == {((25,), (4,))}
    else:  # SpecGAN's 5×5 stride-2 one on a spectrogram-like image
        assert {(conv.kernel_size, conv.stride) for conv in convs} == {((5, 5), (2, 2))}
    x = torch.randn(2, *shape)
    assert critic(x).shape == (2,)
    assert critic.out.in_features == critic.convs(x if shape[0] == 1 else x.unsqueeze(1))[0].numel()


def test_the_default_recipe_is_a_conv_critic_with_wgan_gp():
    model = gan()
    assert isinstance(model.discriminator, ConvCritic) and model.config.loss == "wgan_gp" and model.critic_steps == 5


def test_seed_preset_is_the_reports_bce_gan():
    model = get_model("gan", SHAPE, **{**asdict(resolve({"model": "gan", "preset": "seed"}).model), **DEBUG})
    assert model.config.loss == "bce" and model.critic_steps == 1
    assert isinstance(model.discriminator, DenseDiscriminator)
    assert "discriminator_updates" not in model.state_dict()  # the report's checkpoints still load
    assert all(key.startswith(("generator.", "discriminator.layers.")) for key in model.state_dict())
    optimizer = model.configure_optimizers()["generator"]
    assert (optimizer.defaults["lr"], optimizer.defaults["betas"]) == (2e-4, (0.5, 0.999))


def test_seed_preset_trains_as_it_did_before_the_conv_critic():
    """Three steps of the seed recipe at the test size give the losses recorded at main 5919ad2 (dense + bce)."""
    settings = resolve({"model": "gan", "preset": "seed"})
    torch.manual_seed(0)
    model = get_model("gan", SHAPE, **{**asdict(settings.model), **DEBUG})
    updater = Updater(model, settings.run, total_steps=3)
    losses = [float(losses[key]) for losses in (updater.step(batch()) for _ in range(3)) for key in ("d_loss", "g_loss")]
    assert losses == pytest.approx([0.71905369, 0.60717875, 0.71248358, 0.60905224, 0.70658827, 0.60997754], rel=1e-5)


@pytest.mark.parametrize("settings", [{"loss": "hinge"}, {"critic_steps": 0}, {"beta2": 1.0}, {"gp_weight": -1.0},
                                      {"discriminator": "wide"}, {"critic_channels": []}, {"critic_channels": [4, 0]}])
def test_bad_settings_are_one_line_errors(settings):
    with pytest.raises(AudiozooError, match=next(iter(settings))) as error:
        gan(**settings)
    assert "\n" not in str(error.value)


def test_an_unknown_discriminator_names_the_valid_ones():
    with pytest.raises(AudiozooError, match="model.discriminator; choose from: conv, dense"):
        gan(discriminator="wide")
