"""Shared fixtures: real music from the embedded dataset, read directly (not through the cache)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import torch

from audiozoo.data.audio import load_clip

SAMPLE_RATE = 3150
HALF_CLIP = 45675  # half of a 29 s clip at 3150 Hz, the report's waveform length


def embedded_audio_files() -> list[Path]:
    return sorted(Path(str(files("audiozoo_plugins.classical") / "audio")).glob("*.ogg"))


@pytest.fixture(scope="session")
def music() -> torch.Tensor:
    """Four real half-clips [4, 45675] at 3150 Hz, from different pieces and instruments."""
    paths = embedded_audio_files()
    assert len(paths) >= 4, "the embedded dataset is missing"
    picks = [paths[i] for i in np.linspace(0, len(paths) - 1, 4).astype(int)]
    clips = [load_clip(p, SAMPLE_RATE, HALF_CLIP / SAMPLE_RATE) for p in picks]
    return torch.from_numpy(np.stack(clips))
