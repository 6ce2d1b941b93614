"""The one spectral analysis every metric plugin measures with, whatever representation made the audio.

A metric must not see audio through the representation it judges, so metrics share this fixed
analysis (periodic Hann window, hop a quarter of the window), kept in the core so metric plugins
depend on the core alone.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import TypeVar

import torch

from audiozoo import dsp

R = TypeVar("R")

TINY = 1e-12
"""Keeps a silent reference or a perfect estimate finite."""

N_FFT = dsp.N_FFT
"""FFT size of the spectral metrics at 3150 Hz (163 ms, the mel representation's default); at
another rate the same duration (:func:`audiozoo.dsp.window_at`)."""

STRUCTURE_RATE = dsp.REFERENCE_RATE
"""The rate the structure and envelope features listen at (clips at another rate are resampled to
it): what their constants and the sentinels' ladders were set at, so a figure means the same
whatever the data's rate. They hear below 1575 Hz, where the partials of most music lie."""

N_MELS = 64
"""Mel bands of :func:`log_mel`: the mel representation's default, no empty filter at 3150 Hz."""

TOP_DB = 80.0
"""Dynamic range kept below each clip's peak in dB figures (librosa's default): near-silent bins
would otherwise dominate a log-domain distance."""

@lru_cache(maxsize=16)
def _window(n_fft: int, device: torch.device) -> torch.Tensor:
    """Hann window on ``device``, built once per size and device rather than per call."""
    return dsp.hann_window(n_fft).to(device)


@lru_cache(maxsize=16)
def _mel_basis(sample_rate: int, device: torch.device) -> torch.Tensor:
    return torch.tensor(dsp.mel_filterbank(sample_rate, dsp.window_at(N_FFT, sample_rate), N_MELS, 0.0, None),
                        device=device)


def power_spectrogram(wave: torch.Tensor, n_fft: int = N_FFT) -> torch.Tensor:
    """``[B, T]`` → STFT power ``[B, n_fft // 2 + 1, F]``, hop ``n_fft // 4``."""
    return dsp.power(dsp.stft(wave, n_fft, n_fft // 4, _window(n_fft, wave.device)))


def log_mel(wave: torch.Tensor, sample_rate: int, top_db: float = TOP_DB) -> torch.Tensor:
    """``[B, T]`` → mel power in dB ``[B, N_MELS, F]``, ``top_db`` kept below each clip's peak (librosa's);
    163 ms windows every 41 ms at any rate."""
    power = power_spectrogram(wave, dsp.window_at(N_FFT, sample_rate))
    return dsp.power_to_db(_mel_basis(sample_rate, wave.device) @ power, top_db)


def per_clips(fn: Callable[[int, torch.Tensor], R]) -> Callable[[int, torch.Tensor], R]:
    """Remember ``fn(sample_rate, clips)`` for the last few clip sets seen.

    A bench scores one set of reference clips (and training clips) against a dozen sets with
    several metrics; their features are the same every time. A set is known by its contents
    (a hash of its bytes: milliseconds for a bench's training set), so a tensor changed in place,
    or a new tensor at a freed address, is never served another's features.
    """
    memory: OrderedDict[tuple, R] = OrderedDict()

    @wraps(fn)
    def cached(sample_rate: int, clips: torch.Tensor) -> R:
        data = clips.detach().contiguous().cpu().numpy()
        key = (sample_rate, clips.shape, clips.dtype, clips.device, hashlib.blake2b(data.tobytes()).digest())
        if key in memory:
            memory.move_to_end(key)
            return memory[key]
        memory[key] = result = fn(sample_rate, clips)
        while len(memory) > 8:
            memory.popitem(last=False)
        return result

    return cached


ENVELOPE_TOP_DB = 60.0
"""Dynamic range kept below each clip's peak in :func:`envelope_features`: detail quieter than
that is inaudible beside the peak, and keeping it would let digital silence (above a low-pass
cutoff, say) outweigh what is audible."""

QUIET_RMS = 1e-5
"""RMS below which a clip is not amplified by loudness normalisation: silence stays silence."""

CHUNK = 64
"""Clips analysed at once by per-clip features: chunking changes nothing but peak memory."""


def loudness_normalised(clips: torch.Tensor) -> torch.Tensor:
    """Each clip at unit RMS (near-silent clips left as they are): recording level says nothing about the music."""
    return clips / clips.square().mean(-1, keepdim=True).sqrt().clamp_min(QUIET_RMS)


@per_clips
def envelope_features(sample_rate: int, clips: torch.Tensor) -> torch.Tensor:
    """``[N, T]`` → ``[N, 2 · N_MELS]`` float64: each band's mean and spread over time of the clip's
    log-mel (dB), at :data:`STRUCTURE_RATE`.

    The clip's spectral envelope and its dynamics, after loudness normalisation: what a band-level
    summary sees. Noise shaped like the music's envelope has the same (docs/metrics.md).
    """
    parts = []
    for chunk in dsp.resample(clips, sample_rate, STRUCTURE_RATE).to(torch.float32).split(CHUNK):
        db = log_mel(loudness_normalised(chunk), STRUCTURE_RATE, ENVELOPE_TOP_DB)
        parts.append(torch.cat((db.mean(-1), db.std(-1)), -1))
    return torch.cat(parts).double()

