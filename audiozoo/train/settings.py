"""The settings of a run that belong to no plugin: budget, seed, device, where files go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from audiozoo.errors import AudiozooError


@dataclass
class TrainConfig:
    """Top-level ``key=value`` settings of ``audiozoo run``."""

    epochs: int = 10  # passes over the training split (with max_seconds: a cap)
    batch_size: int = 16  # clips per step, over all processes
    seed: int = 0  # model initialisation, batch order, sampling
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when present
    max_seconds: float = 0.0  # wall-clock budget for training; 0: none (epochs decide)
    checkpoint_every: int = 200  # steps between checkpoints (one is also written at the first step and at the end)
    checkpoint_seconds: float = 60.0  # at most this long between checkpoints: what a kill -9 can lose; 0: by steps only
    log_every: int = 1  # steps between lines of metrics.jsonl
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # autocast of the training step (CPU and CUDA); fp16 adds a grad scaler
    grad_clip: float = 0.0  # largest gradient norm of each optimizer's parameters; 0: no clipping
    schedule: Literal["constant", "cosine"] = "constant"  # learning rate after the warm-up: constant, or a cosine decay to 0
    warmup_steps: int = 0  # the learning rate rises linearly from 0 over this many steps
    schedule_steps: int = 0  # steps the cosine decays over; 0: every step of epochs
    ema: float = 0.0  # decay of an EMA of the weights, used to sample and evaluate (0.999, say); 0: none
    crop_seconds: float = 0.0  # train on random windows this long, a new draw each step; 0: whole segments
    valid_every: int = 0  # steps between losses on the held-out split (valid_*, also at the end); 0: none
    samples: int = 8  # generated clips written at the end
    reconstructions: int = 4  # test clips reconstructed at the end (autoencoders)
    init: str = ""  # a trained run directory to start from (fine-tuning: its model, representation and EMA weights); "": new weights
    init_stats: Literal["refit", "keep"] = "refit"  # with init: fit the representation statistics on this data (inputs at the unit scale the weights learned on), or keep the run's (like audio, few files)
    runs_dir: str = "runs"  # where run directories go (a config file never changes it)
    name: str = ""  # run directory name (a plain folder name under runs_dir); default: time-model-repr

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "checkpoint_every", "log_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be at least 1, got {getattr(self, key)}")
        for key in ("max_seconds", "checkpoint_seconds", "samples", "reconstructions", "grad_clip", "warmup_steps",
                    "schedule_steps", "valid_every", "crop_seconds"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must not be negative, got {getattr(self, key)}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")
        if self.name in (".", "..") or "/" in self.name or "\\" in self.name:
            raise ValueError(f"name must be a plain folder name (no / or \\, not . or ..), got {self.name!r}")


def pick_device(choice: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; asking for CUDA without one is a user error."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise AudiozooError("device=cuda, but torch sees no CUDA device; use device=auto or device=cpu")
    return torch.device("cuda" if choice != "cpu" and torch.cuda.is_available() else "cpu")
