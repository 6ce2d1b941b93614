"""The built-in VAEs' execution tricks compute exactly the layers they declare."""

from __future__ import annotations

import pytest
import torch

from audiozoo.api import get_model
from audiozoo_plugins.vae_common import run_channels_last

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


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_channels_last_computes_the_same_outputs_and_gradients(make):
    torch.manual_seed(0)
    layer = make()
    channels = next((m.in_channels for m in layer.modules() if hasattr(m, "in_channels")), 3)
    x = torch.randn(2, channels, 50, requires_grad=True)

    expected = layer(x)
    expected.square().sum().backward()
    expected_grads = [x.grad.clone()] + [p.grad.clone() for p in layer.parameters()]
    x.grad, _ = None, layer.zero_grad()

    got = run_channels_last([layer], x)
    got.square().sum().backward()
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    for got_grad, expected_grad in zip([x.grad] + [p.grad for p in layer.parameters()], expected_grads, strict=True):
        torch.testing.assert_close(got_grad, expected_grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layer", [torch.nn.BatchNorm1d(3), torch.nn.Upsample(size=20)], ids=["norm", "sized"])
def test_a_layer_without_a_2d_form_is_refused(layer):
    with pytest.raises(TypeError, match=type(layer).__name__):
        run_channels_last([layer], torch.randn(2, 3, 10))


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
