"""Reconstruction metrics on decoded audio: signal-to-noise ratio and spectral convergence."""

from __future__ import annotations

import torch

from audiozoo import Metric, dsp, hookimpl

TINY = 1e-12
"""Keeps a silent reference or a perfect estimate finite."""


def _trimmed(reference: torch.Tensor, estimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both ``[B, T]`` as float32 on the reference's device, cut to the shorter length."""
    n = min(reference.shape[-1], estimate.shape[-1])
    return reference[..., :n].float(), estimate[..., :n].to(reference.device, torch.float32)


class Snr(Metric):
    """Signal-to-noise ratio of the decoded waveform, 10·log10(‖ref‖² / ‖ref − est‖²) per clip."""

    name = "snr"
    task = "reconstruction"
    higher_is_better = True
    unit = "dB"

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        reference, estimate = _trimmed(reference, estimate)
        signal = reference.square().sum(-1)
        noise = (reference - estimate).square().sum(-1)
        return 10.0 * torch.log10((signal + TINY) / (noise + TINY))


class SpectralConvergence(Metric):
    """Spectral convergence ‖|S| − |Ŝ|‖_F / ‖|S|‖_F per clip (STFT n_fft 512, hop 128 for every representation)."""

    name = "spectral_convergence"
    task = "reconstruction"
    higher_is_better = False
    N_FFT = 512
    HOP_LENGTH = 128

    def __init__(self, config=None) -> None:
        super().__init__(config)
        self.window = dsp.hann_window(self.N_FFT)

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        reference, estimate = _trimmed(reference, estimate)
        self.window = self.window.to(reference.device)  # no copy once it is there
        both = dsp.magnitude(dsp.stft(torch.cat((reference, estimate)), self.N_FFT, self.HOP_LENGTH, self.window))
        ref, est = both.chunk(2)
        return torch.linalg.vector_norm(ref - est, dim=(-2, -1)) / (torch.linalg.vector_norm(ref, dim=(-2, -1)) + TINY)


@hookimpl
def register_metrics(register):
    register(Snr)
    register(SpectralConvergence)
