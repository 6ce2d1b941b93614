"""A trained autoencoder's latent space as a representation: ``repr=latent repr.run=RUN_DIR``.

Audio is encoded by the run's own representation, then by its autoencoder's encoder (the
posterior's mean), and decoded back through its decoder and representation. Any model then
trains on those latents with no code of its own (a learned prior, a latent flow model: the
design of RAVE and stable-audio-tools' pretransforms). The autoencoder's weights are a frozen
part of this representation, so they are saved in every checkpoint that uses it: training the
first run further never changes a second run's latent space.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from audiozoo import (
    AudiozooError,
    Representation,
    RepresentationConfig,
    hookimpl,
    load_run,
)
from audiozoo.runs.rundir import RunDir
from audiozoo.runs.trained import Run

logger = logging.getLogger(__name__)


@dataclass
class LatentConfig(RepresentationConfig):
    run: str = ""  # an autoencoder's run directory (audiozoo run model=vae_convpool ...): its latent space


class Latent(Representation):
    """An autoencoder run's latent space (repr.run=RUN_DIR): its encoder's mean, decoded by its decoder."""

    name = "latent"
    Config = LatentConfig
    exact = False
    required = ("run",)
    config: LatentConfig

    def __init__(self, config: LatentConfig | None = None) -> None:
        config = config if config is not None else self.Config()
        if not config.run:
            raise AudiozooError("repr=latent needs repr.run=RUN_DIR: the run of a trained autoencoder")
        trained = _autoencoder_run(config.run)
        model = trained.model
        if not model.has_latent_space():
            raise AudiozooError(f"repr.run={config.run}: model {model.name!r} has no latent space "
                                "(train an autoencoder, vae_convpool say)")
        if trained.representation.sample_rate != config.sample_rate:
            raise AudiozooError(f"repr.run={config.run} was trained at {trained.representation.sample_rate} Hz; "
                                f"set data.sample_rate={trained.representation.sample_rate}")
        self._channels, self.hop = model.latent_channels, model.latent_hop  # read by the base class's __init__
        super().__init__(config)
        self.inner = trained.representation
        self.autoencoder = model.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> Latent:
        super().train(mode)
        self.autoencoder.eval()  # a representation: never dropout or batch statistics
        return self

    @property
    def channels(self) -> int:
        return self._channels

    def frames(self, num_samples: int) -> int:
        return math.ceil(self.inner.frames(num_samples) / self.hop)

    def num_samples(self, frames: int) -> int:
        return self.inner.num_samples(frames * self.hop)

    def analyze(self, wave: torch.Tensor) -> torch.Tensor:
        return self.autoencoder.encode_latent(self.inner.encode(wave))

    def synthesize(self, features: torch.Tensor, length: int) -> torch.Tensor:
        return self.inner.decode(self.autoencoder.decode_latent(features, self.inner.frames(length)), length)


_told: set[str] = set()
"""The runs a warning was given for in this process (a run's settings build its representation more than once)."""


def _autoencoder_run(path: str) -> Run:
    """The run ``repr.run`` names, refused in one line when it has no checkpoint to load; a warning says
    how far it got where it stopped before its budget was spent (its latent space half-trained)."""
    run_dir = RunDir(Path(path).expanduser())
    if run_dir.is_run and not run_dir.has_checkpoint:
        raise AudiozooError(f"repr.run={path} has no checkpoint: it stopped before its first one; "
                            f"train it first (audiozoo run resume={path})")
    trained = load_run(path, device="cpu")
    stopped = trained.stopped_early()
    if stopped and path not in _told:
        _told.add(path)
        logger.warning(f"repr.run={path}: {stopped}, so its latent space may be far from trained "
                       f"(audiozoo run resume={path} finishes it)")
    return trained


@hookimpl
def register_representations(register):
    register(Latent)
