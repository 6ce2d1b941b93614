"""A VAE of Conv1d + pooling pairs (the deep-image-network pattern applied to time): the report's best."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from audiozoo import hookimpl
from audiozoo.speed import ChannelsLast
from audiozoo_plugins.vae_common import MONOTONIC, VAE, VAEConfig, activation, register_vae_presets


@dataclass
class ConvPoolVAEConfig(VAEConfig):
    widths: list[int] = field(default_factory=lambda: [16, 32, 32, 64])  # encoder stages' channels; decoder mirrors
    factor: int = 2  # pool size; on waveforms 2 learns far faster than 4 (docs/models.md)
    latent_channels: int = 4  # with factor 2: a waveform's latent is [4, 2855], 4× fewer numbers than samples
    convs_per_stage: int = 1  # Conv1d + activation layers before each pooling (and after each upsampling)
    pool: Literal["max", "avg"] = "max"  # how the encoder downsamples
    upsample: Literal["nearest", "linear"] = "nearest"  # how the decoder upsamples

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.convs_per_stage < 1:
            raise ValueError(f"convs_per_stage must be at least 1, got {self.convs_per_stage}")


class ConvPoolVAE(VAE):
    """VAE: Conv1d+pooling encoder, Upsample+Conv1d decoder, latent sequence; MSE and/or
    multi-resolution STFT + KL.

    Encoder stage i: ``convs_per_stage`` × (``Conv1d(kernel_size, same)`` → activation), the
    first from ``widths[i-1]`` (``C`` for stage 0) to ``widths[i]``, then pooling by the stage's
    factor (none where it keeps the rate); max pooling goes before the last activation when that
    never decreases (the same function, on half the samples). Decoder stage i, the exact mirror, in reverse:
    upsampling by the factor, then ``convs_per_stage`` × (Conv1d → activation), the last to
    ``widths[i-1]``; stage 0's last convolution goes to ``C`` channels with no activation.
    """

    name = "vae_convpool"
    Config = ConvPoolVAEConfig
    config: ConvPoolVAEConfig

    def conv(self, width: int, out: int) -> torch.nn.Conv1d:
        return torch.nn.Conv1d(width, out, self.config.kernel_size, padding=self.config.kernel_size // 2)

    def block(self, width: int, out: int) -> list[torch.nn.Module]:
        """Conv1d (same length) → activation."""
        return [self.conv(width, out), activation(self.config.activation)]

    def build_encoder(self, channels: int) -> torch.nn.Module:
        c, layers, width = self.config, [], channels
        pool = torch.nn.MaxPool1d if c.pool == "max" else torch.nn.AvgPool1d
        # Max pooling commutes with a non-decreasing activation: pooling first halves the activation's work.
        pool_first = c.pool == "max" and c.activation in MONOTONIC
        for out, factor in zip(c.widths, self.factors):
            layers += self.block(width, out)
            layers += [m for _ in range(c.convs_per_stage - 1) for m in self.block(out, out)]
            if factor > 1:
                layers.insert(len(layers) - 1 if pool_first else len(layers), pool(factor))
            width = out
        return ChannelsLast(*layers)  # faster on CPU, same layers (audiozoo/speed.py)

    def build_decoder(self, channels: int) -> torch.nn.Module:
        c, layers = self.config, []
        for i in reversed(range(len(c.widths))):
            width = c.widths[i]
            if self.factors[i] > 1:
                layers.append(torch.nn.Upsample(scale_factor=self.factors[i], mode=c.upsample))
            layers += [m for _ in range(c.convs_per_stage - 1) for m in self.block(width, width)]
            layers += self.block(width, c.widths[i - 1]) if i > 0 else [self.conv(width, channels)]  # linear output
        return ChannelsLast(*layers)


@hookimpl
def register_models(register):
    register(ConvPoolVAE)


@hookimpl
def register_presets(register):
    register_vae_presets(register, ConvPoolVAE.name, seed_epochs=50)
