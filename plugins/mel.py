"""The log-mel power spectrogram (dB), inverted through non-negative least squares and Griffin-Lim."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from audiozoo import Representation, RepresentationConfig, dsp, hookimpl


@dataclass
class MelConfig(RepresentationConfig):
    bands: ClassVar[int] = 2 * dsp.N_MELS
    """Default bands over 0–1575 Hz (at another rate, as many of that mel width up to its Nyquist).
    128, not 64: the round trip through 64 bands loses the partials' exact frequencies, and
    Griffin-Lim cannot find a consistent phase for the blurred magnitudes; through 128 its
    fidelity lies within real music's interval (docs/representations.md, "How many bands")."""

    n_fft: int | None = None  # window in samples; None: 162.5 ms at the sample rate (512 at 3150 Hz)
    hop_length: int | None = None  # in samples; None: 40.6 ms at the sample rate (128 at 3150 Hz)
    n_mels: int | None = None  # None: 128 at 3150 Hz, bands as wide on the mel scale at another rate (296 at 22 050 Hz)
    fmin: float = 0.0
    fmax: float | None = None  # None: sample_rate / 2
    top_db: float | None = 80.0  # dynamic range kept below each clip's peak; None: no limit
    n_iter: int = 32  # Griffin-Lim iterations
    momentum: float = 0.99  # Griffin-Lim momentum
    nnls_steps: int = 50  # projected-gradient steps refining the mel pseudo-inverse (0: pseudo-inverse only)

    def __post_init__(self) -> None:
        super().__post_init__()
        nyquist = self.sample_rate / 2
        if self.n_mels is None:
            self.n_mels = dsp.mel_bands_at(self.bands, self.sample_rate)
        self.n_fft, self.hop_length = dsp.stft_sizes(self.sample_rate, self.n_fft, self.hop_length)
        if self.n_mels < 1:
            raise ValueError(f"n_mels must be at least 1, got {self.n_mels}")
        fmax = nyquist if self.fmax is None else self.fmax
        if not 0 <= self.fmin < fmax <= nyquist:
            raise ValueError(f"need 0 <= fmin < fmax <= sample_rate / 2 = {nyquist:g} Hz, got fmin={self.fmin}, fmax={fmax}")
        if self.top_db is not None and self.top_db <= 0:
            raise ValueError(f"top_db must be positive or None, got {self.top_db}")
        if self.n_iter < 0 or self.nnls_steps < 0 or self.momentum < 0:
            raise ValueError("n_iter, nnls_steps and momentum must be non-negative")
        empty = dsp.empty_mel_filters(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)
        if empty:
            raise ValueError(
                f"{empty} of the {self.n_mels} mel filters catch no FFT bin at sample_rate={self.sample_rate}, "
                f"n_fft={self.n_fft}: lower n_mels or raise n_fft"
            )


class Mel(Representation):
    """Log-mel power spectrogram in dB (librosa's); NNLS + Griffin-Lim inverse."""

    name = "mel"
    Config = MelConfig
    exact = False
    config: MelConfig

    def __init__(self, config: MelConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        basis = dsp.mel_filterbank(c.sample_rate, c.n_fft, c.n_mels, c.fmin, c.fmax)
        self.register_buffer("window", dsp.hann_window(c.n_fft), persistent=False)
        self.mel_inverse = dsp.MelInverse(basis, c.nnls_steps)

    @property
    def channels(self) -> int:
        return self.config.n_mels

    def frames(self, num_samples: int) -> int:
        return dsp.frames(num_samples, self.config.hop_length)

    def num_samples(self, frames: int) -> int:
        return self.config.hop_length * (frames - 1)

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` → dB mel power ``[B, n_mels, F]``."""
        c = self.config
        power = dsp.power(dsp.stft(wave, c.n_fft, c.hop_length, self.window))
        return dsp.power_to_db(self.mel_inverse.basis @ power, c.top_db)

    def log_mel_to_wave(self, log_mel: torch.Tensor, length: int) -> torch.Tensor:
        """dB mel power ``[B, n_mels, F]`` → ``[B, length]``."""
        c = self.config
        magnitude = self.mel_inverse(dsp.db_to_power(log_mel)).sqrt_()
        return dsp.griffinlim(magnitude, c.n_fft, c.hop_length, self.window, length, c.n_iter, c.momentum)

    def analyze(self, wave: torch.Tensor) -> torch.Tensor:
        return self.log_mel(wave)

    def synthesize(self, features: torch.Tensor, length: int) -> torch.Tensor:
        return self.log_mel_to_wave(features, length)


@hookimpl
def register_representations(register):
    register(Mel)
