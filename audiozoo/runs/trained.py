"""A trained run as an artifact: its settings, model (the EMA weights when the run kept them) and
representation, ready to sample and reconstruct. Loading one needs no trainer: export, the report,
the ``latent`` representation and the CLI load runs through here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from audiozoo.data.prepare import PreparedData, prepare
from audiozoo.errors import AudiozooError
from audiozoo.factory import plugin_class
from audiozoo.model import GenerativeModel, SampleOptions
from audiozoo.representation import Representation
from audiozoo.resolve import sample_options
from audiozoo.runs.progress import Progress
from audiozoo.runs.rundir import RunDir, sampling_weights
from audiozoo.settings import RunSettings, pick_device


@dataclass
class Run:
    """A run directory and what was built from it: the API's handle on a trained model."""

    path: Path
    settings: RunSettings
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
        return self.settings.clip_samples

    def sample_options(self, **options: Any) -> SampleOptions:
        """The run's ``[sample]`` settings with ``options`` over them, checked against the model's ``SampleOptions``."""
        return sample_options(self.model.name, {**asdict(self.settings.sample), **options})

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


def build_model(settings: RunSettings) -> tuple[Representation, GenerativeModel]:
    """The representation and the (untrained) model a run's settings describe."""
    rep = plugin_class("representations", settings.repr_name)(settings.repr)
    torch.manual_seed(settings.run.seed)  # the model's initial weights
    return rep, plugin_class("models", settings.model_name)(rep.shape(settings.clip_samples), settings.model)


def prepare_data(settings: RunSettings, progress: bool = False) -> PreparedData:
    """The run's data set, prepared as its settings say (from the cache when it was prepared before)."""
    return prepare(plugin_class("datasets", settings.data_name)(settings.data), progress=progress)


def load_run(path: str | Path, device: str = "auto") -> Run:
    """A trained run, ready to ``sample(n)`` and (autoencoders) ``reconstruct(wave)``, with the weights
    it samples with: the EMA weights where the run kept them."""
    run_dir = RunDir(Path(path))
    settings = run_dir.read_settings()
    rep, model = build_model(settings)
    state, progress = run_dir.load_checkpoint(), Progress()
    model.load_state_dict(sampling_weights(state))
    rep.load_state_dict(state["representation"])
    progress.load_state_dict(state["progress"])
    target = pick_device(device)
    return Run(run_dir.path, settings, model.to(target), rep.to(target), progress)
