"""Cutting one decoded item into segments: its first ``clip_seconds`` in ``segments`` parts, or all of it.

``data.windows=first`` (the report's): the first clip, in ``segments`` equal parts, zero-padded
where the file is shorter. ``data.windows=all``: consecutive segments of the same length over the
whole item, ``data.hop_seconds`` apart (default: one segment, so none overlap), the last partial
one padded. What is kept of them (short files, partial and silent segments) ``prepare`` decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from audiozoo.data.source import DataConfig


@dataclass
class Cut:
    """One item's segments, before the dataset's checks decide which to keep."""

    segments: np.ndarray  # [k, T] float32 (a view of the decoded audio where it can be), zero-padded past its end
    starts: np.ndarray  # [k] the first sample of each, in the item
    real: np.ndarray  # [k] samples of audio in each; the rest of the row is padding
    samples: int  # samples decoded (windows=first: at most the clip)
    peak: float  # of the decoded audio: NaN or infinite where any sample is

    @property
    def peaks(self) -> np.ndarray:
        """Each segment's peak, one row at a time (``np.abs`` of all would copy the file once more)."""
        return np.array([max(float(row.max()), -float(row.min())) for row in self.segments], dtype=np.float64)


def cut(chunks: Iterable[np.ndarray], config: DataConfig) -> Cut:
    """The segments of one item's decoded ``chunks`` (mono, at ``config.sample_rate``)."""
    parts = list(chunks)
    audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    del parts
    seg = config.segment_samples
    if config.windows == "first":
        audio = audio[: config.clip_samples]
        starts = np.arange(config.segments, dtype=np.int64) * seg
    else:
        hop = config.hop_samples
        full = max(0, (len(audio) - seg) // hop + 1)  # windows that end inside the audio
        # and one partial window, where audio is left after the last full one
        partial = full * hop < len(audio) and (full == 0 or (full - 1) * hop + seg < len(audio))
        starts = np.arange(full + partial, dtype=np.int64) * hop
    peak = max(float(audio.max()), -float(audio.min())) if len(audio) else 0.0  # NaN propagates
    real = np.clip(len(audio) - starts, 0, seg)
    need = int(starts[-1]) + seg if len(starts) else 0
    padded = audio[:need] if len(audio) >= need else np.concatenate((audio, np.zeros(need - len(audio), np.float32)))
    if not len(starts):
        segments = np.zeros((0, seg), np.float32)
    elif len(starts) == 1 or starts[1] - starts[0] == seg:
        segments = padded.reshape(len(starts), seg)
    else:  # overlapping (or spaced) windows: a view, copied only as the cache is written
        segments = np.lib.stride_tricks.sliding_window_view(padded, seg)[:: starts[1] - starts[0]][: len(starts)]
    return Cut(segments, starts, real, len(audio), peak)


def covered(starts: np.ndarray, real: np.ndarray) -> int:
    """Samples of audio inside at least one of the segments (overlapping ones count once)."""
    total = reach = 0
    for start, end in zip(starts.tolist(), (starts + real).tolist()):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total
