"""A multi-resolution STFT loss on audio: what makes a waveform model keep its high frequencies.

A sample-wise MSE on a waveform is dominated by the loud low partials and lets a decoder
low-pass the rest (Jukebox, Parallel WaveGAN and DDSP add spectral losses for this). Here, as in
Parallel WaveGAN (Yamamoto et al. 2020) and auraloss's ``MultiResolutionSTFTLoss``, each window
size adds spectral convergence ``‖|S| − |Ŝ|‖_F / ‖|S|‖_F`` (the loud bins) and the mean
``|ln|S| − ln|Ŝ||`` (every bin alike, quiet partials included), averaged over the sizes; RAVE's
``AudioDistanceV1`` is the same pair with a relative L2 in place of the convergence.

Written here rather than taken from auraloss (torch and numpy only, it would install): the
project's own STFT (:func:`audiozoo.dsp.stft`) keeps the metrics' conventions, and auraloss
computes phases it never uses and does not leave bf16 autocast, which cuFFT refuses.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from audiozoo import dsp

SIZES = (64, 128, 256, 512)
"""Window sizes at 3150 Hz: 20 to 163 ms, bins of 49 down to 6 Hz, hops 5 to 41 ms. The
shortest sees onsets, the longest resolves the partials of low notes (110 Hz apart at A2);
Parallel WaveGAN's 512-2048 at 24 kHz spans the same durations; the ``mrstft`` metric uses 128-512."""

POWER_FLOOR = dsp.AMIN
"""Added to the power before the log (-100 dB, the metrics' floor): silent bins stay finite and
their gradient bounded."""


class MultiResolutionStftLoss(torch.nn.Module):
    """Spectral convergence + log-magnitude L1, averaged over window ``sizes`` (hop a quarter of each).

    Its windows are non-persistent buffers: they follow ``.to(device)`` and stay out of checkpoints.
    """

    def __init__(self, sizes: Sequence[int] = SIZES) -> None:
        super().__init__()
        self.sizes = tuple(int(n) for n in sizes)
        for n in self.sizes:
            self.register_buffer(f"window_{n}", dsp.hann_window(n), persistent=False)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of ``estimate`` against ``target``, both ``[B, T]`` audio; a scalar, in float32
        whatever autocast is on (cuFFT has no bf16)."""
        with torch.autocast(estimate.device.type, enabled=False):
            estimate, target = estimate.float(), target.detach().float()
            return torch.stack([self.at(estimate, target, n) for n in self.sizes]).mean()

    def at(self, estimate: torch.Tensor, target: torch.Tensor, n_fft: int) -> torch.Tensor:
        """The loss at one window size (the target's STFT outside the graph: half the backward's FFTs)."""
        est = self.power(estimate, n_fft)
        with torch.no_grad():
            ref = self.power(target, n_fft)
        convergence = (ref.sqrt() - est.sqrt()).norm() / ref.sum().sqrt()  # over the batch: no 0/0 for a silent clip
        log_distance = 0.5 * (ref.log() - est.log()).abs().mean()  # ln|S| = ½ ln |S|²
        return convergence + log_distance

    def power(self, wave: torch.Tensor, n_fft: int) -> torch.Tensor:
        """``|STFT|² + POWER_FLOOR`` at window ``n_fft``, hop ``n_fft // 4``."""
        return dsp.power(dsp.stft(wave, n_fft, n_fft // 4, getattr(self, f"window_{n_fft}"))) + POWER_FLOOR
