"""Figures a person looks at instead of listening: log spectrograms side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from audiozoo.atomic import atomic_file


def log_spectrogram(wave: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """dB magnitude ``[freq, frames]``, 80 dB of range below the clip's peak."""
    spec = torch.stft(torch.as_tensor(wave, dtype=torch.float32), n_fft, hop, window=torch.hann_window(n_fft), return_complex=True)
    db = 20 * torch.log10(spec.abs().clamp_min(1e-6))
    return db.clamp_min(db.max() - 80).numpy()


def save_spectrograms(path: Path, waves: dict[str, np.ndarray], sample_rate: int) -> None:
    """One panel per labelled waveform, shared colour scale, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = {label: log_spectrogram(w) for label, w in waves.items()}
    top = max(s.max() for s in specs.values())
    fig, axes = plt.subplots(len(specs), 1, figsize=(10, 2.6 * len(specs)), squeeze=False, sharex=True)
    for ax, (label, spec) in zip(axes[:, 0], specs.items()):
        seconds = spec.shape[1] * 128 / sample_rate
        image = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                          extent=(0, seconds, 0, sample_rate / 2))
        ax.set_title(label, fontsize=10)
        ax.set_ylabel("Hz")
    axes[-1, 0].set_xlabel("seconds")
    fig.colorbar(image, ax=axes[:, 0], label="dB", shrink=0.8)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
