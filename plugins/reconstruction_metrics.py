"""Reconstruction metrics on decoded audio: one figure per clip of what a round trip changed.

Waveform metrics (snr, si_sdr) see phase; spectral ones (spectral_convergence, mrstft, lsd,
mel_l1) do not, so a phase-free representation is judged by the latter. Every spectral metric
uses the STFT of :func:`power_spectrogram` (periodic Hann window, hop a quarter of the window),
whatever representation produced the audio.

Silent references have defined floors, so one silent held-out clip cannot swamp an average: a
reference quieter than :data:`SILENCE_RMS` (-60 dBFS RMS) is measured as if it had that level.
snr and si_sdr floor the reference's (target's) energy at ``T·SILENCE_RMS²``; spectral_convergence
and mrstft's convergence term floor ``‖|S|‖_F`` at the norm of white noise of that level (mean
power per bin ``SILENCE_RMS²·Σw²``, ``Σw² = 3·n_fft/8`` for the periodic Hann window). Then a
silent reference against an estimate at -20 dBFS reads snr -40 dB and spectral_convergence 100,
and against silence it reads a perfect score. lsd and mel_l1 are bounded already: their dB
spectrograms keep 80 dB below each clip's peak. A figure that cannot be computed (an estimate
with NaN samples) is NaN for that clip.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from audiozoo import dsp, hookimpl
from audiozoo.metric import ReconstructionMetric
from audiozoo.spectra import N_FFT, TINY, TOP_DB, log_mel, power_spectrogram

SILENCE_RMS = 1e-3
"""-60 dBFS: the level below which a reference counts as silence (the floor of every ratio here)."""

MRSTFT_SIZES = (128, 256, 512)
"""Multi-resolution STFT window sizes at 3150 Hz: 41, 81 and 163 ms, i.e. Parallel WaveGAN's
(512, 1024, 2048 at 24 kHz) scaled to this rate: short windows see onsets, long ones pitch.
At another rate the same durations (:func:`audiozoo.dsp.window_at`)."""


def _spectrogram(sample_rate: int, n_fft: int = N_FFT) -> Callable[[torch.Tensor], torch.Tensor]:
    """:func:`power_spectrogram` with a window of ``n_fft`` samples at 3150 Hz, as long at ``sample_rate``:
    every spectral metric here analyses the clips at their own rate."""
    return partial(power_spectrogram, n_fft=dsp.window_at(n_fft, sample_rate))


def _trimmed(reference: torch.Tensor, estimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both ``[B, T]`` as float32 on the reference's device, cut to the shorter length."""
    n = min(reference.shape[-1], estimate.shape[-1])
    return reference[..., :n].float(), estimate[..., :n].to(reference.device, torch.float32)


def _paired(
    reference: torch.Tensor, estimate: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``transform`` of both trimmed batches, computed as one batch (one STFT call instead of two)."""
    reference, estimate = _trimmed(reference, estimate)
    ref, est = transform(torch.cat((reference, estimate))).chunk(2)
    return ref, est


def _db_ratio(signal: torch.Tensor, noise: torch.Tensor, samples: int) -> torch.Tensor:
    """10·log10(signal / noise) of energies over ``samples``; the signal floored at silence's, the noise at TINY."""
    return 10.0 * torch.log10(signal.clamp_min(samples * SILENCE_RMS**2) / (noise + TINY))


def _convergence(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """‖ref − est‖_F / ‖ref‖_F of magnitudes ``[B, bins, F]`` per clip, ‖ref‖_F floored at silence's."""
    bins, frames = ref.shape[-2:]
    floor = (SILENCE_RMS**2 * 0.375 * 2 * (bins - 1) * bins * frames) ** 0.5  # white noise at SILENCE_RMS
    return torch.linalg.vector_norm(ref - est, dim=(-2, -1)) / torch.linalg.vector_norm(ref, dim=(-2, -1)).clamp_min(floor)


class Snr(ReconstructionMetric):
    """Signal-to-noise ratio of the decoded waveform, 10·log10(‖ref‖² / ‖ref − est‖²) per clip."""

    name = "snr"
    higher_is_better = True
    unit = "dB"

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        reference, estimate = _trimmed(reference, estimate)
        return _db_ratio(reference.square().sum(-1), (reference - estimate).square().sum(-1), reference.shape[-1])


class SiSdr(ReconstructionMetric):
    """Scale-invariant SDR per clip: SNR against the best-scaled reference, so a gain change costs nothing."""

    name = "si_sdr"
    higher_is_better = True
    unit = "dB"

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        reference, estimate = _trimmed(reference, estimate)
        reference = reference - reference.mean(-1, keepdim=True)
        estimate = estimate - estimate.mean(-1, keepdim=True)
        scale = (reference * estimate).sum(-1, keepdim=True) / (reference.square().sum(-1, keepdim=True) + TINY)
        target = scale * reference
        return _db_ratio(target.square().sum(-1), (estimate - target).square().sum(-1), reference.shape[-1])


class SpectralConvergence(ReconstructionMetric):
    """Spectral convergence ‖|S| − |Ŝ|‖_F / ‖|S|‖_F per clip (STFT of 163 ms every 41 ms, 512 / 128 samples at 3150 Hz)."""

    name = "spectral_convergence"
    higher_is_better = False

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        ref, est = _paired(reference, estimate, _spectrogram(self.config.sample_rate))
        return _convergence(ref.sqrt(), est.sqrt())


class MultiResolutionStft(ReconstructionMetric):
    """Multi-resolution STFT distance per clip: spectral convergence + mean |Δ ln|S||, averaged over 3 window sizes."""

    name = "mrstft"
    higher_is_better = False

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        return torch.stack([self._at(reference, estimate, _spectrogram(self.config.sample_rate, n_fft))
                            for n_fft in MRSTFT_SIZES]).mean(0)

    @staticmethod
    def _at(reference: torch.Tensor, estimate: torch.Tensor,
            spectrogram: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        ref, est = _paired(reference, estimate, spectrogram)
        # ln|S| = ½ ln |S|², floored at dsp.AMIN (-100 dB) so that silent bins stay finite
        log_distance = (ref.clamp_min(dsp.AMIN).log() - est.clamp_min(dsp.AMIN).log()).abs().mean((-2, -1)) / 2
        return _convergence(ref.sqrt(), est.sqrt()) + log_distance


class LogSpectralDistance(ReconstructionMetric):
    """Log-spectral distance per clip: RMS over frequency of the dB difference, averaged over frames."""

    name = "lsd"
    higher_is_better = False
    unit = "dB"

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        spectrogram = _spectrogram(self.config.sample_rate)
        ref, est = _paired(reference, estimate, lambda wave: dsp.power_to_db(spectrogram(wave), TOP_DB))
        return (ref - est).square().mean(-2).sqrt().mean(-1)


class MelL1(ReconstructionMetric):
    """Mean absolute difference of the log-mel spectrograms (64 bands, dB) per clip: spectral error on a mel scale."""

    name = "mel_l1"
    higher_is_better = False
    unit = "dB"

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        ref, est = _paired(reference, estimate, partial(log_mel, sample_rate=self.config.sample_rate))
        return (ref - est).abs().mean((-2, -1))


@hookimpl
def register_metrics(register):
    register(Snr)
    register(SiSdr)
    register(SpectralConvergence)
    register(MultiResolutionStft)
    register(LogSpectralDistance)
    register(MelL1)
