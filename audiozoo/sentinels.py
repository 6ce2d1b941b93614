"""Sentinels: sets of clips with a known answer, scored beside every model so each table calibrates itself.

A generation metric's figure means little alone. Scored on the same held-out clips, with the
same counts as a model's samples, these sets say where real music, noise built to fool the
metric, degraded music and copies of the training set land; a model's figure is read between
them. Each is a function of the held-out clips (and the training clips, for copies), seeded, so
every cell of a bench sees the same sentinels.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from audiozoo import dsp

N_FFT, HOP = 512, 128
"""Analysis of the shaped-noise and Griffin-Lim sentinels: 163 ms windows, 41 ms hops at 3150 Hz."""

ENVELOPE_BINS, ENVELOPE_FRAMES = 15, 3
"""How far the envelope sentinel smooths each clip's |STFT|: 92 Hz × 123 ms at 3150 Hz, wider
than the spacing of most partials and shorter than most notes, so the noise follows the music's
spectral envelope and its onsets but carries none of its partials."""

LOW_PASS_HZ = 400.0
GRIFFIN_LIM_ITERATIONS = 32
NOISE_SNR_DB = 10.0
SEED = 0

REAL = "real (held out)"
"""The row of a second, disjoint half of held-out real music: what a perfect generator reaches."""


@dataclass(frozen=True)
class Sentinel:
    """One row of every table: ``kind`` groups it (real, noise, degraded, copies, ceiling)."""

    label: str
    kind: str
    make: Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]
    what: str


def _rms(wave: torch.Tensor) -> torch.Tensor:
    return wave.square().mean(-1, keepdim=True).sqrt()


def _at_rms_of(wave: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return wave * _rms(like) / _rms(wave).clamp_min(1e-12)


def _noise(shape: torch.Size, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randn(shape, generator=generator).to(device)


def _shaped_noise(clips: torch.Tensor, generator: torch.Generator,
                  shape: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """White noise whose STFT is multiplied by ``shape(|STFT of the clip|)``, at each clip's RMS."""
    window = dsp.hann_window(N_FFT).to(clips.device)
    magnitude = dsp.magnitude(dsp.stft(clips, N_FFT, HOP, window))
    noise = dsp.stft(_noise(clips.shape, generator, clips.device), N_FFT, HOP, window)
    return _at_rms_of(dsp.istft(noise * shape(magnitude), N_FFT, HOP, window, clips.shape[-1]), clips)


def white(clips: torch.Tensor, train: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """White noise at each clip's RMS."""
    return _noise(clips.shape, generator, clips.device) * _rms(clips)


def envelope(clips: torch.Tensor, train: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Noise following each clip's time-varying spectral envelope: today's generators' failure mode."""
    def smooth(magnitude: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(magnitude.unsqueeze(1), (ENVELOPE_BINS, ENVELOPE_FRAMES), stride=1,
                            padding=(ENVELOPE_BINS // 2, ENVELOPE_FRAMES // 2), count_include_pad=False).squeeze(1)
    return _shaped_noise(clips, generator, smooth)


def long_term_spectrum(clips: torch.Tensor, train: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Stationary noise shaped by each clip's long-term average spectrum (its partials' average, frozen)."""
    return _shaped_noise(clips, generator, lambda magnitude: magnitude.mean(-1, keepdim=True))


def noisy(clips: torch.Tensor, train: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each clip with white noise ``NOISE_SNR_DB`` below it."""
    return clips + white(clips, train, generator) * 10 ** (-NOISE_SNR_DB / 20)


def griffin_lim(clips: torch.Tensor, train: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each clip through a magnitude-only round trip: its |STFT| and Griffin-Lim's phase."""
    window = dsp.hann_window(N_FFT).to(clips.device)
    magnitude = dsp.magnitude(dsp.stft(clips, N_FFT, HOP, window))
    return dsp.griffinlim(magnitude, N_FFT, HOP, window, clips.shape[-1], n_iter=GRIFFIN_LIM_ITERATIONS)


def low_pass(sample_rate: int) -> Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]:
    def apply(clips: torch.Tensor, train: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Everything above ``LOW_PASS_HZ`` removed: heavily muffled, still music."""
        spectrum = torch.fft.rfft(clips)
        spectrum[..., torch.fft.rfftfreq(clips.shape[-1], 1 / sample_rate) > LOW_PASS_HZ] = 0
        return torch.fft.irfft(spectrum, n=clips.shape[-1])
    return apply


def copies(clips: torch.Tensor, train: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Training clips presented as samples, as many as ``clips``: what memorisation looks like."""
    picked = torch.randperm(len(train), generator=generator)[: len(clips)]
    return train[picked.to(train.device)].to(clips.device)


def sentinels(sample_rate: int) -> list[Sentinel]:
    """Every sentinel, in table order (the real-vs-real reference is computed beside them)."""
    return [
        Sentinel("noise: white", "noise", white, "white noise at each held-out clip's RMS"),
        Sentinel("noise: envelope", "noise", envelope,
                 f"noise following each clip's |STFT| smoothed over {ENVELOPE_BINS} bins × {ENVELOPE_FRAMES} frames"),
        Sentinel("noise: long-term spectrum", "noise", long_term_spectrum,
                 "stationary noise shaped by each clip's long-term average spectrum"),
        Sentinel(f"degraded: +{NOISE_SNR_DB:g} dB noise", "degraded", noisy,
                 f"each clip with white noise {NOISE_SNR_DB:g} dB below it"),
        Sentinel("degraded: Griffin-Lim", "degraded", griffin_lim,
                 f"each clip's |STFT| (n_fft {N_FFT}) inverted by {GRIFFIN_LIM_ITERATIONS} Griffin-Lim iterations"),
        Sentinel(f"degraded: low-pass {LOW_PASS_HZ:g} Hz", "degraded", low_pass(sample_rate),
                 f"each clip with everything above {LOW_PASS_HZ:g} Hz removed"),
        Sentinel("copies: training clips", "copies", copies, "training clips presented as samples"),
    ]


def make_sentinel(sentinel: Sentinel, clips: torch.Tensor, train: torch.Tensor, seed: int = SEED) -> torch.Tensor:
    """One sentinel's clips ``[N, T]`` from held-out ``clips`` and the ``train`` split; its own seed,
    so it is the same whichever others are made beside it."""
    generator = torch.Generator().manual_seed(seed ^ zlib.crc32(sentinel.label.encode()))
    return sentinel.make(clips, train, generator)


def make_sentinels(sample_rate: int, clips: torch.Tensor, train: torch.Tensor,
                   seed: int = SEED) -> dict[str, torch.Tensor]:
    """Every sentinel's clips ``{label: [N, T]}``."""
    return {s.label: make_sentinel(s, clips, train, seed) for s in sentinels(sample_rate)}


def ceiling_label(representation: str) -> str:
    """The row of a representation's own round trip (encode → decode, no model) scored as samples."""
    return f"ceiling: {representation}"


def is_noise(label: str) -> bool:
    return label.startswith("noise:")

