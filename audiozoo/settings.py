"""A run's settings: one typed, frozen object, resolved once and passed down.

:class:`RunSettings` holds the run's own settings (:class:`TrainConfig`: budget, seed, device,
where files go) and each plugin's ``Config`` (model, representation, dataset) and the model's
sampling options, already checked; what follows from them (the clip length a model is built
for) is a property, computed from them alone. :mod:`audiozoo.resolve` builds it from presets,
config files and ``key=value`` overrides; config.toml holds its :meth:`RunSettings.tables`.
This module imports neither torch nor a plugin, so ``audiozoo list --settings`` stays fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from audiozoo.errors import AudiozooError
from audiozoo.factory import representation_label

if TYPE_CHECKING:
    import torch

    from audiozoo.data.source import DataConfig
    from audiozoo.model import ModelConfig, SampleOptions
    from audiozoo.representation import RepresentationConfig

PLUGIN_KEYS = ("model", "repr", "data")
"""The [run] table's names of the run's plugins (``model = "flow"``), each with a table of its settings."""
TABLES = (*PLUGIN_KEYS, "sample")
"""The namespaces of a run's keys besides its own: each plugin's settings and the model's sampling options."""


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


@dataclass(frozen=True)
class RunSettings:
    """Every setting of one run, checked: built by :func:`audiozoo.resolve.resolve` (or read back from
    a run's config.toml by :func:`audiozoo.resolve.settings_from_tables`), then only read."""

    model_name: str
    repr_name: str
    data_name: str
    run: TrainConfig
    model: ModelConfig
    repr: RepresentationConfig
    data: DataConfig
    sample: SampleOptions

    @property
    def names(self) -> dict[str, str]:
        return {"model": self.model_name, "repr": self.repr_name, "data": self.data_name}

    @property
    def segment_samples(self) -> int:
        """Samples of one prepared segment (``data.clip_seconds / data.segments``)."""
        return self.data.segment_samples

    @property
    def clip_samples(self) -> int:
        """Samples of the clips the model is built for: a crop's (``crop_seconds``), or a whole segment's."""
        crop = self.run.crop_seconds
        return round(crop * self.data.sample_rate) if crop else self.segment_samples

    @property
    def sample_rate(self) -> int:
        return self.data.sample_rate

    @property
    def repr_label(self) -> str:
        """How tables name the representation (``latent:vae_convpool-waveform``: two latent spaces, two columns)."""
        return representation_label(self.repr_name, dataclasses.asdict(self.repr))

    def tables(self) -> dict[str, dict[str, Any]]:
        """The tables of config.toml: ``[run]`` (the plugins' names and the run's own settings),
        ``[model]``, ``[repr]``, ``[data]``, ``[sample]``."""
        return {"run": {**self.names, **dataclasses.asdict(self.run)}, "model": dataclasses.asdict(self.model),
                "repr": dataclasses.asdict(self.repr), "data": dataclasses.asdict(self.data),
                "sample": dataclasses.asdict(self.sample)}

    def overrides(self) -> dict[str, Any]:
        """Every setting as ``key=value`` overrides (to start a run like this one)."""
        return tables_as_overrides(self.tables())

    def with_run(self, **changes: Any) -> RunSettings:
        """These settings with some of the run's own changed (``max_seconds=60``), checked again."""
        return dataclasses.replace(self, run=dataclasses.replace(self.run, **changes))


def tables_as_overrides(tables: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """config.toml's tables (a run's, or a shared file's: only the keys it holds) as ``key=value`` overrides.

    ``runs_dir`` is left out: a shared file says what to train, not where this user's files go.
    """
    flat = {k: v for k, v in tables["run"].items() if k != "runs_dir"}
    for table in TABLES:
        flat.update({f"{table}.{k}": v for k, v in tables.get(table, {}).items()})
    return flat


def pick_device(choice: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; asking for CUDA without one is a user error."""
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise AudiozooError("device=cuda, but torch sees no CUDA device; use device=auto or device=cpu")
    return torch.device("cuda" if choice != "cpu" and torch.cuda.is_available() else "cpu")
