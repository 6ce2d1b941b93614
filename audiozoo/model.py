"""The GenerativeModel interface: what a model computes (losses, samples), never how its parameters move.

The trainer (:mod:`audiozoo.train.update`) owns everything between a loss and a parameter
update — backward, mixed precision, the all-reduce of gradients across processes, clipping,
the learning-rate schedule and the EMA of the weights — so a model states its losses and every
model gets all of it alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Protocol

import torch

from audiozoo.representation import Representation


def noise(shape: tuple[int, ...], device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise on ``device``, drawn from ``generator`` (on its own device) when given."""
    if generator is None:
        return torch.randn(shape, device=device)
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


@dataclass
class ModelConfig:
    """Settings every model has; plugins subclass this dataclass to add their own."""


@dataclass
class SampleOptions:
    """Options of :meth:`GenerativeModel.sample` (none here); a model subclasses it for its own
    (number of steps, solver, temperature…), set as ``sample.KEY=VALUE``."""


@dataclass
class Batch:
    """One step's data: the encoded tensor, the audio it was encoded from, and the representation
    (to decode, e.g. for a loss on audio). ``x`` is ``representation.encode(audio)``."""

    x: torch.Tensor  # [B, C, F]
    audio: torch.Tensor  # [B, T], at representation.sample_rate
    representation: Representation

    def __len__(self) -> int:
        return self.x.shape[0]


class Update(Protocol):
    """The trainer's update, handed to :meth:`GenerativeModel.training_step` (Lightning's ``manual_backward``
    and ``optimizer.step`` in one): backward of ``loss``, then a step of the optimizer named ``optimizer``."""

    def __call__(self, loss: torch.Tensor, optimizer: str) -> None: ...


class GenerativeModel(torch.nn.Module, ABC):
    """A model over tensors ``[B, C, F]`` in a representation's space.

    It is built from the representation's shape ``(C, F)``; the representation encodes before and
    decodes after, which is what lets every model train on every representation. A model writes
    its losses (:meth:`training_step`) and how it samples (:meth:`noise_shapes` and
    :meth:`generate_from_noise`, or :meth:`sample` itself); the trainer updates the parameters. A
    model with one optimizer returns ``{"loss": ...}`` and the trainer backpropagates it. A model that alternates optimizers (a GAN) sets ``manual_optimization``
    and calls ``update(loss, "name")`` for each, in its own order.
    """

    name: ClassVar[str]
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    SampleOptions: ClassVar[type[SampleOptions]] = SampleOptions
    can_reconstruct: ClassVar[bool] = False
    """True for autoencoders: ``reconstruct`` maps inputs back through the latent space."""
    any_length: ClassVar[bool] = False
    """True when :meth:`sample` makes any number of frames (a fully convolutional model)."""
    manual_optimization: ClassVar[bool] = False
    """True when :meth:`training_step` calls ``update`` itself (several optimizers)."""

    def __init__(self, shape: tuple[int, int], config: ModelConfig | None = None) -> None:
        super().__init__()
        self.shape = (int(shape[0]), int(shape[1]))
        self.config = config if config is not None else self.Config()

    @abstractmethod
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimizers over this model's parameters; checkpoints save and restore them by name."""

    @abstractmethod
    def training_step(self, batch: Batch, update: Update) -> dict[str, torch.Tensor]:
        """The losses of one step on ``batch``; ``"loss"`` is required: the figure that falls as the
        model fits its data (the total loss of an autoencoder, the discriminator loss of a GAN).

        Unless ``manual_optimization``, the trainer backpropagates ``"loss"`` and steps the one
        optimizer; otherwise the model calls ``update(loss, name)`` for each optimizer itself.
        """

    # Sampling is two steps: draw standard normal noise (the only randomness), then map it to tensors
    # deterministically. A model that says both (every built-in) gets ``sample`` for free and can be
    # exported (``audiozoo export``): the second step is what an exported file computes.

    def noise_shapes(self, n: int, frames: int) -> dict[str, tuple[int, ...]]:
        """The standard normal inputs :meth:`generate_from_noise` takes for ``n`` tensors of ``frames``
        frames, by name, in the order :meth:`sample` draws them."""
        raise NotImplementedError(f"model {self.name!r} does not say what noise it samples from")

    def generate_from_noise(self, noise: dict[str, torch.Tensor], frames: int, options: SampleOptions) -> torch.Tensor:
        """The tensors ``[n, C, frames]`` that ``noise`` (shaped as :meth:`noise_shapes` says) maps to under
        ``options``: deterministic, in plain tensor operations (so it can be traced), no drawing of its own."""
        raise NotImplementedError(f"model {self.name!r} does not say what noise it samples from")

    @property
    def exportable(self) -> bool:
        """Whether sampling is split into noise and :meth:`generate_from_noise` (what export needs)."""
        return type(self).generate_from_noise is not GenerativeModel.generate_from_noise

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, frames: int | None = None,
               options: SampleOptions | None = None) -> torch.Tensor:
        """``n`` new tensors ``[n, C, frames]`` (``frames`` is ``F`` when None; other lengths only
        where ``any_length``), drawn from ``generator``, with ``options`` (the model's ``SampleOptions``).

        By default: each of :meth:`noise_shapes` drawn in turn, then :meth:`generate_from_noise`. A model
        that draws otherwise overrides this (and cannot be exported).
        """
        frames = frames or self.shape[1]
        device = next(self.parameters()).device
        drawn = {name: noise(shape, device, generator) for name, shape in self.noise_shapes(n, frames).items()}
        return self.generate_from_noise(drawn, frames, options or self.SampleOptions())

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, F]`` through the model and back (autoencoders only)."""
        raise NotImplementedError(f"{self.name} is not an autoencoder and cannot reconstruct")

    # An autoencoder whose latent space may serve as a representation (repr=latent repr.run=RUN_DIR)
    # sets ``latent_channels`` and ``latent_hop`` (input frames per latent frame) and implements these two.

    @classmethod
    def has_latent_space(cls) -> bool:
        """Whether this model implements the latent pair below, so a run of it can be ``repr=latent``."""
        return cls.can_reconstruct and cls.encode_latent is not GenerativeModel.encode_latent

    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, frames]`` → its latent ``[B, latent_channels, ceil(frames / latent_hop)]`` (a posterior's mean)."""
        raise NotImplementedError(f"{self.name} has no latent space to encode into")

    def decode_latent(self, z: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        """A latent ``[B, latent_channels, L]`` → ``[B, C, frames]`` (``F`` when not given)."""
        raise NotImplementedError(f"{self.name} has no latent space to decode from")

    def evaluation_losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Losses on held-out data without updating anything; empty where that has no meaning."""
        return {}
