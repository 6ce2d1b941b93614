"""The built-in VAEs' execution tricks compute exactly the layers they declare, and step aside for
any layer they do not know."""

from __future__ import annotations

import pytest
import torch

from audiozoo.api import get_model
from audiozoo.model import Batch
from audiozoo.speed import ChannelsLast, run_channels_last
from audiozoo.settings import TrainConfig
from audiozoo.train.update import Updater
from audiozoo_plugins.vae_convpool import ConvPoolVAE

LAYERS = {
    "conv": lambda: torch.nn.Conv1d(3, 5, 9, padding=4),
    "conv strided": lambda: torch.nn.Conv1d(3, 5, 8, stride=4, padding=2, dilation=1),
    "conv dilated": lambda: torch.nn.Conv1d(3, 5, 3, padding="same", dilation=2),
    "conv one input channel": lambda: torch.nn.Conv1d(1, 4, 9, padding=4),
    "conv one output channel": lambda: torch.nn.Conv1d(4, 1, 9, padding=4),
    "conv transpose": lambda: torch.nn.ConvTranspose1d(3, 5, 6, stride=3, padding=2, output_padding=1),
    "max pool": lambda: torch.nn.MaxPool1d(2),
    "avg pool": lambda: torch.nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True),
    "upsample nearest": lambda: torch.nn.Upsample(scale_factor=2, mode="nearest"),
    "upsample linear": lambda: torch.nn.Upsample(scale_factor=(3,), mode="linear"),
    "stack": lambda: torch.nn.Sequential(torch.nn.Conv1d(3, 6, 5, padding=2), torch.nn.ELU(), torch.nn.MaxPool1d(2),
                                         torch.nn.Upsample(scale_factor=2), torch.nn.LeakyReLU(0.2),
                                         torch.nn.Sequential(torch.nn.Conv1d(6, 2, 3, padding=1), torch.nn.GELU())),
}


class Res(torch.nn.Module):
    """A residual block, as a VAE subclass might add: x + conv(act(conv(x)))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv1d(channels, channels, 3, padding=1), torch.nn.ELU(),
                                        torch.nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.is_contiguous(), "written for ordinary tensors, as most code is"
        return x + self.body(x)


class Doubled(torch.nn.Conv1d):
    """A known layer's subclass with a forward of its own: that forward must run."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * super().forward(x)


FALLBACKS = {
    "residual block": lambda: Res(3),
    "batch norm": lambda: torch.nn.BatchNorm1d(3),
    "dropout": lambda: torch.nn.Dropout(0.3),
    "sized upsample": lambda: torch.nn.Upsample(size=64),
    "reflect-padded conv": lambda: torch.nn.Conv1d(3, 3, 5, padding=2, padding_mode="reflect"),
    "conv subclass": lambda: Doubled(3, 3, 3, padding=1),
}


def compare(make, channels: int = 3, seed: int = 0) -> None:
    """``make()``'s layers as ``run_channels_last`` runs them against their own forward: outputs,
    input and weight gradients, and module state (batch-norm statistics) match."""
    torch.manual_seed(seed)
    layer = make()
    x = torch.randn(2, channels, 50, requires_grad=True)
    results = []
    for run in (lambda: layer(x), lambda: run_channels_last([layer], x)):
        state = {k: v.clone() for k, v in layer.state_dict().items()}
        torch.manual_seed(seed + 1)  # the same dropout mask, where there is one
        out = run()
        out.square().sum().backward()
        results.append((out.detach(), [x.grad.clone()] + [p.grad.clone() for p in layer.parameters()],
                        {k: v.clone() for k, v in layer.state_dict().items()}))
        x.grad, _ = None, layer.zero_grad()
        layer.load_state_dict(state)
    (expected, expected_grads, expected_state), (got, got_grads, got_state) = results
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    for got_grad, expected_grad in zip(got_grads, expected_grads, strict=True):
        torch.testing.assert_close(got_grad, expected_grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got_state, expected_state)


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_channels_last_computes_the_same_outputs_and_gradients(make):
    layer = make()
    compare(make, next((m.in_channels for m in layer.modules() if hasattr(m, "in_channels")), 3))


