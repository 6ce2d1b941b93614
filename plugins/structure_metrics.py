"""Structure metrics: do generated clips have what makes music music — pitched partials that hold and change?

Noise shaped like music's spectral envelope has music's loudness, timbre and even onsets, and
fools every metric built on band levels (docs/metrics.md shows it). It has no partials: divide
a frame's spectrum by its own smoothed envelope and what is left of noise is a flat, random
speckle, redrawn every frame. What is left of music is peaks — harmonics — that stay where they
are while a note sounds, move when the notes change, and fall on a few pitch classes. The four
:func:`structure_features` measure exactly that, per clip:

- ``flatness``: spectral flatness of the whitened spectrum (partials are peaky, noise is flat);
- ``stability``: correlation of the whitened spectrum with itself 0.2 s later (notes hold);
- ``change``: how much less it correlates 2 s later than 0.2 s later (notes change; stationary
  noise with music's long-term spectrum holds its frozen peaks forever);
- ``chroma_entropy``: entropy of the pitch-class distribution (music dwells on a few classes);
- ``onsets``: how far the loudest rises of the log-mel spectrogram stand above its typical change
  (notes start; stationary noise, and a texture of frozen partials, change as much at every frame).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

from audiozoo import dsp, hookimpl
from audiozoo.distances import mmd2, standardise
from audiozoo.metric import FeatureSetMetric
from audiozoo.spectra import (
    N_FFT,
    STRUCTURE_RATE,
    log_mel,
    per_clips,
    power_spectrogram,
)

HOP = N_FFT // 4
"""The analysis of :func:`audiozoo.spectra.power_spectrogram`: 163 ms windows every 41 ms at 3150 Hz."""

RANGE_DB = 60.0
"""Dynamic range kept below each clip's peak: quieter detail is inaudible beside the peak."""

ACTIVE_DB = 50.0
"""A bin takes part where its smoothed envelope is within this of the clip's peak: digital
silence (above a low-pass cutoff, say) has no partials to find and no noise to flatten."""

ENVELOPE_BINS = 15
"""Width of the envelope divided out (92 Hz at n_fft 512, 3150 Hz): wider than a partial's peak."""

SHORT_LAG_S, LONG_LAG_S = 0.2, 2.0
"""Lags of ``stability`` (past the 163 ms window, so noise frames no longer overlap) and ``change``."""

CHROMA_HZ = (65.0, 1400.0)
"""Pitch classes are read from C2 to the top of the band; below, bins are wider than a semitone."""

QUIET_RMS = 1e-5
"""RMS below which a clip is not amplified by loudness normalisation: silence stays silence."""

ONSET_QUANTILES = (0.5, 0.95)
"""``onsets`` is log(q95 / q50) of the spectral flux: a rise at 1 frame in 20 against the median one."""

FEATURES = ("flatness", "stability", "change", "chroma_entropy", "onsets")

MIN_SPREAD = torch.tensor([0.01, 0.02, 0.02, 0.05, 0.05], dtype=torch.float64)
"""Floor of each feature's spread among reference clips when standardising (a tenth or so of
the spread real music shows): a near-constant reference must not blow rounding up."""

KERNEL_WIDTH = 4.0
"""Kernel width in reference median distances. At 1 (the median heuristic) every noise sentinel
saturates the kernel and noise that barely varies scores worst whatever its distance
(docs/metrics.md has the sentinels at widths 1 to 16); at 4 they rank by how far they are."""

RANGE = (0.05, 0.95)
"""Quantiles of the held-out clips' features that bound real music's range: the extremes of tens
of clips would widen it with every clip added (a range from 64 clips let stationary noise in)."""

RANGE_MARGIN = 0.5
"""How far outside that range, as a share of it, still counts as inside: measured on the embedded
set, about 5 of 6 held-out real clips fall inside, and no noise sentinel clip does (docs/metrics.md)."""

CHUNK = 64
"""Clips analysed at once: features are per clip, so chunking changes nothing but peak memory."""


