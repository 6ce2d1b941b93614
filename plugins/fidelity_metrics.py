"""Fidelity: how close music-like samples come to real music, frame by frame.

The structure metrics tell music from noise, one vector per clip; with 12-30 clips a set, that
is too few observations to rank samples that are all music-like. The ear grades those by how
the partials sound: whether they are sharp or sit in grain, whether their phase turns at one
frequency (Griffin-Lim's smear and a wobbling pitch break that), whether they break off after a
fraction of a second, whether notes start, hold a while and move on. :func:`fidelity_features`
measures each of those **per frame** (41 ms hops: some 350 observations per clip of 14.5 s), and
:class:`Fidelity` compares the two sets' distributions cue by cue (an energy distance per cue,
in units of how much it varies between sets of real music), so a set figure rests on thousands
of observations. ``tools/ladder_table.py`` holds it to the ladders of :mod:`audiozoo.ladders`.

Appending a cue: add a :class:`Cue` to :data:`CUES` (a function of the shared :class:`Analysis`
returning one value per frame, and its spread between real sets, measured by
``tools/ladder_table.py spreads=1``); nothing else changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import soxr
import torch
import torch.nn.functional as F

from audiozoo import dsp, hookimpl
from audiozoo.metric import FeatureSetMetric
from audiozoo.spectra import N_FFT, N_MELS, loudness_normalised, per_clips

ANALYSIS_RATE = 3150
"""The rate every cue is measured at: their windows, lags and spreads (:attr:`Cue.spread`) are
set for it, so clips at another rate are resampled to it first (their content above 1575 Hz is
not heard: the fidelity of a 22 050 Hz set is that of its lowest 1575 Hz)."""

HOP = N_FFT // 4
"""163 ms windows every 41 ms at 3150 Hz: one frame is one observation."""

BREAK_N_FFT, BREAK_HOP = 256, 32
"""The finer analysis in which breaks in a partial are looked for (81 ms windows, 10 ms hops):
the 163 ms window would bridge a gap of 0.1 s."""

RANGE_DB = 60.0
"""Dynamic range kept below each clip's peak: quieter detail is inaudible beside it."""

ACTIVE_DB = 50.0
"""A bin takes part where its smoothed envelope is within this of the clip's peak (digital
silence above a low-pass cutoff has neither partials nor grain)."""

QUIET_DB = 40.0
"""Frames this far below the clip's loudest frame are no observation (fades, rests)."""

ENVELOPE_BINS = 15
"""Width of the spectral envelope divided out to whiten a frame (92 Hz): wider than a partial."""

PEAK_DB = 6.0
"""A partial's peak: a local maximum standing this far above the envelope."""

BREAK_S = 0.25
"""How far before and after a frame a partial's level is looked for when measuring breaks."""

LOUDNESS_EXPONENT = 0.3
"""Stevens' power law: loudness grows as intensity to about 0.3."""

HOLD_S, MOVE_S = 0.2, 2.0
"""Lags of ``hold`` (past the window, so frames do not overlap) and ``freeze``."""


@dataclass
class Analysis:
    """The spectra every cue reads, computed once per chunk of loudness-normalised clips."""

    clips: torch.Tensor  # [B, T]
    sample_rate: int

    @cached_property
    def spec(self) -> torch.Tensor:
        """Complex STFT ``[B, bins, frames]``."""
        return dsp.stft(self.clips, N_FFT, HOP, _window(N_FFT, self.clips.device))

    @cached_property
    def power(self) -> torch.Tensor:
        return dsp.power(self.spec)

    @cached_property
    def db(self) -> torch.Tensor:
        """dB power, ``RANGE_DB`` kept below each clip's peak."""
        return _db(self.power)

    @cached_property
    def envelope(self) -> torch.Tensor:
        return _envelope(self.db, ENVELOPE_BINS)

    @cached_property
    def fine(self) -> torch.Tensor:
        """The whitened spectrum: dB above the spectral envelope (partials are its peaks)."""
        return self.db - self.envelope

    @cached_property
    def active(self) -> torch.Tensor:
        """``[B, bins, frames]`` 0/1: bins whose envelope is within ``ACTIVE_DB`` of the clip's peak."""
        return _active(self.db, self.envelope)

    @cached_property
    def loudness(self) -> torch.Tensor:
        """``[B, bins, frames]``: how loud each bin is beside its frame's loudest (power relative to
        that bin's, to :data:`LOUDNESS_EXPONENT`)."""
        return (self.power / self.power.amax(1, keepdim=True).clamp_min(1e-30)).pow(LOUDNESS_EXPONENT)

    @cached_property
    def peaks(self) -> torch.Tensor:
        """``[B, bins, frames]`` bool: partials' peaks (local maxima ``PEAK_DB`` above the envelope)."""
        peaks = torch.zeros_like(self.db, dtype=torch.bool)
        db = self.db
        peaks[:, 1:-1] = (db[:, 1:-1] > db[:, :-2]) & (db[:, 1:-1] >= db[:, 2:])
        return peaks & (self.fine > PEAK_DB) & (self.active > 0)

    @cached_property
    def quiet(self) -> torch.Tensor:
        """``[B, frames]`` bool: frames more than ``QUIET_DB`` below the clip's loudest."""
        loud = self.power.sum(1).clamp_min(1e-30).log10().mul(10.0)
        return loud < loud.amax(-1, keepdim=True) - QUIET_DB

    def frames(self, seconds: float) -> int:
        return max(1, round(seconds * self.sample_rate / HOP))


