"""What a run leaves for a person: generated and reconstructed audio, and pictures of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiozoo.data.audio import write_audio
from audiozoo.model import GenerativeModel
from audiozoo.plots import save_loss_curves, save_spectrograms
from audiozoo.representation import Representation

PANELS = 4
"""Clips shown in one spectrogram picture; the WAV files hold them all."""


@torch.inference_mode()
def write_samples(folder: Path, model: GenerativeModel, rep: Representation, n: int, seed: int, length: int,
                  real: np.ndarray | None = None) -> list[Path]:
    """``n`` generated clips as WAV, and a PNG of the first few beside a real clip."""
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    model.eval()
    waves = rep.decode(model.sample(n, generator), length=length).cpu().numpy()
    paths = [folder / f"sample_{i:02d}.wav" for i in range(n)]
    for path, wave in zip(paths, waves):
        write_audio(path, wave, rep.sample_rate)
    panels = {} if real is None else {"real (test clip)": real}
    panels.update({f"sample {i}": w for i, w in enumerate(waves[:PANELS])})
    save_spectrograms(folder / "samples.png", panels, rep.sample_rate)
    return paths + [folder / "samples.png"]


@torch.inference_mode()
def write_reconstructions(folder: Path, model: GenerativeModel, rep: Representation, clips: np.ndarray) -> list[Path]:
    """Each clip beside its reconstruction (WAV), and a PNG of input/output pairs."""
    model.eval()
    wave = torch.as_tensor(np.asarray(clips), dtype=torch.float32)
    out = rep.decode(model.reconstruct(rep.encode(wave)), length=wave.shape[1]).cpu().numpy()
    paths, panels = [], {}
    for i, (original, rebuilt) in enumerate(zip(wave.numpy(), out)):
        for label, audio in (("input", original), ("reconstruction", rebuilt)):
            paths.append(folder / f"clip_{i:02d}.{label}.wav")
            write_audio(paths[-1], audio, rep.sample_rate)
            if i < PANELS // 2:
                panels[f"clip {i} {label}"] = audio
    save_spectrograms(folder / "reconstructions.png", panels, rep.sample_rate)
    return paths + [folder / "reconstructions.png"]


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl``; a line torn by a kill mid-write (the last one) is left out."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records
