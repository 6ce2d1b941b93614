"""A trained autoencoder's latent space as a representation: ``repr=latent repr.run=RUN_DIR``.

Audio is encoded by the run's own representation, then by its autoencoder's encoder (the
posterior's mean), and decoded back through its decoder and representation. Any model then
trains on those latents with no code of its own (a learned prior, a latent flow model: the
design of RAVE and stable-audio-tools' pretransforms). The autoencoder's weights are a frozen
part of this representation, so they are saved in every checkpoint that uses it: training the
first run further never changes a second run's latent space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from audiozoo import AudiozooError, Representation, RepresentationConfig, hookimpl, load_run


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
        trained = load_run(config.run, device="cpu")
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


@hookimpl
def register_representations(register):
    register(Latent)
