"""The GenerativeModel interface: a network built from a representation's ``(C, F)`` shape."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.distributed as dist


@dataclass
class ModelConfig:
    """Settings every model has; plugins subclass this dataclass to add their own."""


class GenerativeModel(torch.nn.Module, ABC):
    """A model over tensors ``[B, C, F]`` in a representation's space.

    It never sees audio: the representation encodes before and decodes after, which is what
    lets every model train on every representation. Nothing about ``C`` or ``F`` is fixed in
    advance; a model that needs a fixed size derives it from ``shape``.

    Training is the model's own business (a GAN alternates two optimizers, a VAE has one), so
    the trainer only calls :meth:`training_step`; the model updates through :meth:`optimize`,
    which is where gradients are averaged across processes in distributed training.
    """

    name: ClassVar[str]
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    can_reconstruct: ClassVar[bool] = False
    """True for autoencoders: ``reconstruct`` maps inputs back through the latent space."""

    def __init__(self, shape: tuple[int, int], config: ModelConfig | None = None) -> None:
        super().__init__()
        self.shape = (int(shape[0]), int(shape[1]))
        self.config = config if config is not None else self.Config()

    @abstractmethod
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimizers over this model's parameters; checkpoints save and restore them by name."""

    @abstractmethod
    def training_step(self, x: torch.Tensor, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, torch.Tensor]:
        """One update on a batch ``[B, C, F]`` through :meth:`optimize`; returns the losses, detached.

        The dict must hold ``"loss"``: the figure that falls as the model fits its data
        (the total loss of an autoencoder, the discriminator loss of a GAN).
        """

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` new tensors ``[n, C, F]``."""

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, F]`` through the model and back (autoencoders only)."""
        raise NotImplementedError(f"{self.name} is not an autoencoder and cannot reconstruct")

    def evaluation_losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Losses on held-out data without updating anything; empty where that has no meaning."""
        return {}

    @staticmethod
    def optimize(loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """zero_grad, backward, average gradients across processes (when distributed), step."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            world = dist.get_world_size()
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        dist.all_reduce(p.grad)
                        p.grad.div_(world)
        optimizer.step()
