"""What a run leaves for a person: generated and reconstructed audio, and pictures of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from audiozoo.data.audio import write_audio
from audiozoo.plots import log_spectrogram, save_spectrograms
from audiozoo.runs.rundir import reconstruction_files, sample_files

if TYPE_CHECKING:
    from audiozoo.runs.trained import Run

PANELS = 4
"""Clips shown in one spectrogram picture; the WAV files hold them all."""


class Board(Protocol):
    """Where a training run also shows its clips (its TensorBoard writer)."""

    def images(self, step: int, pictures: dict[str, np.ndarray]) -> None: ...

    def audio(self, step: int, clips: dict[str, np.ndarray], sample_rate: int) -> None: ...


def write_samples(folder: Path, run: Run, n: int, seed: int, seconds: float | None = None,
                  real: np.ndarray | None = None, board: Board | None = None, batch: int | None = None,
                  written: Callable[[list[Path]], None] | None = None, **options: Any) -> list[Path]:
    """``n`` generated clips as WAV (``seconds`` long, with the model's sampling ``options``), and a PNG
    of the first few beside a real clip; on ``board`` too, at the run's step, when given.

    Clips are made ``batch`` at a time (all at once when None); each batch's WAV files are written
    (each atomically) as soon as it is done, and handed to ``written``, so a stop keeps every
    finished batch. The PNG is drawn once its clips are made.
    """
    wavs, png = sample_files(folder, n)
    panels = {} if real is None else {"real (test clip)": real}
    shown = min(PANELS, n)
    done = 0
    for waves in run.clips(n, seed, seconds, batch, **options):
        waves = waves.numpy()
        paths = wavs[done : done + len(waves)]
        for path, wave in zip(paths, waves):
            write_audio(path, wave, run.representation.sample_rate)
        if board is not None:
            _to_board(board, run, {f"sample_{done + i:02d}": wave for i, wave in enumerate(waves)})
        if done < shown:
            panels.update({f"sample {done + i}": w.copy() for i, w in enumerate(waves[: shown - done])})
            if done + len(waves) >= shown:
                save_spectrograms(png, panels, run.representation.sample_rate)
        done += len(waves)
        if written is not None:
            written(paths)
    return [*wavs, png]


def _to_board(board: Board, run: Run, waves: dict[str, np.ndarray]) -> None:
    """Each clip's spectrogram and sound at the run's step. A tag is one kind of data in TensorBoard,
    so pictures go under ``spectrogram/NAME`` and sounds under ``audio/NAME``."""
    board.images(run.progress.step, spectrogram_pictures({f"spectrogram/{k}": w for k, w in waves.items()}))
    board.audio(run.progress.step, {f"audio/{k}": w for k, w in waves.items()}, run.representation.sample_rate)


def spectrogram_pictures(waves: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each clip's spectrogram as an RGB picture ``[freq, frames, 3]`` in [0, 1], drawn as in the PNGs:
    low frequencies at the bottom, magma, 80 dB below the loudest clip's peak."""
    from matplotlib import colormaps

    specs = {label: log_spectrogram(wave)[::-1] for label, wave in waves.items()}
    top = max(spec.max() for spec in specs.values())
    return {label: colormaps["magma"](np.clip((spec - top + 80) / 80, 0, 1))[..., :3] for label, spec in specs.items()}


def write_reconstructions(folder: Path, run: Run, clips: np.ndarray, board: Board | None = None) -> list[Path]:
    """Each clip beside its reconstruction (WAV), and a PNG of input/output pairs; on ``board`` too
    (``clip_NN_input`` beside ``clip_NN_reconstruction``), when given."""
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
    if board is not None:
        _to_board(board, run, {f"clip_{i:02d}_{label}": audio for i, pair in enumerate(zip(wave.numpy(), out))
                               for label, audio in zip(("input", "reconstruction"), pair)})
    return [*(p for pair in pairs for p in pair), png]
