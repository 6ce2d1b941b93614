"""A VAE of plain strided 1-D convolutions over frames: the report's first waveform VAE."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from audiozoo import hookimpl
from audiozoo.speed import ChannelsLast
from audiozoo_plugins.vae_common import VAE, VAEConfig, activation, register_vae_presets


@dataclass
class Conv1dVAEConfig(VAEConfig):
    """All settings are the shared VAE ones (``audiozoo_plugins.vae_common.VAEConfig``)."""


class Conv1dVAE(VAE):
    """VAE: strided Conv1d encoder, ConvTranspose1d decoder, latent sequence; MSE and/or
    multi-resolution STFT + KL.

    Encoder stage i: ``Conv1d(widths[i-1], widths[i])`` (``C`` input channels for stage 0) with
    stride = the stage's factor and kernel 2 × factor, or stride 1 and kernel ``kernel_size``
    where the stage keeps the rate; then the activation. Decoder: the same stages in reverse as
    ``ConvTranspose1d``, the last one to ``C`` channels with no activation.
    """

    name = "vae_1dconv"
    Config = Conv1dVAEConfig

    def conv_settings(self, factor: int) -> dict[str, int]:
        if factor == 1:
            return {"kernel_size": self.config.kernel_size, "stride": 1, "padding": self.config.kernel_size // 2}
        return {"kernel_size": 2 * factor, "stride": factor, "padding": (factor + 1) // 2}  # even overlap: no checkerboard

    def build_encoder(self, channels: int) -> torch.nn.Module:
        c, layers, width = self.config, [], channels
        for out, factor in zip(c.widths, self.factors):
            layers += [torch.nn.Conv1d(width, out, **self.conv_settings(factor)), activation(c.activation)]
            width = out
        return ChannelsLast(*layers)  # faster on CPU, same layers (audiozoo/speed.py)

    def build_decoder(self, channels: int) -> torch.nn.Module:
        c, layers = self.config, []
        outs = [channels, *c.widths[:-1]]
        for i in reversed(range(len(c.widths))):
            factor = self.factors[i]
            settings = self.conv_settings(factor)
            if factor > 1 and factor % 2:
                settings["output_padding"] = 1  # odd factor: padding (f+1)/2 leaves the output one short
            layers.append(torch.nn.ConvTranspose1d(c.widths[i], outs[i], **settings))
            if i > 0:
                layers.append(activation(c.activation))
        return ChannelsLast(*layers)


@hookimpl
def register_models(register):
    register(Conv1dVAE)


@hookimpl
def register_presets(register):
    register_vae_presets(register, Conv1dVAE.name, seed_epochs=200)
