"""What a run leaves for a person: generated and reconstructed audio, and pictures of it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from audiozoo.data.audio import write_audio
from audiozoo.plots import save_spectrograms
from audiozoo.train.rundir import reconstruction_files, sample_files

if TYPE_CHECKING:
    from audiozoo.train.trained import Run

PANELS = 4
"""Clips shown in one spectrogram picture; the WAV files hold them all."""


def write_samples(folder: Path, run: Run, n: int, seed: int, seconds: float | None = None,
                  real: np.ndarray | None = None, **options: Any) -> list[Path]:
    """``n`` generated clips as WAV (``seconds`` long, with the model's sampling ``options``), and a PNG
    of the first few beside a real clip."""
    waves = run.sample(n, seed, seconds, **options).numpy()
    wavs, png = sample_files(folder, n)
    for path, wave in zip(wavs, waves):
        write_audio(path, wave, run.representation.sample_rate)
    panels = {} if real is None else {"real (test clip)": real}
    panels.update({f"sample {i}": w for i, w in enumerate(waves[:PANELS])})
    save_spectrograms(png, panels, run.representation.sample_rate)
    return [*wavs, png]


def write_reconstructions(folder: Path, run: Run, clips: np.ndarray) -> list[Path]:
    """Each clip beside its reconstruction (WAV), and a PNG of input/output pairs."""
    wave = torch.as_tensor(np.asarray(clips), dtype=torch.float32)
    out = run.reconstruct(wave).numpy()
    pairs, png = reconstruction_files(folder, len(wave))
    panels = {}
    for i, (paths, original, rebuilt) in enumerate(zip(pairs, wave.numpy(), out)):
        for label, path, audio in (("input", paths[0], original), ("reconstruction", paths[1], rebuilt)):
            write_audio(path, audio, run.representation.sample_rate)
            if i < PANELS // 2:
                panels[f"clip {i} {label}"] = audio
    save_spectrograms(png, panels, run.representation.sample_rate)
    return [*(p for pair in pairs for p in pair), png]