@pytest.mark.parametrize("make", FALLBACKS.values(), ids=FALLBACKS.keys())
def test_an_unknown_layer_runs_its_own_forward(make):
    compare(make)
    # Between known layers, too: the tensor goes back to [B, C, L] for it and on after it.
    compare(lambda: ChannelsLast(torch.nn.Conv1d(3, 3, 5, padding=2), make(), torch.nn.ELU(), torch.nn.MaxPool1d(2)))


def test_hooks_run_on_every_layer_that_has_them():
    stack = ChannelsLast(torch.nn.Conv1d(3, 4, 3, padding=1), torch.nn.BatchNorm1d(4), torch.nn.ELU())
    seen = []
    for layer in stack:
        layer.register_forward_hook(lambda module, args, out: seen.append((type(module).__name__, out.shape)))
    stack(torch.randn(2, 3, 10))
    assert seen == [("Conv1d", (2, 4, 10)), ("BatchNorm1d", (2, 4, 10)), ("ELU", (2, 4, 10))]


def test_a_channels_last_stack_saves_as_a_sequential():
    layers = [torch.nn.Conv1d(3, 4, 3), torch.nn.ELU(), Res(4)]
    assert ChannelsLast(*layers).state_dict().keys() == torch.nn.Sequential(*layers).state_dict().keys()


class ResidualVAE(ConvPoolVAE):
    """A subclass as a user would write it: the built-in encoder with a residual block after it."""

    name = "vae_residual"

    def build_encoder(self, channels: int) -> torch.nn.Module:
        encoder = super().build_encoder(channels)
        encoder.append(Res(self.config.widths[-1]))
        return encoder


def test_a_vae_subclass_with_a_residual_block_trains_and_samples():
    torch.manual_seed(0)
    model = ResidualVAE((1, 256), ResidualVAE.Config(widths=[4, 8], kernel_size=3, min_latent_frames=16))
    x = torch.randn(2, 1, 256)
    losses = Updater(model, TrainConfig(), total_steps=1).step(Batch(x, x[:, 0], None))
    assert torch.isfinite(losses["loss"])
    assert model.sample(2).shape == (2, 1, 256) and model.reconstruct(x).shape == x.shape


@pytest.mark.parametrize("activation", ["elu", "relu", "leaky_relu"])
def test_max_pool_before_a_monotonic_activation_is_the_same_encoder(activation):
    torch.manual_seed(0)
    model = get_model("vae_convpool", (2, 64), widths=[4, 8], kernel_size=3, min_latent_frames=4,
                      convs_per_stage=2, activation=activation)
    layers = list(model.encoder)
    pools = [i for i, m in enumerate(layers) if isinstance(m, torch.nn.MaxPool1d)]
    assert pools == [3, 8]  # conv, act, conv, pool, act | conv, act, conv, pool, act
    textbook = layers.copy()  # each stage as conv → activation → pool
    for i in pools:
        textbook[i], textbook[i + 1] = layers[i + 1], layers[i]
    x = torch.randn(3, 2, 64)
    torch.testing.assert_close(model.encoder(x), torch.nn.Sequential(*textbook)(x), rtol=0, atol=0)


@pytest.mark.parametrize(("settings", "order"), [({"activation": "gelu"}, ["GELU", "MaxPool1d"]),
                                                 ({"pool": "avg"}, ["ELU", "AvgPool1d"])])
def test_pooling_stays_after_the_activation_where_they_do_not_commute(settings, order):
    model = get_model("vae_convpool", (1, 64), widths=[4], kernel_size=3, min_latent_frames=4, **settings)
    assert [type(m).__name__ for m in model.encoder][1:] == order
