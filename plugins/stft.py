"""The short-time Fourier transform: complex (exact inverse) or log magnitude (Griffin-Lim inverse)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from audiozoo import Representation, RepresentationConfig, dsp, hookimpl


@dataclass
class StftConfig(RepresentationConfig):
    form: Literal["complex", "magnitude"] = "complex"  # complex: real and imaginary channels; magnitude: log|S|
    n_fft: int | None = None  # window in samples; None: 162.5 ms at the sample rate (512 at 3150 Hz)
    hop_length: int | None = None  # in samples; None: 40.6 ms at the sample rate (128 at 3150 Hz)
    log_floor: float = 1e-5  # magnitude form: features are log(|S| + log_floor)
    n_iter: int = 32  # magnitude form: Griffin-Lim iterations
    momentum: float = 0.99  # magnitude form: Griffin-Lim momentum

    def __post_init__(self) -> None:
        super().__post_init__()
        self.n_fft, self.hop_length = dsp.stft_sizes(self.sample_rate, self.n_fft, self.hop_length)
        if self.log_floor <= 0:
            raise ValueError(f"log_floor must be positive, got {self.log_floor}")
        if self.n_iter < 0:
            raise ValueError(f"n_iter must be non-negative, got {self.n_iter}")
        if self.momentum < 0:
            raise ValueError(f"momentum must be non-negative, got {self.momentum}")


class Stft(Representation):
    """STFT as channels: real and imaginary parts (exact) or log magnitude (Griffin-Lim)."""

    name = "stft"
    Config = StftConfig
    exact = True  # for form="complex"; see is_exact
    config: StftConfig

    def __init__(self, config: StftConfig | None = None) -> None:
        super().__init__(config)
        self.register_buffer("window", dsp.hann_window(self.config.n_fft), persistent=False)

    @property
    def is_exact(self) -> bool:
        return self.config.form == "complex"

    @property
    def bins(self) -> int:
        return self.config.n_fft // 2 + 1

    @property
    def channels(self) -> int:
        return 2 * self.bins if self.config.form == "complex" else self.bins

    def frames(self, num_samples: int) -> int:
        return dsp.frames(num_samples, self.config.hop_length)

    def num_samples(self, frames: int) -> int:
        return self.config.hop_length * (frames - 1)

    def analyze(self, wave: torch.Tensor) -> torch.Tensor:
        c = self.config
        spec = dsp.stft(wave, c.n_fft, c.hop_length, self.window)
        if c.form == "complex":  # [B, bins, F, 2] → [B, 2 · bins, F]: real parts, then imaginary parts
            return torch.view_as_real(spec).permute(0, 3, 1, 2).reshape(spec.shape[0], self.channels, spec.shape[2])
        return dsp.magnitude(spec).add_(c.log_floor).log_()

    def synthesize(self, features: torch.Tensor, length: int) -> torch.Tensor:
        c = self.config
        if c.form == "complex":
            spec = torch.complex(features[:, : self.bins], features[:, self.bins :])
            return dsp.istft(spec, c.n_fft, c.hop_length, self.window, length)
        magnitude = features.exp().sub_(c.log_floor).clamp_min_(0.0)
        return dsp.griffinlim(magnitude, c.n_fft, c.hop_length, self.window, length, c.n_iter, c.momentum)


@hookimpl
def register_representations(register):
    register(Stft)
