"""The audio the benchmarks use: real music from the embedded classical dataset, as clips or as GTZAN files."""

from __future__ import annotations

import math
import os
from importlib.resources import files
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from audiozoo.data.audio import load_clip

SAMPLE_RATE = 3150  # the report's rate
GTZAN_RATE = 22050  # GTZAN's rate (and the embedded pieces')
GENRE = "classical"


def embedded_pieces() -> list[Path]:
    """The 64 embedded 30 s pieces (OGG, 22 050 Hz)."""
    return sorted(Path(str(files("audiozoo_plugins.classical") / "audio")).glob("*.ogg"))


def music_clips(count: int, samples: int) -> torch.Tensor:
    """``[count, samples]`` consecutive parts of embedded pieces at 3150 Hz, as ``prepare`` cuts them."""
    pieces = embedded_pieces()
    per_piece = max(1, round(29.0 * SAMPLE_RATE) // samples)
    clips = []
    for i in range(math.ceil(count / per_piece)):
        wave = load_clip(pieces[i % len(pieces)], SAMPLE_RATE, per_piece * samples / SAMPLE_RATE)
        clips += list(wave[: per_piece * samples].reshape(per_piece, samples))
    return torch.from_numpy(np.stack(clips[:count]))


def write_gtzan(root: Path, count: int, seconds: float) -> list[Path]:
    """``count`` GTZAN-layout files ``root/genres/classical/classical.000NN.wav`` (16-bit, 22 050 Hz).

    Each is an embedded piece tiled to ``seconds``; beyond the 64 pieces, files are hard links
    to earlier ones (same audio, another name: decoded again, as a different file would be).
    """
    folder = root / "genres" / GENRE
    folder.mkdir(parents=True, exist_ok=True)
    pieces = embedded_pieces()
    paths = []
    for i in range(count):
        path = folder / f"{GENRE}.{i:05d}.wav"
        if i >= len(pieces):
            os.link(paths[i % len(pieces)], path)
        else:
            wave, rate = sf.read(pieces[i], dtype="float32")
            assert rate == GTZAN_RATE, f"{pieces[i]} is at {rate} Hz"
            sf.write(path, np.resize(wave, round(seconds * rate)), rate, subtype="PCM_16")
        paths.append(path)
    return paths
