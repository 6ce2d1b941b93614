"""A trained run as the API holds it: its model (the EMA weights when the run kept them) and representation,
ready to sample and reconstruct."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from audiozoo import api
from audiozoo.errors import AudiozooError
from audiozoo.model import GenerativeModel, SampleOptions
from audiozoo.representation import Representation
from audiozoo.train.ema import EMA
from audiozoo.train.resolve import clip_samples, sample_options, train_config_of
from audiozoo.train.rundir import RunDir, checkpoint_state
from audiozoo.train.settings import pick_device
from audiozoo.train.trainer import Progress


@dataclass
class Run:
    """A run directory and what was built from it: the API's handle on a trained model."""

    path: Path
    settings: dict[str, dict[str, Any]]
    model: GenerativeModel
    representation: Representation
    progress: Progress
    files: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def dir(self) -> RunDir:
        return RunDir(self.path)

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return self.dir.read_metrics()

    @property
    def segment_samples(self) -> int:
        """Samples of the clips the model was built for (a crop's, when the run trained on crops)."""
        return clip_samples(self.settings)

    def sample_options(self, **options: Any) -> SampleOptions:
        """The run's ``[sample]`` settings with ``options`` over them, checked against the model's ``SampleOptions``."""
        return sample_options(type(self.model), {**self.settings.get("sample", {}), **options})

    def length(self, seconds: float | None) -> tuple[int | None, int]:
        """``(frames, samples)`` of a clip ``seconds`` long (None: the model's own size, frames None)."""
        if seconds is None:
            return None, self.segment_samples
        samples = round(seconds * self.representation.sample_rate)
        frames = self.representation.frames(samples)
        if samples < 1 or frames < 1:
            raise AudiozooError(f"seconds={seconds:g} is too short to make a clip")
        if frames != self.model.shape[1] and not self.model.any_length:
            raise AudiozooError(f"model {self.model.name!r} makes clips of one size ({self.model.shape[1]} frames, "
                                f"{self.segment_samples / self.representation.sample_rate:g} s): it cannot make "
                                f"{seconds:g} s; leave seconds= out")
        return frames, samples

    @torch.inference_mode()
    def sample(self, n: int = 8, seed: int = 0, seconds: float | None = None, **options: Any) -> torch.Tensor:
        """``n`` new clips ``[n, T]`` at the run's sample rate; ``seconds=`` another length (a fully
        convolutional model), ``options`` the model's sampling options (``steps=8``, ``temperature=0.8``…)."""
        chosen = self.sample_options(**options)
        frames, samples = self.length(seconds)
        device = next(self.model.parameters()).device
        self.model.eval()
        x = self.model.sample(n, torch.Generator(device=device).manual_seed(seed), frames, chosen)
        return self.representation.decode(x, length=samples).cpu()

    @torch.inference_mode()
    def reconstruct(self, wave: torch.Tensor) -> torch.Tensor:
        """Clips ``[B, T]`` through the autoencoder and back."""
        if not self.model.can_reconstruct:
            raise AudiozooError(f"model {self.model.name!r} is not an autoencoder: it cannot reconstruct audio")
        self.model.eval()
        x = self.representation.encode(wave.to(torch.float32))
        return self.representation.decode(self.model.reconstruct(x), length=wave.shape[1]).cpu()


def build_model(settings: dict[str, dict[str, Any]]) -> tuple[Representation, GenerativeModel]:
    """The representation and the (untrained) model a run's settings describe."""
    names = settings["run"]
    rep = api.get_representation(names["repr"], **settings["repr"])
    torch.manual_seed(train_config_of(settings).seed)  # the model's initial weights
    return rep, api.get_model(names["model"], rep.shape(clip_samples(settings)), **settings["model"])


def load_run(path: str | Path, device: str = "auto") -> Run:
    """A trained run, ready to ``sample(n)`` and (autoencoders) ``reconstruct(wave)``."""
    run_dir = RunDir(Path(path))
    settings = run_dir.read_settings()
    rep, model = build_model(settings)
    config, progress = train_config_of(settings), Progress()
    ema = EMA(model, config.ema) if config.ema else None
    checkpoint_state(model, rep, progress, ema).load_state_dict(run_dir.load_checkpoint())
    if ema is not None:
        ema.copy_to(model)  # what sample, reconstruct, generate and the bench use
    target = pick_device(device)
    return Run(run_dir.path, settings, model.to(target), rep.to(target), progress)
