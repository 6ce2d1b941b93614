"""Figures a person looks at instead of listening: spectrograms side by side, loss curves, and a
figure's ranking among the rows it is read against."""

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


def save_spectrogram_grid(path: Path, rows: dict[str, dict[str, np.ndarray]], sample_rate: int) -> None:
    """A grid of panels, ``rows[row][column]`` (every row with the same columns), one colour scale,
    as PNG: a clip beside its degradations, row by row."""
    plt = _pyplot()
    specs = {r: {c: log_spectrogram(w) for c, w in row.items()} for r, row in rows.items()}
    top = max(s.max() for row in specs.values() for s in row.values())
    columns = list(next(iter(specs.values())))
    fig, axes = plt.subplots(len(specs), len(columns), figsize=(4.2 * len(columns), 2.3 * len(specs)),
                             squeeze=False, sharex=True, sharey=True)
    for i, (name, row) in enumerate(specs.items()):
        for j, column in enumerate(columns):
            spec = row[column]
            image = axes[i, j].imshow(spec, origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                                      extent=(0, spec.shape[1] * HOP / sample_rate, 0, sample_rate / 2))
            axes[i, j].set_title(f"{name}: {column}", fontsize=9)
        axes[i, 0].set_ylabel("Hz")
    for ax in axes[-1]:
        ax.set_xlabel("seconds")
    fig.colorbar(image, ax=axes, label="dB", shrink=0.6)
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


RANKING_COLOURS = {"cell": "#2456b3", "real": "#1f6b35", "ladder": "#d08a00", "noise": "#9a2b2b",
                   "degraded": "#7a5aa6", "copies": "#555f70", "ceiling": "#2a8a8a"}
"""A ranking chart's colours by row kind; other kinds are grey."""


def save_ranking(path: Path, title: str, entries: list[tuple[str, str, float, float, float]],
                 higher_is_better: bool) -> None:
    """Every ``(label, kind, value, low, high)`` as a dot with its interval (NaN ends: none), best at
    the top, coloured by kind, as PNG: where each cell lies among real music, the ladder rungs and
    the noise sentinels. A symmetric-log axis, as figures near zero (real vs real) and far from it
    (noise) share one chart."""
    plt = _pyplot()
    shown = sorted((e for e in entries if np.isfinite(e[2])), key=lambda e: -e[2] if higher_is_better else e[2])
    fig, ax = plt.subplots(figsize=(9, 0.8 + 0.24 * len(shown)))
    for y, (label, kind, value, low, high) in enumerate(shown):
        colour = RANKING_COLOURS.get(kind, "#8a8f99")
        if np.isfinite(low) and np.isfinite(high):
            ax.plot([low, high], [y, y], color=colour, linewidth=2, alpha=0.6)
        ax.plot([value], [y], "o", color=colour, markersize=6 if kind == "cell" else 4)
    ax.set_yticks(range(len(shown)), [e[0] for e in shown], fontsize=8)
    for tick, entry in zip(ax.get_yticklabels(), shown):
        tick.set_color(RANKING_COLOURS.get(entry[1], "#8a8f99"))
        tick.set_fontweight("bold" if entry[1] == "cell" else "normal")
    ax.invert_yaxis()
    spread = [abs(e[2]) for e in shown if e[1] == "real"] + [abs(e[4] - e[3]) for e in shown if e[1] == "real"]
    ax.set_xscale("symlog", linthresh=max([s for s in spread if np.isfinite(s) and s > 0] or [1e-3]))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
