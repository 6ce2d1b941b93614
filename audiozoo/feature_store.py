"""Features of the clip sets every bench cell is scored against, computed once and kept on disk.

A bench scores each cell's samples, and every sentinel, against the same held-out reference clips;
every later bench on the same data does again. A :class:`FeatureSetMetric`'s features of those
clips are filed by the clips' contents (a hash of their bytes) and the metric's ``cache_key``
(name, version, settings), so they are computed once for every cell and every bench — and never
served to a metric whose settings or code changed. Files are written atomically. With the features
at hand, a figure's bootstrap interval costs only the metric's ``between`` per draw.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from audiozoo.atomic import atomic_file
from audiozoo.distances import check_sets
from audiozoo.intervals import DRAWS, Figure, bootstrap
from audiozoo.metric import FeatureSetMetric, GenerationMetric


def clips_digest(clips: torch.Tensor) -> str:
    """A name for a set of clips that changes with any sample of it (milliseconds for a bench's sets)."""
    data = clips.detach().contiguous().cpu()
    return hashlib.blake2b(data.numpy().tobytes() + str((tuple(data.shape), data.dtype)).encode(),
                           digest_size=12).hexdigest()


class FeatureStore:
    """Reference features on disk under ``folder``: ``METRIC_KEY/CLIPS_DIGEST.pt``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def features(self, metric: FeatureSetMetric, clips: torch.Tensor) -> Any:
        path = self.folder / metric.cache_key.replace(":", "-") / f"{clips_digest(clips)}.pt"
        try:
            return torch.load(path, map_location=clips.device, weights_only=True)
        except (OSError, RuntimeError, EOFError, ValueError):
            pass  # not there yet, or unreadable: computed again, never trusted half-written
        features = metric.features(clips)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp:
            torch.save(features, tmp)
        return features

    def measure(self, metric: GenerationMetric, reference: torch.Tensor, estimate: torch.Tensor,
                train: torch.Tensor, draws: int = DRAWS) -> Figure:
        """``metric(reference, estimate, train)`` with its bootstrap interval over ``draws`` resamplings
        of both sets' clips, the reference's features from the store. A metric that is not a
        :class:`FeatureSetMetric` (a share of copies, say) gets its figure alone."""
        if not isinstance(metric, FeatureSetMetric):
            return Figure(float(metric(reference, estimate, train=train)))
        check_sets(reference, estimate)
        ref = self.features(metric, reference)
        return bootstrap(lambda r, e: metric.between(r, e).float(), ref,
                         metric.features(estimate.to(reference.device)), draws)