@lru_cache(maxsize=16)
def _window(n_fft: int, device: torch.device) -> torch.Tensor:
    return dsp.hann_window(n_fft).to(device)


@lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, device: torch.device) -> torch.Tensor:
    return torch.tensor(dsp.mel_filterbank(sample_rate, N_FFT, N_MELS, 0.0, None), device=device)


def _db(power: torch.Tensor) -> torch.Tensor:
    db = power.clamp_min(1e-10).log10().mul(10.0)
    return db.clamp_min(db.amax(dim=(-2, -1), keepdim=True) - RANGE_DB)


def _envelope(db: torch.Tensor, width: int) -> torch.Tensor:
    """A moving average across frequency of each frame's dB spectrum."""
    batch, bins, frames = db.shape
    rows = db.transpose(1, 2).reshape(-1, 1, bins)
    smooth = F.avg_pool1d(rows, width, 1, width // 2, count_include_pad=False)
    return smooth.reshape(batch, frames, bins).transpose(1, 2)


def _active(db: torch.Tensor, envelope: torch.Tensor) -> torch.Tensor:
    return (envelope > db.amax(dim=(-2, -1), keepdim=True) - ACTIVE_DB).to(db.dtype)


def _at_peaks(analysis: Analysis, values: torch.Tensor, fallback: float) -> torch.Tensor:
    """Power-weighted mean of ``values [B, bins, frames]`` over each frame's peaks; ``fallback`` where it has none."""
    weight = analysis.power * analysis.peaks
    total = weight.sum(1)
    return torch.where(total > 0, (values * weight).sum(1) / total.clamp_min(1e-30), fallback)


def grain(analysis: Analysis) -> torch.Tensor:
    """Spectral flatness of the whitened spectrum over active bins, each weighed by its loudness:
    low where sharp partials stand over deep valleys, high where grain, blur or noise fills them.
    Weighed, so that faint hiss over the whole band (music under noise: still music to the ear)
    counts less than grain among the partials one hears."""
    fine, active = analysis.fine, analysis.active * analysis.loudness
    count = active.sum(1).clamp_min(1e-30)
    geometric = torch.exp((fine * (math.log(10.0) / 10.0) * active).sum(1) / count)
    arithmetic = (torch.pow(10.0, fine / 10.0) * active).sum(1) / count
    return torch.where(arithmetic > 0, geometric / arithmetic.clamp_min(1e-30), 1.0)


def phase(analysis: Analysis) -> torch.Tensor:
    """Disagreement of the instantaneous frequency across a partial's main lobe (in bins, at its
    peaks): the bins on either side of a steady partial's peak turn at its one frequency, so
    their phase advances over a hop agree; a smeared phase (Griffin-Lim's), a wobbling pitch
    or noise make them disagree."""
    spec = analysis.spec
    bins = spec.shape[-2]
    advance = torch.zeros(spec.shape, device=spec.device)
    advance[..., 1:] = (spec[..., 1:] * spec[..., :-1].conj()).angle()
    advance[..., 0] = advance[..., 1]
    centre = 2 * math.pi * torch.arange(bins, device=spec.device).view(-1, 1) * HOP / N_FFT
    deviation = torch.remainder(advance - centre + math.pi, 2 * math.pi) - math.pi
    frequency = deviation * N_FFT / (2 * math.pi * HOP) + torch.arange(bins, device=spec.device).view(-1, 1)
    spread = torch.zeros_like(frequency)
    spread[:, 1:-1] = (frequency[:, 2:] - frequency[:, :-2]).abs().clamp_max(4.0)
    return _at_peaks(analysis, spread, 4.0)


def onsets(analysis: Analysis) -> torch.Tensor:
    """Spectral flux: the mean rise, in dB, of the log-mel bands from the frame before."""
    mel = dsp.power_to_db(_mel_basis(analysis.sample_rate, analysis.clips.device) @ analysis.power, RANGE_DB)
    flux = torch.relu(mel.diff(dim=-1)).mean(1)
    return torch.cat((flux[:, :1], flux), -1)


def _holes(db: torch.Tensor, active: torch.Tensor, reach: int) -> torch.Tensor:
    """Per frame, the mean depth (dB) by which each bin lies below the lower of its loudest levels
    within ``reach`` frames before and after (weighted by that level's power): a partial that
    breaks off and comes back leaves a hole; one that decays, starts or holds leaves none."""
    frames = db.shape[-1]
    windows = F.pad(db, (reach, reach), value=-1e9).unfold(-1, reach + 1, 1)
    around = torch.minimum(windows[..., :frames, :].amax(-1), windows[..., reach:reach + frames, :].amax(-1))
    weight = torch.pow(10.0, around / 10.0) * active
    return ((around - db) * weight).sum(1) / weight.sum(1).clamp_min(1e-30)


def breaks(analysis: Analysis) -> torch.Tensor:
    """Holes in the partials (:func:`_holes`) in the finer 81 ms analysis, averaged onto the frames."""
    power = dsp.power(dsp.stft(analysis.clips, BREAK_N_FFT, BREAK_HOP, _window(BREAK_N_FFT, analysis.clips.device)))
    db = _db(power)
    reach = max(1, round(BREAK_S * analysis.sample_rate / BREAK_HOP))
    holes = _holes(db, _active(db, _envelope(db, ENVELOPE_BINS * BREAK_N_FFT // N_FFT | 1)), reach)
    per_frame = F.avg_pool1d(holes.unsqueeze(1), HOP // BREAK_HOP, HOP // BREAK_HOP, ceil_mode=True).squeeze(1)
    frames = analysis.db.shape[-1]
    return F.pad(per_frame, (0, max(0, frames - per_frame.shape[-1])), mode="replicate")[:, :frames]


def _lag_correlation(analysis: Analysis, lag: int, weight: torch.Tensor) -> torch.Tensor:
    """Per frame, the correlation across bins (each counted by ``weight``) of the whitened spectrum
    with itself ``lag`` frames later (earlier, for the last frames)."""
    fine, active = analysis.fine, weight
    frames = fine.shape[-1]
    index = torch.arange(frames, device=fine.device)
    other = torch.where(index + lag < frames, index + lag, (index - lag).clamp_min(0))
    both = active * active[..., other]
    count = both.sum(1, keepdim=True).clamp_min(1e-30)
    a = (fine - (fine * both).sum(1, keepdim=True) / count) * both
    b = (fine[..., other] - (fine[..., other] * both).sum(1, keepdim=True) / count) * both
    return (a * b).sum(1) / ((a * a).sum(1) * (b * b).sum(1)).sqrt().clamp_min(1e-9)


def hold(analysis: Analysis) -> torch.Tensor:
    """Correlation of the whitened spectrum with itself 0.2 s later, bins weighed by loudness: the
    notes one hears hold a while (faint hiss between them changes every frame, and does not count)."""
    return _lag_correlation(analysis, analysis.frames(HOLD_S), analysis.active * analysis.loudness)


def freeze(analysis: Analysis) -> torch.Tensor:
    """Correlation of the whitened spectrum with itself 2 s later, every active bin counted alike:
    notes move on; a drone does not, and is heard however quiet it is beside them."""
    return _lag_correlation(analysis, analysis.frames(MOVE_S), analysis.active)


@dataclass(frozen=True)
class Cue:
    """One per-frame feature: ``measure(analysis) -> [B, frames]``, and ``spread``, the standard
    deviation of its energy distance between file-disjoint sets of real music at the bench's sizes
    (14 and 12 clips of 14.5 s), measured on the embedded set: a cue's unit in the figure."""

    name: str
    measure: Callable[[Analysis], torch.Tensor]
    spread: float


CUES = (
    Cue("grain", grain, 0.0448),
    Cue("phase", phase, 0.0879),
    Cue("onsets", onsets, 0.0264),
    Cue("breaks", breaks, 0.0588),
    Cue("hold", hold, 0.0291),
    Cue("freeze", freeze, 0.0471),
)
"""Spreads from ``python tools/ladder_table.py metrics=fidelity spreads=1`` (the embedded set, 100
file-disjoint splits of all its 64 files into 7 + 6, the bench's sizes), never tuned by hand."""
FEATURES = tuple(cue.name for cue in CUES)

CHUNK = 32
"""Clips analysed at once: features are per clip, so chunking changes nothing but peak memory."""


def _features_of(clips: torch.Tensor, sample_rate: int) -> torch.Tensor:
    analysis = Analysis(loudness_normalised(clips), sample_rate)
    features = torch.stack([cue.measure(analysis) for cue in CUES], -1).double()
    features[analysis.quiet] = float("nan")
    return features


def at_analysis_rate(clips: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """``clips`` resampled to :data:`ANALYSIS_RATE` (soxr HQ, which makes the prepared clips too)."""
    if sample_rate == ANALYSIS_RATE:
        return clips.to(torch.float32)
    wave = soxr.resample(clips.detach().to(torch.float32).cpu().numpy().T, sample_rate, ANALYSIS_RATE, quality="HQ")
    return torch.from_numpy(np.ascontiguousarray(wave.T)).to(clips.device)


@per_clips
def fidelity_features(sample_rate: int, clips: torch.Tensor) -> torch.Tensor:
    """``[N, T]`` at ``sample_rate`` → ``[N, frames, len(CUES)]`` float64 (columns :data:`FEATURES`), NaN on
    quiet frames, measured at :data:`ANALYSIS_RATE` whatever the clips' rate."""
    clips = at_analysis_rate(clips, sample_rate)
    return torch.cat([_features_of(chunk, ANALYSIS_RATE) for chunk in clips.split(CHUNK)])


def _pair_sum(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ over unordered pairs of wᵢ wⱼ |xᵢ − xⱼ| along the last dimension, by sorting (n log n)."""
    values, order = values.sort(-1)
    weights = weights.gather(-1, order)
    before = weights.cumsum(-1) - weights
    return (weights * values * (2 * before + weights - weights.sum(-1, keepdim=True))).sum(-1)


def _pairs(frames: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[N, F, D]`` → each cue's Σ|xᵢ − xⱼ| over all pairs of frames, the same over pairs from
    different clips, and the weight of those pairs."""
    by_cue = frames.permute(2, 0, 1)  # [D, N, F]
    every = _pair_sum(by_cue.flatten(1), weights.flatten().expand(by_cue.shape[0], -1))
    within = _pair_sum(by_cue, weights.expand_as(by_cue)).sum(-1)
    per_clip = weights.sum(-1)
    return every, every - within, (per_clip.sum() ** 2 - per_clip.square().sum()) / 2


def energy_distances(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """Energy distance per cue between two sets of frames ``[N, F, D]`` and ``[M, F, D]`` (NaN frames left out).

    2 E|X − Y| − E|X − X'| − E|Y − Y'|, where X and X' are frames of *different* clips: frames of
    one clip are alike, and counting their pairs would make a set look tighter than its music is.
    Zero in expectation for two sets of clips drawn alike; no kernel width to choose. Exact, by
    sorting, so every frame counts at no quadratic cost.
    """
    def split(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = (~frames.isnan().any(-1)).to(frames.dtype)
        return frames.nan_to_num(0.0), weights

    (x, wx), (y, wy) = split(ref), split(est)
    x_all, x_apart, x_pairs = _pairs(x, wx)
    y_all, y_apart, y_pairs = _pairs(y, wy)
    pooled, _, _ = _pairs(torch.cat((x, y)), torch.cat((wx, wy)))
    cross = (pooled - x_all - y_all) / (wx.sum() * wy.sum()).clamp_min(1.0)
    return 2 * cross - x_apart / x_pairs.clamp_min(1.0) - y_apart / y_pairs.clamp_min(1.0)


def cue_distances(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """``[D]``: each cue's energy distance, on frames standardised by the reference's."""
    frames = ref.flatten(0, 1)
    mean = frames.nanmean(0)
    spread = (frames - mean).square().nanmean(0).sqrt().clamp_min(1e-9)
    return energy_distances((ref - mean) / spread, (est - mean) / spread)


def cue_deviations(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """``[D]``: each cue's energy distance (:func:`cue_distances`) in units of its :attr:`Cue.spread`."""
    distances = cue_distances(ref, est)
    return distances / torch.tensor([cue.spread for cue in CUES], dtype=distances.dtype, device=distances.device)


class Fidelity(FeatureSetMetric):
    """Σ over cues of z·|z|, z a cue's energy distance between the sets' frames in units of its spread between real sets."""

    name = "fidelity"
    version = 2  # 2: grain and hold weigh each bin by its loudness
    higher_is_better = False
    roles = frozenset({"distance", "fidelity"})

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        return fidelity_features(self.config.sample_rate, clips)

    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        deviations = cue_deviations(ref, est)
        return (deviations * deviations.abs()).sum()


@hookimpl
def register_metrics(register):
    register(Fidelity)
