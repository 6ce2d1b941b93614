"""Mel-frequency cepstral coefficients: the orthonormal DCT-II of the log-mel spectrogram."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from audiozoo import dsp, hookimpl
from audiozoo_plugins.mel import Mel, MelConfig


@dataclass
class MfccConfig(MelConfig):
    bands: ClassVar[int] = dsp.N_MELS  # 64, as before mel's went to 128: mfcc was not measured with more
    n_mfcc: int = 20  # coefficients kept; the inverse takes the dropped ones as zero

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.n_mfcc <= self.n_mels:
            raise ValueError(f"n_mfcc must be between 1 and n_mels = {self.n_mels}, got {self.n_mfcc}")


class Mfcc(Mel):
    """MFCCs (DCT-II of the dB log-mel, librosa's); lossy inverse via log-mel, NNLS and Griffin-Lim."""

    name = "mfcc"
    Config = MfccConfig
    exact = False
    config: MfccConfig

    def __init__(self, config: MfccConfig | None = None) -> None:
        super().__init__(config)
        dct = torch.from_numpy(dsp.dct_matrix(self.config.n_mels, self.config.n_mfcc))
        self.register_buffer("dct", dct, persistent=False)  # [n_mfcc, n_mels], orthonormal rows

    @property
    def channels(self) -> int:
        return self.config.n_mfcc

    def analyze(self, wave: torch.Tensor) -> torch.Tensor:
        return self.dct @ self.log_mel(wave)

    def synthesize(self, features: torch.Tensor, length: int) -> torch.Tensor:
        # Orthonormal rows: the transpose is the inverse DCT with the dropped coefficients set to zero.
        return self.log_mel_to_wave(self.dct.T @ features, length)


@hookimpl
def register_representations(register):
    register(Mfcc)
