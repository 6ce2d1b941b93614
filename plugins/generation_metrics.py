"""Generation figures that are not closeness to real music: how varied the samples are, and whether they are copies.

A set of samples can be close to real music by copying the training set, or by repeating one
good clip: these two figures sit beside every closeness figure so neither passes for success.
"""

from __future__ import annotations

import torch

from audiozoo import AudiozooError, GenerationMetric, dsp, hookimpl
from audiozoo.distances import TINY, check_sets, off_diagonal, standardise
from audiozoo.metric import FeatureSetMetric
from audiozoo.spectra import (
    CHUNK,
    N_FFT,
    STRUCTURE_RATE,
    envelope_features,
    log_mel,
    loudness_normalised,
    per_clips,
)

MIN_SPREAD = 0.1
"""Floor (dB) of a band statistic's spread among reference clips when standardising."""

WINDOW_S = 2.5
"""Length of the windows the copy check compares: long enough to hold a phrase, short enough
that a copied fragment fills one."""

POOL = 4
"""Log-mel frames averaged into one (164 ms at 3150 Hz): a copy shifted by a fraction of a frame,
or under a faint hiss, still lines up, while notes and onsets stay apart."""

COPY_RATIO = 1 / 3
"""A window is a near-copy when its nearest training window is at most this fraction as far as
the nearest window of any other training clip (the usual threshold of nearest/second-nearest tests)."""

COPY_TOP_DB = 30.0
"""Dynamic range of the copy check's log-mel frames: what lies deeper (the quiet floor) changes
with any added noise or filtering and is not what makes a copy."""


class Diversity(FeatureSetMetric):
    """Samples' spread (mean pairwise distance) against real music's, folded: 1 = as diverse, → 0 = collapse."""

    name = "diversity"
    higher_is_better = True
    analysis_rate = STRUCTURE_RATE

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        return envelope_features(self.config.sample_rate, clips)

    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        ref, est = standardise(ref, est, min_spread=MIN_SPREAD)
        spread = [off_diagonal(torch.cdist(vectors, vectors)).mean() + TINY for vectors in (est, ref)]
        ratio = spread[0] / spread[1]
        # min(r, 1/r): too alike (mode collapse) and too scattered are both r's distance from 1, in log terms
        return torch.minimum(ratio, ratio.reciprocal())


def windows(sample_rate: int, clips: torch.Tensor, every_frame: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mel windows of ``WINDOW_S``, each flattened and centred: ``[W, D]``, and the clip of each ``[W]``.

    Windows start at every pooled frame (training clips, so that any part of them can be found)
    or one after another (samples). Heard at :data:`STRUCTURE_RATE` (clips at another rate resampled to it).

    Frames keep every note and onset (fine detail, unlike clip statistics); centring each window
    and normalising each clip's loudness make a copy at another level still a copy.
    """
    clips, sample_rate = dsp.resample(clips, sample_rate, STRUCTURE_RATE), STRUCTURE_RATE
    frame_s = POOL * (N_FFT // 4) / sample_rate  # log_mel's hop, pooled
    out, owner = [], []
    for start, chunk in zip(range(0, len(clips), CHUNK), clips.to(torch.float32).split(CHUNK)):
        db = torch.nn.functional.avg_pool1d(log_mel(loudness_normalised(chunk), sample_rate, COPY_TOP_DB),
                                            POOL, ceil_mode=True)  # [B, M, F]
        size = min(db.shape[-1], round(WINDOW_S / frame_s))
        cut = db.unfold(-1, size, 1 if every_frame else size)  # [B, M, W, size]
        flat = cut.permute(0, 2, 1, 3).reshape(len(chunk), cut.shape[2], -1)
        out.append((flat - flat.mean(-1, keepdim=True)).reshape(-1, flat.shape[-1]))
        owner.append((torch.arange(len(chunk), device=db.device) + start).repeat_interleave(cut.shape[2]))
    return torch.cat(out), torch.cat(owner)


@per_clips
def training_windows(sample_rate: int, train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every window of the training clips, starting at each pooled frame (computed once per training set)."""
    return windows(sample_rate, train, every_frame=True)


def copy_ratios(sample_rate: int, estimate: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """Per clip of ``estimate``, the median over its windows of: distance to the nearest training
    window ÷ distance to the nearest window of any other training clip. ~1 for new music, 0 for a copy."""
    seen, seen_clip = training_windows(sample_rate, train.to(estimate.device))
    mine, mine_clip = windows(sample_rate, estimate, every_frame=False)
    distances = torch.cdist(mine, seen)  # [w, W]
    nearest, index = distances.min(-1)
    other = distances.masked_fill(seen_clip[None] == seen_clip[index][:, None], float("inf")).amin(-1)
    # windows with nothing to tell apart (silence against silence) say nothing either way
    ratio = torch.where(other > TINY, nearest / other.clamp_min(TINY), torch.ones_like(other))
    return torch.stack([ratio[mine_clip == i].median() for i in range(len(estimate))])


class Copies(GenerationMetric):
    """Memorisation check: share of samples that are near-copies of a training clip (nearest/second-nearest ratio < 1/3)."""

    name = "copies"
    higher_is_better = False
    roles = frozenset({"memorisation"})
    unit = "%"
    analysis_rate = STRUCTURE_RATE

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor, train: torch.Tensor | None = None
                 ) -> torch.Tensor:
        if train is None:
            raise AudiozooError("copies compares samples with the training clips: pass them as train=")
        check_sets(reference, estimate, train)
        ratios = copy_ratios(self.config.sample_rate, estimate.to(reference.device), train)
        return (100.0 * (ratios < COPY_RATIO).double().mean()).float()


@hookimpl
def register_metrics(register):
    register(Diversity)
    register(Copies)
