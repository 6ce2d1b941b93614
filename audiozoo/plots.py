"""Figures a person looks at instead of listening: spectrograms side by side, and loss curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from audiozoo import dsp
from audiozoo.atomic import atomic_file

N_FFT, HOP = 512, 128


def log_spectrogram(wave: np.ndarray) -> np.ndarray:
    """dB power ``[freq, frames]``, 80 dB of range below the clip's peak."""
    batch = torch.as_tensor(wave, dtype=torch.float32).unsqueeze(0)
    power = dsp.power(dsp.stft(batch, N_FFT, HOP, dsp.hann_window(N_FFT)))
    return dsp.power_to_db(power, top_db=80.0)[0].numpy()


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend, imported when a picture is first drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    _pyplot().close(fig)


def save_spectrograms(path: Path, waves: dict[str, np.ndarray], sample_rate: int) -> None:
    """One panel per labelled waveform, shared colour scale, written atomically as PNG."""
    plt = _pyplot()
    specs = {label: log_spectrogram(w) for label, w in waves.items()}
    top = max(s.max() for s in specs.values())
    fig, axes = plt.subplots(len(specs), 1, figsize=(10, 2.6 * len(specs)), squeeze=False, sharex=True)
    for ax, (label, spec) in zip(axes[:, 0], specs.items()):
        seconds = spec.shape[1] * HOP / sample_rate
        image = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                          extent=(0, seconds, 0, sample_rate / 2))
        ax.set_title(label, fontsize=10)
        ax.set_ylabel("Hz")
    axes[-1, 0].set_xlabel("seconds")
    fig.colorbar(image, ax=axes[:, 0], label="dB", shrink=0.8)
    _save(fig, path)


def save_loss_curves(path: Path, records: list[tuple[int, dict[str, float]]]) -> None:
    """Every loss of ``records`` ``(step, {loss: value})`` against the step, one panel per loss; a
    held-out ``valid_X`` is drawn on ``X``'s panel (its own panel when training logs no ``X``), as PNG."""
    plt = _pyplot()
    logged = dict.fromkeys(k for _, losses in records for k in losses)
    keys = list(dict.fromkeys(k.removeprefix("valid_") for k in logged))
    fig, axes = plt.subplots(1, max(1, len(keys)), figsize=(4.5 * max(1, len(keys)), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, name, style in (("training", key, {"linewidth": 1}),
                                   ("held out", f"valid_{key}", {"linewidth": 1.5, "marker": "o", "markersize": 3})):
            rows = [(step, losses[name]) for step, losses in records if name in losses]
            if rows:
                ax.plot(*zip(*rows), label=label, **style)
        if f"valid_{key}" in logged and key in logged:
            ax.legend(fontsize=8)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
