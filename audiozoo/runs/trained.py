"""A trained run as an artifact: its settings, model (the EMA weights when the run kept them) and
representation, ready to sample and reconstruct. Loading one needs no trainer: export, the report,
the ``latent`` representation and the CLI load runs through here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from audiozoo.data.prepare import PreparedData, prepare
from audiozoo.errors import AudiozooError
from audiozoo.factory import plugin_class
from audiozoo.model import GenerativeModel, SampleOptions, noise
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

    @property
    def default_seconds(self) -> float | None:
        """The length ``generate`` makes when none is asked for: the data's clip (one prepared segment,
        what the bench judges) for a model that samples any length, though it trained on shorter crops;
        None (the model's own size) for a model of one size."""
        if not self.model.any_length:
            return None
        return self.settings.segment_samples / self.representation.sample_rate

    def sample_options(self, **options: Any) -> SampleOptions:
        """The run's ``[sample]`` settings with ``options`` over them, checked against the model's ``SampleOptions``."""
        return sample_options(self.model.name, {**asdict(self.settings.sample), **options})

    @property
    def shortest_seconds(self) -> float:
        """The shortest clip worth asking for: one frame of the model's tensors (one hop of the
        representation; a latent frame of an autoencoder, several hops)."""
        rep = self.representation
        frames = getattr(self.model, "latent_hop", 1) if self.model.has_latent_space() else 1
        return max(1, rep.num_samples(frames + 1) - rep.num_samples(1)) / rep.sample_rate

    def length(self, seconds: float | None) -> tuple[int | None, int]:
        """``(frames, samples)`` of a clip ``seconds`` long (None: the model's own size, frames None)."""
        if seconds is None:
            return None, self.segment_samples
        samples = round(seconds * self.representation.sample_rate)
        frames = self.representation.frames(samples)
        if frames != self.model.shape[1] and not self.model.any_length:
            raise AudiozooError(f"model {self.model.name!r} makes clips of one size ({self.model.shape[1]} frames, "
                                f"{self.segment_samples / self.representation.sample_rate:g} s): it cannot make "
                                f"{seconds:g} s; leave seconds= out")
        if seconds < self.shortest_seconds:
            raise AudiozooError(f"seconds={seconds:g} is shorter than one frame of {self.model.name} on "
                                f"{self.representation.name}: the shortest clip is {self.shortest_seconds:.3g} s")
        return frames, samples

    def stopped_early(self) -> str | None:
        """How far a run got when it stopped before its budget was spent (killed, interrupted); None
        when it trained to its end."""
        budget, done = self.settings.run, self.progress
        if done.epoch >= budget.epochs or (budget.max_seconds and done.seconds >= budget.max_seconds):
            return None
        goal = f"{budget.max_seconds:g} s budget" if budget.max_seconds else f"{budget.epochs} epochs"
        return f"it stopped at step {done.step} ({done.seconds:.0f} s trained) of its {goal}"

    def sample(self, n: int = 8, seed: int = 0, seconds: float | None = None, **options: Any) -> torch.Tensor:
        """``n`` new clips ``[n, T]`` at the run's sample rate; ``seconds=`` another length (a fully
        convolutional model), ``options`` the model's sampling options (``steps=8``, ``temperature=0.8``…)."""
        return torch.cat(list(self.clips(n, seed, seconds, **options)))

    @torch.inference_mode()
    def clips(self, n: int, seed: int = 0, seconds: float | None = None, batch: int | None = None,
              **options: Any) -> Iterator[torch.Tensor]:
        """:meth:`sample`'s clips in batches of ``batch`` (all at once when None), each ``[b, T]`` on the CPU.

        A model that says its noise (every built-in) draws each clip's noise in turn from ``seed``, so
        clip ``i`` is the same whatever ``n`` and the batch; one that draws in ``sample()`` itself
        draws each batch from the same generator, one after another.
        """
        chosen = self.sample_options(**options)
        frames, samples = self.length(seconds)
        device = next(self.model.parameters()).device
        generator = torch.Generator(device=device).manual_seed(seed)
        batch = batch or n
        for start in range(0, n, batch):
            x = self.draw(min(batch, n - start), generator, frames, chosen)
            yield self.representation.decode(x, length=samples).cpu()

    def draw(self, n: int, generator: torch.Generator, frames: int | None, options: SampleOptions) -> torch.Tensor:
        """``n`` of the model's tensors ``[n, C, frames]``, each clip's noise drawn in turn (see :meth:`clips`)."""
        model = self.model.eval()
        if not model.exportable:
            return model.sample(n, generator, frames, options)
        frames = frames or model.shape[1]
        device = next(model.parameters()).device
        shapes = model.noise_shapes(1, frames)
        clips = [{name: noise(shape, device, generator) for name, shape in shapes.items()} for _ in range(n)]
        return model.generate_from_noise({name: torch.cat([c[name] for c in clips]) for name in shapes}, frames, options)

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