@lru_cache(maxsize=8)
def _pitch_classes(sample_rate: int, device: torch.device) -> torch.Tensor:
    """``[12, bins]``: which STFT bin adds to which pitch class (0 = A), between ``CHROMA_HZ``."""
    freqs = torch.arange(N_FFT // 2 + 1, dtype=torch.float64) * sample_rate / N_FFT
    inside = (freqs >= CHROMA_HZ[0]) & (freqs <= min(CHROMA_HZ[1], sample_rate / 2))
    classes = torch.round(12 * torch.log2(freqs.clamp_min(1.0) / 440.0)).long() % 12
    return (F.one_hot(classes, 12).T * inside).float().to(device)


def _lag_correlation(fine: torch.Tensor, active: torch.Tensor, lag: int) -> torch.Tensor:
    """Mean over frames of the correlation, across active bins, of frame t with frame t + lag: ``[B]``."""
    if lag >= fine.shape[-1]:
        return fine.new_zeros(fine.shape[0])
    a, b, both = fine[..., :-lag], fine[..., lag:], active[..., :-lag] * active[..., lag:]
    count = both.sum(1, keepdim=True).clamp_min(1.0)
    a = (a - (a * both).sum(1, keepdim=True) / count) * both
    b = (b - (b * both).sum(1, keepdim=True) / count) * both
    correlation = (a * b).sum(1) / ((a * a).sum(1) * (b * b).sum(1)).sqrt().clamp_min(1e-9)
    weight = (both.sum(1) > 1).float()  # frames with nothing audible on both sides do not vote
    return (correlation * weight).sum(-1) / weight.sum(-1).clamp_min(1.0)


def _structure_of(clips: torch.Tensor, sample_rate: int) -> torch.Tensor:
    rms = clips.square().mean(-1, keepdim=True).sqrt().clamp_min(QUIET_RMS)
    power = power_spectrogram(clips / rms)  # [B, K, T]
    db = power.clamp_min(1e-10).log10().mul(10.0)
    peak = db.amax(dim=(-2, -1), keepdim=True)
    db = db.clamp_min(peak - RANGE_DB)
    # The envelope: a moving average across frequency of each frame's dB spectrum.
    batch, bins, frames = db.shape
    envelope = F.avg_pool1d(db.transpose(1, 2).reshape(-1, 1, bins), ENVELOPE_BINS, 1, ENVELOPE_BINS // 2,
                            count_include_pad=False).reshape(batch, frames, bins).transpose(1, 2)
    fine = db - envelope
    active = (envelope > peak - ACTIVE_DB).to(db.dtype)
    audible = power * active
    frame_weight = audible.sum(1)  # [B, T]: louder frames say more about the clip
    weight_sum = frame_weight.sum(-1).clamp_min(1e-30)

    # flatness of the whitened power over active bins, per frame: geometric over arithmetic mean
    count = active.sum(1).clamp_min(1.0)
    whitened = torch.pow(10.0, fine / 10.0)
    geometric = torch.exp((fine * (math.log(10.0) / 10.0) * active).sum(1) / count)
    arithmetic = (whitened * active).sum(1) / count
    ratio = torch.where(arithmetic > 0, geometric / arithmetic.clamp_min(1e-30), 0.0)  # no active bin: no vote
    flatness = (ratio * frame_weight).sum(-1) / weight_sum

    hop_seconds = HOP / sample_rate
    # What a bin holds on average over the clip is no note: stationary noise shaped by music's
    # long-term spectrum keeps those frozen peaks forever. Correlate what moves around it.
    moving = fine - (fine * active).sum(-1, keepdim=True) / active.sum(-1, keepdim=True).clamp_min(1.0)
    short_lag, long_lag = (max(1, round(lag / hop_seconds)) for lag in (SHORT_LAG_S, LONG_LAG_S))
    stability = _lag_correlation(moving, active, short_lag)
    # ...and that those peaks move on: correlation lost between 0.2 s and 2 s, frozen peaks included.
    change = _lag_correlation(fine, active, short_lag) - _lag_correlation(fine, active, long_lag)

    chroma = _pitch_classes(sample_rate, clips.device) @ audible  # [B, 12, T]
    share = chroma / chroma.sum(1, keepdim=True).clamp_min(1e-30)
    entropy = -(share * share.clamp_min(1e-30).log()).sum(1)
    chroma_weight = chroma.sum(1)
    chroma_entropy = torch.where(chroma_weight.sum(-1) > 0,
                                 (entropy * chroma_weight).sum(-1) / chroma_weight.sum(-1).clamp_min(1e-30),
                                 math.log(12.0))
    # spectral flux of the log-mel spectrogram: the rises of each band, summed, frame to frame
    flux = torch.relu(log_mel(clips / rms, sample_rate, RANGE_DB).diff(dim=-1)).mean(1)
    typical, loud = torch.quantile(flux, torch.tensor(ONSET_QUANTILES, device=flux.device, dtype=flux.dtype), dim=-1)
    onsets = (loud.clamp_min(1e-6) / typical.clamp_min(1e-6)).log()
    return torch.stack((flatness, stability, change, chroma_entropy, onsets), -1)


@per_clips
def structure_features(sample_rate: int, clips: torch.Tensor) -> torch.Tensor:
    """``[N, T]`` → ``[N, 5]`` float64 (columns :data:`FEATURES`), on the clips' device; gain-independent.
    Heard at :data:`STRUCTURE_RATE` (clips at another rate resampled to it)."""
    clips = dsp.resample(clips, sample_rate, STRUCTURE_RATE)
    return torch.cat([_structure_of(chunk, STRUCTURE_RATE)
                      for chunk in clips.to(torch.float32).split(CHUNK)]).double()


class _OnStructure(FeatureSetMetric):
    """A figure on the sets' :func:`structure_features`."""

    roles = frozenset({"structure"})
    analysis_rate = STRUCTURE_RATE

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        return structure_features(self.config.sample_rate, clips)


class StructureDistance(_OnStructure):
    """Kernel distance (unbiased MMD²) between the sets' structure features: partials, their stability and change, pitch classes, onsets."""

    name = "structure_distance"
    higher_is_better = False
    roles = frozenset({"structure", "distance"})

    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        return mmd2(*standardise(ref, est, min_spread=MIN_SPREAD.to(ref.device)), KERNEL_WIDTH)


class MusicLikeness(_OnStructure):
    """Share of clips whose every structure feature lies in held-out real music's range (5th-95th percentile, widened by half)."""

    name = "music_likeness"
    higher_is_better = True
    unit = "%"

    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        low, high = (torch.quantile(ref, q, dim=0) for q in RANGE)
        margin = RANGE_MARGIN * (high - low)
        inside = ((est >= low - margin) & (est <= high + margin)).all(-1)
        return 100.0 * inside.double().mean()


@hookimpl
def register_metrics(register):
    register(StructureDistance)
    register(MusicLikeness)
