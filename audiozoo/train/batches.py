"""The training split on the device, as the batches a model sees: encoded tensors with the audio they came from.

Whole segments are encoded once, in batches, and held on the device (the fast path). With
``crop_seconds`` every step draws a random window from each clip of its batch — a new draw per
step, a function of (seed, step) only, so a resumed run draws the same — and encodes the batch
on the device.
"""

from __future__ import annotations

import numpy as np
import torch

from audiozoo.model import Batch
from audiozoo.representation import Representation

ENCODE_BATCH = 32
"""Clips per call of ``encode`` when a whole split is encoded: bounds the memory of the transform."""


def encode_all(rep: Representation, clips: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Every clip encoded, in batches, as one tensor on ``device``."""
    out = [rep.encode(torch.as_tensor(np.asarray(chunk) if isinstance(chunk, np.ndarray) else chunk).to(device))
           for chunk in (clips[i : i + ENCODE_BATCH] for i in range(0, len(clips), ENCODE_BATCH))]
    return torch.cat(out)


def crop_offsets(lengths: int, crop: int, count: int, seed: int, step: int, device: torch.device) -> torch.Tensor:
    """``count`` window starts in ``[0, lengths - crop]`` for ``step``: the same draw whenever it is made."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step + 1)
    return torch.randint(0, lengths - crop + 1, (count,), generator=generator).to(device)


def windows(audio: torch.Tensor, starts: torch.Tensor, crop: int) -> torch.Tensor:
    """``audio[i, starts[i] : starts[i] + crop]`` for every row, in one gather on the device."""
    index = starts.unsqueeze(1) + torch.arange(crop, device=audio.device)
    return torch.gather(audio, 1, index)


class TrainingSet:
    """Clips ``[N, T]`` on ``device``; :meth:`batch` gives a :class:`Batch` of whole clips or of random crops."""

    def __init__(self, rep: Representation, clips: np.ndarray, device: torch.device, crop: int = 0,
                 seed: int = 0) -> None:
        self.rep, self.crop, self.seed = rep, crop, seed
        self.audio = torch.as_tensor(np.asarray(clips), dtype=torch.float32).to(device)
        self.x = None if crop else encode_all(rep, self.audio, device)

    def __len__(self) -> int:
        return self.audio.shape[0]

    def batch(self, index: torch.Tensor, step: int) -> Batch:
        """The clips ``index`` for training step ``step + 1`` (their crops, when cropping)."""
        audio = self.audio[index.to(self.audio.device)]
        if not self.crop:
            return Batch(self.x[index.to(self.x.device)], audio, self.rep)
        starts = crop_offsets(audio.shape[1], self.crop, len(audio), self.seed, step, audio.device)
        audio = windows(audio, starts, self.crop)
        return Batch(self.rep.encode(audio), audio, self.rep)


def held_out_batches(rep: Representation, clips: np.ndarray, device: torch.device, batch_size: int,
                     crop: int = 0) -> list[Batch]:
    """The held-out clips (with ``crop``: every whole window of each, in order) encoded once, in batches."""
    audio = torch.as_tensor(np.asarray(clips), dtype=torch.float32).to(device)
    if crop:
        audio = audio.unfold(1, crop, crop).reshape(-1, crop)
    x = encode_all(rep, audio, device)
    return [Batch(x[i : i + batch_size], audio[i : i + batch_size], rep) for i in range(0, len(audio), batch_size)]
