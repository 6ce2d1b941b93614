"""The raw waveform as a one-channel tensor: identity up to the fitted scaling."""

from __future__ import annotations

import torch

from audiozoo import Representation, hookimpl


class Waveform(Representation):
    """Raw samples as one channel, [1, T]; exact inverse."""

    name = "waveform"
    exact = True

    @property
    def channels(self) -> int:
        return 1

    def frames(self, num_samples: int) -> int:
        return num_samples

    def num_samples(self, frames: int) -> int:
        return frames

    def analyze(self, wave: torch.Tensor) -> torch.Tensor:
        return wave.unsqueeze(1)

    def synthesize(self, features: torch.Tensor, length: int) -> torch.Tensor:
        wave = features.squeeze(1)
        return torch.nn.functional.pad(wave, (0, max(0, length - wave.shape[-1])))[:, :length]


@hookimpl
def register_representations(register):
    register(Waveform)
