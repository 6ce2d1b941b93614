"""An audiozoo plugin in one file: the mu-law companded waveform (as in WaveNet), exact inverse.

Mu-law spends resolution on quiet samples, which suits music with a wide dynamic range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from audiozoo import Representation, RepresentationConfig, hookimpl


@dataclass
class MuLawConfig(RepresentationConfig):
    mu: float = 255.0  # compression strength; 255 is the telephony and WaveNet choice

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mu <= 0:
            raise ValueError(f"mu must be positive, got {self.mu}")


class MuLaw(Representation):
    """Mu-law companded waveform, one channel; exact inverse (example third-party plugin)."""

    name = "mulaw"
    Config = MuLawConfig
    exact = True

    @property
    def channels(self) -> int:
        return 1

    def frames(self, num_samples: int) -> int:
        return num_samples

    def num_samples(self, frames: int) -> int:
        return frames

    def analyze(self, wave: torch.Tensor) -> torch.Tensor:
        mu = self.config.mu
        return (torch.sign(wave) * torch.log1p(mu * wave.abs()) / math.log1p(mu)).unsqueeze(1)

    def synthesize(self, features: torch.Tensor, length: int) -> torch.Tensor:
        mu = self.config.mu
        y = features.squeeze(1)
        wave = torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu
        return torch.nn.functional.pad(wave, (0, max(0, length - wave.shape[-1])))[:, :length]


@hookimpl
def register_representations(register):
    register(MuLaw)
